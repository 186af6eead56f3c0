"""Passwords in provisioning URLs stay out of what kea-fanvil prints, unless asked for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kea_fanvil import redact
from kea_fanvil.cli.app import main
from kea_fanvil.errors import PolicyError
from kea_fanvil.policy import secrets
from kea_fanvil.policy.loader import load_policy, parse_policy

SECRET = "s3cr:et"  # a ":" inside the password, as RFC 3986 allows

POLICY = f"""\
version: 1
provisioning:
  url: "http://phone:{SECRET}@prov.example.com/$mac.cfg"
delivery:
  option_43: 1
sites:
  - name: branch
    subnet: 198.18.64.0/18
    url: "ftp://ftpuser@ftp.example.com/"
devices_file: phones.csv
"""


def _runner(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    (tmp_path / "phones.csv").write_text(
        "mac,url\n0c:38:3e:00:00:01,https://d:devpass@prov.example.com/d1/\n"
    )
    os.chmod(path, 0o600)
    os.chmod(tmp_path / "phones.csv", 0o600)
    return path


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("http://u:p@h/x", "http://u:****@h/x"),
        ("'ftp://admin:a:b@c@10.0.0.1/a' is bad", "'ftp://admin:****@10.0.0.1/a' is bad"),
        ("http://u@h/a@b", "http://u@h/a@b"),  # a user alone is no secret; "@" in the path
        ("tftp://h/a", "tftp://h/a"),
        ("x http://a:b@c and https://d:e@f/", "x http://a:****@c and https://d:****@f/"),
    ],
)
def test_mask(text: str, masked: str) -> None:
    assert redact.mask(text) == masked


@given(
    st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12),
    st.text(
        st.characters(blacklist_characters="/?#'\" \t\n\r", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=30,
    ),
)
def test_mask_never_leaks_a_password_urlsplit_sees(user: str, password: str) -> None:
    url = f"http://{user}:{password}@prov.example.com/$mac.cfg"
    masked = redact.mask(f"URL {url!r} has a bad port")
    assert f"{user}:{redact.MASK}@prov.example.com" in masked
    if "[" not in password and "]" not in password:  # else urlsplit refuses the whole URL
        assert redact.has_credentials(url)


def test_credential_fields_and_world_readable_warning(policy: Path) -> None:
    loaded = load_policy(policy)
    assert secrets.credential_fields(loaded) == ["provisioning.url", "devices[0].url"]
    assert secrets.exposure_warnings(policy, loaded) == []
    os.chmod(policy.parent / "phones.csv", 0o644)
    (warning,) = secrets.exposure_warnings(policy, loaded)
    assert "phones.csv is readable by every user (mode 0644)" in warning
    assert "devices[0].url" in warning
    os.chmod(policy, 0o604)
    assert len(secrets.exposure_warnings(policy, loaded)) == 2


def test_policy_errors_mask_the_url_they_quote() -> None:
    with pytest.raises(PolicyError) as failed:
        parse_policy('version: 1\nprovisioning:\n  url: "http://a:hunter2@h:99999/x"\n', "p.yaml")
    assert "hunter2" not in str(failed.value)
    assert "a:****@h:99999" in str(failed.value)


def test_validate_and_decide_mask_unless_asked(policy: Path) -> None:
    code, out, err = _runner("validate", str(policy))
    assert code == 0 and SECRET not in out + err
    assert "http://phone:****@prov.example.com/$mac.cfg" in out
    assert "passwords" in out and "(masked)" in out
    code, out, _ = _runner("validate", str(policy), "--show-secrets")
    assert SECRET in out

    args = ("decide", str(policy), "--mac", "0c:38:3e:00:00:02", "--json")
    code, out, err = _runner(*args)
    decision = json.loads(out)
    assert SECRET not in out + err and SECRET.encode().hex() not in out
    assert decision["url"] == "http://phone:****@prov.example.com/$mac.cfg"
    assert all(o["masked"] and o["hex"] is None for o in decision["options"])
    decision = json.loads(_runner(*args, "--show-secrets")[1])
    assert decision["url"] == f"http://phone:{SECRET}@prov.example.com/$mac.cfg"
    assert decision["options"][1]["hex"] == decision["url"].encode().hex()
    code, out, err = _runner("decide", str(policy), "--mac", "0c:38:3e:00:00:01")
    assert code == 0 and "devpass" not in out + err and "d:****@prov.example.com" in out


def test_world_readable_policy_with_passwords_gets_a_warning(policy: Path) -> None:
    os.chmod(policy, 0o644)
    code, out, err = _runner("validate", str(policy))
    assert code == 0
    assert f"warning: {policy} is readable by every user (mode 0644)" in err
    assert SECRET not in out + err


def test_render_needs_a_file_or_show_secrets(policy: Path, tmp_path: Path) -> None:
    code, out, err = _runner("render", "dnsmasq", str(policy))
    assert code == 1 and out == ""
    assert "holds passwords" in err and "-o FILE" in err
    code, out, _ = _runner("render", "dnsmasq", str(policy), "--show-secrets")
    assert code == 0 and SECRET in out

    target = tmp_path / "fanvil.conf"
    code, _, err = _runner("render", "dnsmasq", str(policy), "-o", str(target))
    assert code == 0, err
    assert target.stat().st_mode & 0o777 == 0o600
    assert SECRET in target.read_text()
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed, not left


def test_render_without_passwords_prints_as_before(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text('version: 1\nprovisioning:\n  url: "http://prov.example.com/$mac.cfg"\n')
    code, out, _ = _runner("render", "dhcpd", str(plain))
    assert code == 0 and "http://prov.example.com/$mac.cfg" in out


def test_the_warning_names_the_file_that_holds_the_password(tmp_path: Path) -> None:
    """A password in an inline device is the policy file's, not the inventory's."""
    (tmp_path / "phones.csv").write_text("mac,url\n0c:38:3e:00:00:02,http://plain.example.com/\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nprovisioning:\n  url: http://prov.example.com/\ndevices_file: phones.csv\n"
        "devices:\n  - mac: 0c383e000001\n    url: http://phone:s3cret@prov.example.com/\n"
    )
    os.chmod(policy, 0o600)
    os.chmod(tmp_path / "phones.csv", 0o644)
    loaded = load_policy(policy)
    assert loaded.inline_devices == 1 and len(loaded.devices) == 2
    assert secrets.exposure_warnings(policy, loaded) == []
    os.chmod(policy, 0o644)
    (warning,) = secrets.exposure_warnings(policy, loaded)
    assert warning.startswith(f"{policy} is readable") and "devices[0].url" in warning
