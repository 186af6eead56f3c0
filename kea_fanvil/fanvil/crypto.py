"""AES encryption of provisioning files (spec 3.5), with the mode and padding as settings.

What is known: the phone holds two keys, the "Common AES Key" for the Common file and the
"Config Encrypt Key" for the MAC-oriented one, each "64 characters" of 0-9, A-F, a-f (spec
3.5): 32 bytes written in hex, an AES-256 key. What is not: Fanvil's mode, padding and IV are
documented nowhere public (FIELD-NOTES "Encryption"), so they are settings, and **no mode here
has been verified against a phone**.

- ``aes-256-ecb`` (the default): every 16-byte block on its own, no IV. Chosen as the default
  because the phone's settings hold a key and nothing else, which is all ECB needs, and because
  other phone vendors' key-only schemes use ECB (Yealink: AES-128-ECB).
- ``aes-256-cbc``: the 16-byte IV, then the ciphertext. The IV is derived from the key and the
  plaintext (HMAC-SHA256, first 16 bytes), not drawn at random, so an unchanged file encrypts to
  the same bytes and a rebuild does not make phones download something new. Like ECB this shows
  when two files under one key are equal, and nothing more.

Padding: ``pkcs7`` (RFC 5652 section 6.3), or ``zero``: NUL bytes up to the block, removed on
decryption (a configuration file never ends in NUL).

Keys never appear in messages: errors say which key (common or device) and why, not its value.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Literal

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kea_fanvil.errors import FilesError
from kea_fanvil.yaml_types import read_as_number

__all__ = [
    "AES_KEY_HEX_DIGITS",
    "BLOCK",
    "DEFAULT_ENCRYPTION_MODE",
    "DEFAULT_PADDING",
    "EncryptionMode",
    "KeyKind",
    "Padding",
    "decrypt",
    "encrypt",
    "key_problem",
    "parse_key",
    "synthetic_iv",
]

BLOCK = 16  # AES block size, bytes
_IV_LABEL = b"kea-fanvil aes-256-cbc iv\0"

# spec 3.5: the Common AES Key decrypts the Common file, the Config Encrypt Key the others.
KeyKind = Literal["common", "device"]
EncryptionMode = Literal["aes-256-ecb", "aes-256-cbc"]
Padding = Literal["pkcs7", "zero"]
# Not verified against a phone: Fanvil does not publish its mode (see this module's docstring).
DEFAULT_ENCRYPTION_MODE: EncryptionMode = "aes-256-ecb"
DEFAULT_PADDING: Padding = "pkcs7"
AES_KEY_HEX_DIGITS = 64  # spec 3.5: "The keys must be 64 characters ... 0 - 9, A - F, a - f"
_HEX = frozenset("0123456789abcdefABCDEF")


def key_problem(value: Any) -> str | None:
    """Why ``value`` is not an AES key as spec 3.5 describes it, or None. Never quotes it."""
    problem = read_as_number(value, "key")
    if problem:
        return problem
    if not isinstance(value, str):
        return "a key is text: 64 hexadecimal characters (spec 3.5)"
    if len(value) != AES_KEY_HEX_DIGITS:
        return (
            f"is {len(value)} characters; a key is {AES_KEY_HEX_DIGITS} hexadecimal "
            "characters, 0-9 and a-f or A-F (spec 3.5)"
        )
    for position, char in enumerate(value, 1):
        if char not in _HEX:
            return (
                f"character {position} is not a hexadecimal digit; a key is "
                f"{AES_KEY_HEX_DIGITS} of 0-9 and a-f or A-F (spec 3.5)"
            )
    return None


def parse_key(text: str, what: str = "key") -> bytes:
    """The 32 bytes of a key written as 64 hex digits; FilesError says why not, never the key."""
    problem = key_problem(text)
    if problem:
        raise FilesError(f"{what}: {problem}")
    return bytes.fromhex(text)


def _check_key(key: bytes) -> None:
    if len(key) != 32:
        raise FilesError(f"an AES-256 key is 32 bytes, not {len(key)}")


def _pad(data: bytes, padding: Padding) -> bytes:
    if padding == "zero":
        # At least one block, even for no data: an empty ciphertext would not decrypt.
        return data + b"\0" * (-len(data) % BLOCK if data else BLOCK)
    padder = sym_padding.PKCS7(BLOCK * 8).padder()
    return padder.update(data) + padder.finalize()


def _unpad(data: bytes, padding: Padding) -> bytes:
    if padding == "zero":
        return data.rstrip(b"\0")
    unpadder = sym_padding.PKCS7(BLOCK * 8).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError:
        raise FilesError(
            "the PKCS#7 padding is wrong: the key, the mode or the padding is not the one the "
            "file was encrypted with"
        ) from None


def synthetic_iv(key: bytes, plaintext: bytes) -> bytes:
    """CBC's IV for ``plaintext``: a function of key and content, so rebuilds are identical."""
    return hmac.new(key, _IV_LABEL + plaintext, hashlib.sha256).digest()[:BLOCK]


def encrypt(plaintext: bytes, key: bytes, mode: EncryptionMode, padding: Padding) -> bytes:
    _check_key(key)
    padded = _pad(plaintext, padding)
    if mode == "aes-256-ecb":
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        return encryptor.update(padded) + encryptor.finalize()
    iv = synthetic_iv(key, plaintext)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def decrypt(data: bytes, key: bytes, mode: EncryptionMode, padding: Padding) -> bytes:
    """The plaintext of ``data``; FilesError when its length or padding cannot be right."""
    _check_key(key)
    if mode == "aes-256-cbc":
        if len(data) < 2 * BLOCK:
            raise FilesError(
                f"{len(data)} bytes is too short for {mode} (a 16-byte IV and one block at least)"
            )
        iv, data = data[:BLOCK], data[BLOCK:]
    if not data or len(data) % BLOCK:
        raise FilesError(
            f"{len(data)} bytes of ciphertext is not a whole number of 16-byte AES blocks: "
            "not encrypted this way, or cut short"
        )
    if mode == "aes-256-cbc":
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    else:
        decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return _unpad(decryptor.update(data) + decryptor.finalize(), padding)
