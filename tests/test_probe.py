"""kea_fanvil.probe.interpret: what a phone makes of an answer; `probe` without a network.

Answers are built by hand as the servers send them (dnsmasq's trailing NUL included), and every
expectation is written from the spec, not computed by the code under test.
"""

from __future__ import annotations

import json
import socket
from importlib import resources
from ipaddress import IPv4Address
from typing import Any

import pytest
from click.testing import CliRunner

from kea_fanvil.cli.app import main
from kea_fanvil.errors import DhcpTimeout
from kea_fanvil.fanvil.naming import common_file
from kea_fanvil.probe import run as probe_run
from kea_fanvil.probe.dhcp_client import DoraResult
from kea_fanvil.probe.interpret import FALLBACK, interpret
from kea_fanvil.wire.dhcp import BOOTREPLY, DhcpMessage

MAC = "0c:38:3e:11:3a:f8"
URL = "http://prov.example.com/fanvil/"


def ack(*options: tuple[int, bytes], file: bytes = b"") -> DhcpMessage:
    return DhcpMessage(
        op=BOOTREPLY,
        xid=1,
        yiaddr=IPv4Address("198.18.0.100"),
        file=file,
        options=[
            (53, b"\x05"),
            (54, IPv4Address("198.18.0.1").packed),
            (51, (3600).to_bytes(4, "big")),
            *options,
        ],
    )


# --- the Common file table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name", "source"),
    [
        ("C62", "f0C006200000.cfg", "spec 3.1"),
        ("C60", "f0C006000000.cfg", "spec 3.1"),
        ("C58", "f0C005800000.cfg", "spec 3.1"),
        ("C56", "f0C005600000.cfg", "spec 3.1"),
        ("c62", "f0C006200000.cfg", "spec 3.1"),  # option 60 may be lower case
        ("C66", "f0C006600000.cfg", "derived from the spec's rule (3.1)"),
        ("C400", "f0C040000000.cfg", "derived from the spec's rule (3.1)"),
        ("X4", "f0X4hw1.100.cfg", "wazo-provd-plugins serie_x"),
        ("X6", "F0V00X600000.cfg", "wazo-provd-plugins serie_x"),
        ("X4U", None, "unknown"),
        ("X210i", None, "unknown"),
        ("V64", None, "unknown"),  # another series: the C rule is not applied to it
        ("C62P", None, "unknown"),
    ],
)
def test_common_file_names(model: str, name: str | None, source: str) -> None:
    found = common_file(model)
    assert (found.name, found.source) == (name, source)


