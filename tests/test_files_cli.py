"""`kea-fanvil files build` and `files decrypt`, through click's test runner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kea_fanvil.cli.app import main

COMMON_KEY = "1f" * 32
DEVICE_KEY = "2E" * 32
POLICY = f"""version: 1
provisioning:
  url: "http://198.18.0.1/fanvil/$mac.cfg"
files:
  encryption:
    mode: aes-256-cbc
    common_key: "{COMMON_KEY}"
    device_key: "{DEVICE_KEY}"
  common:
    auto_update:
      firmware: {{url: "http://198.18.0.1/fw.z", password: "fw-secret"}}
devices:
  - mac: "0c:38:3e:11:3a:f8"
    model: C62
    boot_file: desk-12.cfg
"""


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    os.chmod(path, 0o600)
    return path


def test_build_then_rebuild(policy: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "srv"
    code, out, err = _run("files", "build", str(policy), "--out", str(out_dir))
    assert code == 0, err
    assert "f0C006200000.cfg" in out and "desk-12.cfg" in out
    assert "3 new" in out and "aes-256-cbc" in out and "not verified against a phone" in out
    for text in (out, err):
        assert COMMON_KEY not in text and DEVICE_KEY.lower() not in text.lower()
        assert "fw-secret" not in text
    code, out, _ = _run("files", "build", str(policy), "--out", str(out_dir))
    assert code == 0 and "3 unchanged" in out


def test_build_json(policy: Path, tmp_path: Path) -> None:
    code, out, _ = _run("files", "build", str(policy), "--out", str(tmp_path / "o"), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["encryption"] == {
        "mode": "aes-256-cbc",
        "padding": "pkcs7",
        "common_files": True,
        "device_files": True,
    }
    assert [(f["name"], f["kind"], f["version"], f["state"]) for f in data["files"]] == [
        ("f0C006200000.cfg", "common", "2.0003", "new"),
        ("0c383e113af8.cfg", "mac", "2.0003", "new"),
        ("desk-12.cfg", "id", "2.0003", "new"),
    ]
    assert COMMON_KEY not in out


def test_build_dry_run_and_policy_errors(policy: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "o"
    code, out, _ = _run("files", "build", str(policy), "--out", str(out_dir), "--dry-run")
    assert code == 0 and out.splitlines()[-1].startswith(f"would write {out_dir}")
    assert not out_dir.exists()
    policy.write_text(POLICY.replace("model: C62", "model: X4U"))
    code, _, err = _run("files", "build", str(policy), "--out", str(out_dir))
    assert code == 1
    assert f"{policy}:14:12: devices[0].model: no known source names the Common file" in err


def test_build_checks_boot_files_even_without_file_settings(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        'version: 1\nprovisioning:\n  url: "http://x/$mac.cfg"\n'
        "devices:\n  - {mac: 0c383e000001, boot_file: pxe/a.cfg}\n"
    )
    assert _run("validate", str(path))[0] == 0  # a valid DHCP policy...
    code, _, err = _run("files", "build", str(path), "--out", str(tmp_path / "o"))
    assert code == 1  # ...whose boot file cannot name an ID-oriented file
    assert f"{path}:5:36: devices[0].boot_file: as the ID-oriented file's name:" in err


def test_decrypt_with_the_policy(policy: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "srv"
    _run("files", "build", str(policy), "--out", str(out_dir))
    code, out, err = _run(
        "files", "decrypt", str(out_dir / "f0C006200000.cfg"), "--policy", str(policy)
    )
    assert code == 0, err
    assert out.startswith("<<VOIP CONFIG FILE>>Version:2.0003\n") and "fw-secret" in out
    assert (
        "decrypted with the common key (aes-256-cbc, pkcs7 padding): CFG file, version 2.0003"
        in err
    )
    code, out, err = _run("files", "decrypt", str(out_dir / "desk-12.cfg"), "--policy", str(policy))
    assert code == 0 and "with the device key" in err
    # The wrong key is named, never shown.
    code, out, err = _run(
        "files", "decrypt", str(out_dir / "desk-12.cfg"), "--policy", str(policy), "--common"
    )
    assert code == 1 and out == ""
    assert "cannot decrypt" in err and "with the common key" in err
    assert COMMON_KEY not in err


def test_decrypt_with_a_key_file(policy: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "srv"
    _run("files", "build", str(policy), "--out", str(out_dir))
    key_file = tmp_path / "device.key"
    key_file.write_text(DEVICE_KEY + "\n")
    target = out_dir / "0c383e113af8.cfg"
    plain = tmp_path / "plain.cfg"
    code, _, err = _run(
        "files", "decrypt", str(target), "--key-file", str(key_file), "--mode", "aes-256-cbc",
        "-o", str(plain),
    )  # fmt: skip
    assert code == 0, err
    assert plain.read_text().startswith("<<VOIP CONFIG FILE>>Version:2.0003")
    assert plain.stat().st_mode & 0o777 == 0o600
    code, out, _ = _run(
        "files", "decrypt", str(target), "--key-file", "-", "--mode", "aes-256-cbc",
        stdin=DEVICE_KEY,
    )  # fmt: skip
    assert code == 0 and out.startswith("<<VOIP CONFIG FILE>>")
    # Default mode (ECB) on a CBC file: refused, with what to check.
    code, _, err = _run("files", "decrypt", str(target), "--key-file", str(key_file))
    assert code == 1 and "aes-256-ecb" in err and "not the one" in err
    key_file.write_text("abc\n")
    code, _, err = _run("files", "decrypt", str(target), "--key-file", str(key_file))
    assert code == 1
    assert f"key file {key_file}: is 3 characters; a key is 64 hexadecimal characters" in err


def test_decrypt_usage_errors(policy: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "srv"
    _run("files", "build", str(policy), "--out", str(out_dir))
    target = str(out_dir / "desk-12.cfg")
    code, _, err = _run("files", "decrypt", target)
    assert code == 2 and "--policy POLICY or --key-file FILE" in err
    other = tmp_path / "other.cfg"
    other.write_bytes((out_dir / "desk-12.cfg").read_bytes())
    code, _, err = _run("files", "decrypt", str(other), "--policy", str(policy))
    assert code == 2 and "say which key decrypts it with --common or --device" in err
    plain = tmp_path / "plain.cfg"
    plain.write_text("<<VOIP CONFIG FILE>>Version:2.0007\n<<END OF FILE>>\n")
    code, _, err = _run("files", "decrypt", str(plain), "--policy", str(policy))
    assert code == 1 and "is not encrypted: it is a CFG file, version 2.0007" in err


def test_help_teaches() -> None:
    code, out, _ = _run("files", "build", "--help")
    assert code == 0
    assert "f0C006200000.cfg" in out and "0.0001" in out and ".kea-fanvil-manifest.json" in out
    code, out, _ = _run("files", "decrypt", "--help")
    assert code == 0 and "never from the command line" in " ".join(out.split())


def test_decrypt_refuses_two_keys_at_once(tmp_path: Path) -> None:
    encrypted = tmp_path / "f.cfg"
    encrypted.write_bytes(b"\x00" * 32)
    result = CliRunner().invoke(
        main, ["files", "decrypt", str(encrypted), "--key-file", "-", "--common", "--device"]
    )
    assert result.exit_code == 2
    assert "--common and --device name different keys: give one" in result.stderr


def test_build_warns_of_a_site_boot_file_it_does_not_write(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        POLICY
        + "sites:\n  - name: lab\n    subnet: 198.18.64.0/18\n    boot_file: desk-12.cfg\n"
        + "  - name: hall\n    subnet: 198.18.128.0/18\n    boot_file: hall.cfg\n"
    )
    os.chmod(path, 0o600)
    code, _, err = _run("files", "build", str(path), "--out", str(tmp_path / "out"))
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {path}:22:16: sites[1].boot_file: site 'hall' hands out boot file "
        "'hall.cfg', which this build does not write (ID-oriented files come from devices' "
        "boot_file); its phones will ask for it"
    ]
