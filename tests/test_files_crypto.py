"""AES encryption of the files (spec 3.5): round trips, known answers, bad keys, built files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kea_fanvil import parse_policy
from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil.config_formats import read_version
from kea_fanvil.fanvil.crypto import (
    BLOCK,
    EncryptionMode,
    Padding,
    decrypt,
    encrypt,
    parse_key,
    synthetic_iv,
)
from kea_fanvil.files.build import build

KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
KEY = bytes.fromhex(KEY_HEX)
MODES: tuple[EncryptionMode, ...] = ("aes-256-ecb", "aes-256-cbc")
PADDINGS: tuple[Padding, ...] = ("pkcs7", "zero")


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=600),
    key=st.binary(min_size=32, max_size=32),
    mode=st.sampled_from(MODES),
)
@example(data=b"", key=KEY, mode="aes-256-cbc")
@example(data=b"x" * BLOCK, key=KEY, mode="aes-256-ecb")
def test_pkcs7_round_trip_any_bytes(data: bytes, key: bytes, mode: EncryptionMode) -> None:
    sealed = encrypt(data, key, mode, "pkcs7")
    assert decrypt(sealed, key, mode, "pkcs7") == data
    iv = BLOCK if mode == "aes-256-cbc" else 0
    assert len(sealed) == iv + (len(data) // BLOCK + 1) * BLOCK  # PKCS#7 always adds a block
    assert encrypt(data, key, mode, "pkcs7") == sealed


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=400).map(lambda t: t.replace("\0", "")),
    mode=st.sampled_from(MODES),
)
def test_zero_padding_round_trip_of_text(text: str, mode: EncryptionMode) -> None:
    data = text.encode()  # configuration files never end in NUL, which zero padding needs
    sealed = encrypt(data, KEY, mode, "zero")
    assert len(sealed) % BLOCK == 0
    assert decrypt(sealed, KEY, mode, "zero") == data


def test_ecb_known_answer() -> None:
    # FIPS-197 appendix C.3: AES-256 of 00112233445566778899aabbccddeeff under key 00..1f.
    block = bytes.fromhex("00112233445566778899aabbccddeeff")
    sealed = encrypt(block, KEY, "aes-256-ecb", "zero")
    assert sealed.hex() == "8ea2b7ca516745bfeafc49904b496089"
    assert encrypt(block, KEY, "aes-256-ecb", "pkcs7")[:BLOCK] == sealed


def test_cbc_puts_the_iv_first_and_derives_it_from_key_and_content() -> None:
    data = b"<<VOIP CONFIG FILE>>Version:2.0003\n\n<<END OF FILE>>\n"
    sealed = encrypt(data, KEY, "aes-256-cbc", "pkcs7")
    assert sealed[:BLOCK] == synthetic_iv(KEY, data)
    assert synthetic_iv(KEY, data + b" ") != sealed[:BLOCK]
    other_key = bytes(range(1, 33))
    assert synthetic_iv(other_key, data) != sealed[:BLOCK]
    # The IV is the one prefixed: any standard CBC decryption with it reads the file.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(sealed[:BLOCK])).decryptor()
    plain = decryptor.update(sealed[BLOCK:]) + decryptor.finalize()
    assert plain[: len(data)] == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "is 3 characters; a key is 64 hexadecimal characters"),
        (KEY_HEX + "00", "is 66 characters"),
        (KEY_HEX[:-1] + "g", "character 64 is not a hexadecimal digit"),
        (" " + KEY_HEX[1:], "character 1 is not a hexadecimal digit"),
        ("", "is 0 characters"),
    ],
)
def test_bad_keys_are_refused_without_being_shown(text: str, message: str) -> None:
    with pytest.raises(FilesError) as caught:
        parse_key(text, "device key")
    assert str(caught.value).startswith(f"device key: {message}")
    if len(text) > 8:
        assert text.strip() not in str(caught.value)


def test_keys_of_any_case_are_the_same_key() -> None:
    assert parse_key(KEY_HEX.upper()) == parse_key(KEY_HEX) == KEY


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_wrong_key_or_mode_is_an_error_or_garbage(mode: EncryptionMode, padding: Padding) -> None:
    data = b"<<VOIP CONFIG FILE>>Version:2.0003\n\n<<END OF FILE>>\n"
    sealed = encrypt(data, KEY, mode, padding)
    wrong = bytes(32)
    try:
        plain = decrypt(sealed, wrong, mode, padding)
    except FilesError as exc:
        assert "not the one the file was encrypted with" in str(exc)
    else:
        assert read_version(plain) is None  # what `files decrypt` refuses to print


def test_ciphertext_of_the_wrong_length_is_named() -> None:
    with pytest.raises(FilesError, match="not a whole number of 16-byte AES blocks"):
        decrypt(b"x" * 17, KEY, "aes-256-ecb", "pkcs7")
    with pytest.raises(FilesError, match="too short for aes-256-cbc"):
        decrypt(b"x" * 16, KEY, "aes-256-cbc", "pkcs7")
    with pytest.raises(FilesError, match="32 bytes"):
        encrypt(b"x", KEY[:16], "aes-256-ecb", "pkcs7")


@pytest.mark.parametrize("mode", MODES)
def test_common_and_device_files_use_their_own_key(mode: EncryptionMode, tmp_path: Path) -> None:
    common, device = "ab" * 32, "CD" * 32
    policy = parse_policy(
        'version: 1\nprovisioning:\n  url: "http://198.18.0.1/$mac.cfg"\n'
        f"files:\n  encryption: {{mode: {mode}, common_key: '{common}', device_key: '{device}'}}\n"
        "devices:\n  - {mac: 0c383e113af8, model: C62, boot_file: desk.cfg}\n"
    )
    report = build(policy, tmp_path)
    assert [(f.name, f.encrypted_with) for f in report.files] == [
        ("f0C006200000.cfg", "common"),
        ("0c383e113af8.cfg", "device"),
        ("desk.cfg", "device"),
    ]
    for name, key in (("f0C006200000.cfg", common), ("desk.cfg", device)):
        data = (tmp_path / name).read_bytes()
        assert read_version(data) is None  # not readable as it is
        plain = decrypt(data, bytes.fromhex(key), mode, "pkcs7")
        assert read_version(plain) == ("cfg", "2.0003")


def test_only_the_files_with_a_key_are_encrypted(tmp_path: Path) -> None:
    policy = parse_policy(
        'version: 1\nprovisioning:\n  url: "http://198.18.0.1/$mac.cfg"\n'
        f"files:\n  encryption: {{device_key: '{KEY_HEX}'}}\n"
        "devices:\n  - {mac: 0c383e113af8, model: C62}\n"
    )
    report = build(policy, tmp_path)
    assert [f.encrypted_with for f in report.files] == [None, "device"]
    assert read_version((tmp_path / "f0C006200000.cfg").read_bytes()) == ("cfg", "2.0003")