def test_spec_entries_of_the_table_follow_the_spec_rule() -> None:
    text = resources.files("kea_fanvil").joinpath("data/common_config_files.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    spec = {model: name for model, name, source in rows if source == "spec 3.1"}
    assert spec == {
        "C62": "f0C006200000.cfg",
        "C60": "f0C006000000.cfg",
        "C58": "f0C005800000.cfg",
        "C56": "f0C005600000.cfg",
    }
    for model, name in spec.items():
        assert name == f"f0C{int(model[1:]):04d}00000.cfg"


# --- where the URL comes from -------------------------------------------------------------------


def test_custom_option_comes_first_then_66_then_43() -> None:
    report = interpret(
        ack((43, b"http://h43/"), (66, b"http://h66/"), (160, b"http://h160/")), MAC, "C62"
    )
    assert [c.code for c in report.carriers] == [160, 66, 43]
    assert report.chosen is not None and report.chosen.code == 160
    assert report.url == "http://h160/"
    assert any("different URLs" in n for n in report.notes)
    assert report.fallback is None


def test_66_before_43_and_identical_urls_make_no_note() -> None:
    report = interpret(ack((43, URL.encode()), (66, URL.encode())), MAC, "C62")
    assert report.chosen is not None and report.chosen.code == 66
    assert report.notes == ()


def test_the_phones_custom_code_is_the_only_one_read() -> None:
    answer = ack((160, b"http://h160/"), (43, b"http://h43/"))
    report = interpret(answer, MAC, "C62", custom_option=200)
    assert [c.code for c in report.carriers] == [43]
    assert report.url == "http://h43/"
    assert report.notes[0] == (
        "custom option 160 carries a URL too, but a phone set to custom option 200 does not read it"
    )


def test_custom_codes_without_a_url_are_not_candidates() -> None:
    # Option 150 (Cisco's TFTP server addresses) is in 128-254 but not a phone's business.
    report = interpret(ack((150, bytes([198, 18, 0, 1])), (66, URL.encode())), MAC, "C62")
    assert [c.code for c in report.carriers] == [66]


def test_only_43() -> None:
    report = interpret(ack((43, URL.encode())), MAC, "C62")
    assert report.chosen is not None and report.chosen.name == "option 43"


def test_trailing_nul_is_ignored_and_said() -> None:
    report = interpret(ack((66, URL.encode() + b"\0")), MAC, "C62")
    assert report.url == URL
    assert report.carriers[0].note == "ends with a NUL, ignored"


def test_no_url_falls_back_to_pnp_then_flash() -> None:
    report = interpret(ack(), MAC, "C62")
    assert report.chosen is None
    assert report.files == ()
    assert report.fallback == FALLBACK
    assert "PnP server" in FALLBACK and "flash" in FALLBACK


def test_a_bare_address_in_66_is_not_a_url() -> None:
    report = interpret(ack((66, b"198.18.0.1")), MAC, "C62")
    assert report.chosen is None and report.fallback == FALLBACK
    assert report.carriers[0].url is None
    assert "not a URL" in report.carriers[0].note


def test_encapsulated_43_is_explained() -> None:
    sub = b"\x01" + bytes([len(URL)]) + URL.encode()
    report = interpret(ack((43, sub)), MAC, "C62")
    assert report.chosen is None
    assert "encapsulated sub-option 1" in report.carriers[0].note


def test_a_sub_option_after_the_end_byte_is_not_read() -> None:
    # RFC 2132 8.4: 255 ends option 43's sub-options, as the engine's decoder reads them.
    sub = b"\xff\x01" + bytes([len(URL)]) + URL.encode()
    report = interpret(ack((43, sub)), MAC, "C62")
    assert "encapsulated sub-option" not in report.carriers[0].note


def test_a_scheme_the_phone_does_not_speak_is_noted() -> None:
    report = interpret(ack((66, b"sip://h/")), MAC, "C62")
    assert any("not sip" in n for n in report.notes)


# --- which files --------------------------------------------------------------------------------


def test_directory_url_common_then_mac_file() -> None:
    report = interpret(ack((66, b"tftp://198.18.0.1/prov")), MAC, "C62")
    assert [(f.kind, f.name, f.url) for f in report.files] == [
        ("common", "f0C006200000.cfg", "tftp://198.18.0.1/prov/f0C006200000.cfg"),
        ("mac", "0c383e113af8.cfg", "tftp://198.18.0.1/prov/0c383e113af8.cfg"),
    ]


def test_boot_file_in_option_67_makes_the_id_file() -> None:
    report = interpret(ack((66, URL.encode()), (67, b"desk-12.cfg\0")), MAC, "C62")
    assert report.boot_file == "desk-12.cfg"
    assert [(f.kind, f.url) for f in report.files] == [
        ("common", URL + "f0C006200000.cfg"),
        ("id", URL + "desk-12.cfg"),
    ]


def test_boot_file_in_the_bootp_file_field_only() -> None:
    report = interpret(ack((66, URL.encode()), file=b"desk-12.cfg"), MAC, "C62")
    assert report.files[1].kind == "id" and report.files[1].name == "desk-12.cfg"


def test_url_naming_a_file_is_the_one_file_after_mac_expansion() -> None:
    report = interpret(ack((66, b"http://h/fanvil/$mac.cfg")), MAC, "C62")
    assert report.expanded_url == "http://h/fanvil/0c383e113af8.cfg"
    assert [(f.kind, f.name, f.url) for f in report.files] == [
        ("named", "0c383e113af8.cfg", "http://h/fanvil/0c383e113af8.cfg")
    ]
    assert any(n.startswith("assumed: a URL naming a file") for n in report.notes)


def test_mac_in_the_directory_is_expanded_too() -> None:
    report = interpret(ack((66, b"http://h/$mac/")), MAC, "C62")
    assert report.files[1].url == "http://h/0c383e113af8/0c383e113af8.cfg"


def test_input_cannot_be_expanded_unless_given() -> None:
    answer = ack((66, b"http://h/$input/"))
    report = interpret(answer, MAC, "C62")
    assert all(f.url is None for f in report.files)
    assert any("prompt" in n for n in report.notes)
    given = interpret(answer, MAC, "C62", input_id="desk12")
    assert given.files[0].url == "http://h/desk12/f0C006200000.cfg"


def test_unknown_or_missing_model_leaves_the_common_file_unknown() -> None:
    unknown = interpret(ack((66, URL.encode())), MAC, "X4U")
    assert (unknown.files[0].name, unknown.files[0].url) == (None, None)
    assert "X4U" in unknown.files[0].note
    assert unknown.files[1].url == URL + "0c383e113af8.cfg"
    missing = interpret(ack((66, URL.encode())), MAC, None)
    assert "--model" in missing.files[0].note


def test_passwords_are_masked_in_the_dict_but_kept_for_the_download() -> None:
    secret = b"ftp://user:s3cret@198.18.0.1/prov/"
    report = interpret(ack((66, secret), (160, secret)), MAC, "C62")
    assert report.files[0].url == "ftp://user:s3cret@198.18.0.1/prov/f0C006200000.cfg"
    shown = json.dumps(report.as_dict())
    assert "s3cret" not in shown and "user:****@198.18.0.1" in shown
    assert "s3cret" in json.dumps(report.as_dict(show_secrets=True))


# --- the command, with the network replaced -----------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["probe", *args])
    return result.exit_code, result.stdout, result.stderr


def test_help_teaches_the_order_and_the_exit_codes() -> None:
    code, out, _ = _run("--help")
    assert code == 0
    assert "custom option (128-254), then" in out
    assert "f0C006200000.cfg" in out
    for exit_code in (3, 4, 5, 6):
        assert f"  {exit_code}  " in out


def test_missing_interface_exits_4_with_a_json_error() -> None:
    code, out, err = _run("kf-no-such0", "--json")
    assert code == 4
    assert json.loads(out)["exit_code"] == 4
    assert "no network interface named 'kf-no-such0'" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--vendor-class", "Fanvil C62", "--no-vendor-class"],
        ["--insecure"],
        ["--custom-option", "66"],
        ["--mac", "zz"],
        ["--prl", "1,x"],
    ],
)
def test_wrong_command_lines_exit_2(args: list[str]) -> None:
    assert _run("lo", *args)[0] == 2


