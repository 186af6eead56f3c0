"""The kea-fanvil command line, through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kea_fanvil.cli.app import main

EXAMPLE = Path(__file__).resolve().parent.parent / "dhcp-configs" / "example-policy.yaml"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_prints_a_summary() -> None:
    code, out, _ = _run("validate", str(EXAMPLE))
    assert code == 0
    assert "http://prov.example.com/fanvil/$mac.cfg" in out
    assert "option 160, option 66, option 43 (bare string)" in out
    assert "branch-a" in out and out.rstrip().endswith("valid")


def test_validate_summarises_the_phone_options(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        'version: 1\nprovisioning: {url: "http://p.example/"}\n'
        "dhcp_options:\n  vlan_format: u16\n  default: {time_offset: 0}\n"
        "  models:\n    X9: {vlan: 3}\n"
    )
    code, out, err = _run("validate", str(policy))
    assert code == 0
    summary = " ".join(out.split())
    assert "phone options default: time_offset; models: X9; VLAN in option 132 as u16" in summary
    # A model no device has: its options reach nobody (option 60 is not read).
    assert f"note: {policy}:7:9: dhcp_options.models.X9: no device has model 'X9'" in err


def test_validate_reports_problems_with_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nprovisioning:\n  url: gopher://x/\n  colour: 1\n")
    code, _, err = _run("validate", str(bad))
    assert code == 1
    assert f"{bad}: 2 problems" in err
    assert f"{bad}:3:8: provisioning.url: URL scheme 'gopher' is not one of" in err
    assert f"{bad}:4:11: provisioning.colour: unknown key" in err


def test_decide_json_shape() -> None:
    code, out, _ = _run(
        "decide",
        str(EXAMPLE),
        "--mac",
        "0C-38-3E-11-3A-F8",
        "--vendor-class",
        "Fanvil X4 2.10.2.6887",
        "--prl",
        "1,3,43,66",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert list(data) == [
        "mac",
        "matched_by",
        "model",
        "firmware",
        "url",
        "site",
        "options",
        "boot_file",
    ]
    assert data["mac"] == "0c:38:3e:11:3a:f8"
    assert data["matched_by"] == "device"
    assert (data["model"], data["firmware"]) == ("X4", "2.10.2.6887")
    url = "https://prov.example.com/special/desk-12/"
    assert data["url"] == url
    # 42 and 101: the example's default phone options (the reception desk is in no site).
    assert [o["code"] for o in data["options"]] == [42, 43, 66, 67, 101, 160]
    assert data["options"][0] == {
        "code": 42,
        "hex": "c000027b",
        "text": "192.0.2.123",
        "masked": False,
    }
    assert data["options"][1] == {
        "code": 43,
        "hex": url.encode().hex(),
        "text": url,
        "masked": False,
    }
    assert data["boot_file"] == "desk-12.cfg"


def test_decide_relayed_and_unmatched() -> None:
    code, out, _ = _run(
        "decide", str(EXAMPLE), "--mac", "0c:38:3e:00:00:01", "--giaddr", "198.18.64.2", "--json"
    )
    assert code == 0 and json.loads(out)["site"] == "branch-a"
    code, out, _ = _run(
        "decide", str(EXAMPLE), "--mac", "00:15:65:00:00:01", "--vendor-class", "yealink"
    )
    assert code == 0 and "not a Fanvil phone" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mac", "zz"], "is not a MAC address"),
        (["--mac", "0c383e000001", "--prl", "1,x"], "is not a list of option codes"),
        (["--mac", "0c383e000001", "--giaddr", "300.1.1.1"], "is not an IPv4 address"),
    ],
)
def test_decide_usage_errors(args: list[str], message: str) -> None:
    code, _, err = _run("decide", str(EXAMPLE), *args)
    assert code == 2
    assert message in err


def test_schema_is_json() -> None:
    code, out, _ = _run("schema")
    assert code == 0
    assert "provisioning" in json.loads(out)["properties"]


def test_render_full_needs_its_options() -> None:
    code, _, err = _run("render", "dnsmasq", str(EXAMPLE), "--full")
    assert code == 2 and "--full needs --interface, --subnet, --pool" in err
    code, _, err = _run("render", "dnsmasq", str(EXAMPLE), "--subnet", "198.18.0.0/24")
    assert code == 2 and "--subnet only goes with --full" in err


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["validate"],
        ["decide"],
        ["schema"],
        ["hook"],
        ["hook", "build"],
        ["hook", "path"],
        ["render"],
        ["render", "kea-hook"],
        ["render", "dnsmasq"],
        ["render", "dhcpd"],
    ],
)
def test_help(command: list[str]) -> None:
    code, out, _ = _run(*command, "--help")
    assert code == 0 and "Usage: " in out


def test_render_kea_for_a_named_version() -> None:
    code, out, _ = _run("render", "kea", str(EXAMPLE), "--sites-by-relay", "--kea-version", "3.0")
    assert code == 0
    phone = json.loads(out)["Dhcp4"]["client-classes"][0]["test"]
    assert phone.startswith("(substring(lcase(option[60].hex),0,6) == 0x66616e76696c)")
    code, out, _ = _run("render", "kea", str(EXAMPLE), "--sites-by-relay", "--kea-version", "2.2")
    assert code == 0 and "lcase" not in out


def test_render_kea_version_errors() -> None:
    code, _, err = _run("render", "kea", str(EXAMPLE), "--kea-version", "two")
    assert code == 2
    assert "Invalid value for --kea-version: 'two' is not a Kea version such as 2.6" in err
    code, _, err = _run("render", "dnsmasq", str(EXAMPLE), "--kea-version", "2.6")
    assert code == 2 and "--kea-version is for `render kea` only" in err
    code, _, err = _run(
        "render", "kea", str(EXAMPLE), "--full", "--interface", "eth1", "--subnet",
        "198.18.0.0/24", "--pool", "198.18.0.100-198.18.0.199", "--state-dir", "/srv/kea",
        "--kea-version", "2.6.3",
    )  # fmt: skip
    assert code == 1
    assert "--state-dir: Kea 2.6.3 keeps lease files in /var/lib/kea" in err


def test_validate_notes_say_where(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nprovisioning:\n  url: http://prov.example.com/\ndelivery:\n"
        "  custom_option: 150\nmatch:\n  oui_organizations: ['no such maker anywhere']\n"
        "sites:\n  - name: wide\n    subnet: 198.18.0.0/16\n  - name: narrow\n"
        "    subnet: 198.18.1.0/24\n  - name: partial\n    subnet: [198.18.0.0/15]\n"
    )
    code, out, err = _run("validate", str(policy))
    assert code == 0 and out.rstrip().endswith("valid")
    assert err.splitlines() == [
        f"note: {policy}:11:11: sites[1].name: site 'narrow' never matches: 'wide' holds all "
        "of its addresses and the first matching site wins",
        f"note: {policy}:14:13: sites[2].subnet: sites 'wide' and 'partial' overlap; 'wide' "
        "wins for the addresses they share",
        f"note: {policy}:5:18: delivery.custom_option: dnsmasq defines option 150 as "
        "tftp-server-address: `render dnsmasq` refuses it (the Kea hook sends it)",
        f"note: {policy}:7:23: match.oui_organizations[0]: 'no such maker anywhere' matches "
        "no OUI in the IEEE registry",
    ]


def test_validate_reads_standard_input() -> None:
    result = CliRunner().invoke(main, ["validate", "-"], input=EXAMPLE.read_text())
    assert result.exit_code == 0 and result.stdout.rstrip().endswith("valid")
    result = CliRunner().invoke(main, ["validate", "-"], input="version: 2\n")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "<stdin>: 2 problems",
        "<stdin>:1:10: version: Input should be 1",
    ]