def test_without_raw_sockets_exits_5(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.socket

    def refuse_packet(family: int = -1, *args: Any, **kwargs: Any) -> socket.socket:
        if family == socket.AF_PACKET:
            raise PermissionError(1, "Operation not permitted")
        return real(family, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", refuse_packet)
    code, _, err = _run("lo")
    assert code == 5
    assert "run as root" in err


def _fake_network(monkeypatch: pytest.MonkeyPatch, answer: DhcpMessage) -> list[str]:
    released: list[str] = []
    monkeypatch.setattr(probe_run, "check_privileges", lambda: None)
    monkeypatch.setattr(
        probe_run,
        "dhcp_dora",
        lambda iface, mac, *a, **k: DoraResult(offer=answer, ack=answer),
    )
    monkeypatch.setattr(probe_run, "dhcp_release", lambda iface, mac, lease: released.append(mac))
    return released


def test_report_and_release_without_a_network(monkeypatch: pytest.MonkeyPatch) -> None:
    released = _fake_network(monkeypatch, ack((66, URL.encode())))
    code, out, _ = _run("lo", "--mac", MAC, "--model", "C62", "--json")
    assert code == 0
    data = json.loads(out)
    assert released == [MAC]
    assert data["released"] is True
    assert data["vendor_class"] == "Fanvil C62"
    assert data["model"] == "C62" and data["model_source"] == "--model"
    assert data["chosen"] == 66
    assert [f["url"] for f in data["files"]] == [
        URL + "f0C006200000.cfg",
        URL + "0c383e113af8.cfg",
    ]
    assert data["fetch"] is None


def test_model_from_the_vendor_class_and_the_human_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_network(monkeypatch, ack((66, URL.encode())))
    code, out, _ = _run("lo", "--mac", MAC, "--vendor-class", "Fanvil C58 2.4.1")
    assert code == 0
    assert "model C58 (from option 60)" in out
    assert "-> option 66" in out
    assert "1. Common file f0C005800000.cfg (spec 3.1)" in out
    assert "2. MAC-oriented file 0c383e113af8.cfg (spec 3.2)" in out


def test_no_answer_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_run, "check_privileges", lambda: None)

    def silent(*args: Any, **kwargs: Any) -> DoraResult:
        raise DhcpTimeout("no DHCPOFFER after 3 tries of 2 s")

    monkeypatch.setattr(probe_run, "dhcp_dora", silent)
    code, _, err = _run("lo", "--mac", MAC)
    assert code == 3
    assert "no DHCP server answered on lo" in err
