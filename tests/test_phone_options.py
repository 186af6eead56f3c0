"""The phone's other options: encoders (wire/phone_options), the policy section, the engine's
per-code precedence (device, model, site, default). Expected bytes are written from the RFCs."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kea_fanvil import load_policy, parse_policy
from kea_fanvil.engine import Engine, Request
from kea_fanvil.errors import EncodingError, PolicyError
from kea_fanvil.render import policy_digest
from kea_fanvil.wire import phone_options as enc
from kea_fanvil.wire.options import option_view


def test_time_offset_is_signed_32_bit_big_endian() -> None:
    # RFC 2132 3.4: "a two's complement 32-bit integer", seconds east of UTC.
    assert enc.encode_time_offset(3600) == b"\x00\x00\x0e\x10"
    assert enc.encode_time_offset(-18000) == b"\xff\xff\xb9\xb0"
    assert enc.encode_time_offset(0) == b"\x00\x00\x00\x00"
    with pytest.raises(EncodingError, match="more than a day"):
        enc.encode_time_offset(86401)


def test_ntp_servers_are_four_octets_each() -> None:
    servers = [ipaddress.IPv4Address("198.18.0.1"), ipaddress.IPv4Address("192.0.2.123")]
    assert enc.encode_ntp_servers(servers) == bytes([198, 18, 0, 1, 192, 0, 2, 123])
    with pytest.raises(EncodingError, match="at least one"):
        enc.encode_ntp_servers([])
    with pytest.raises(EncodingError, match="at most 255"):
        enc.encode_ntp_servers([ipaddress.IPv4Address(i) for i in range(64)])


def test_sip_servers_rfc_3361() -> None:
    # Section 3.1: enc 0 and RFC 1035 names; the RFC's own example is "example.com".
    assert enc.encode_sip_servers(["example.com"]) == b"\x00\x07example\x03com\x00"
    assert enc.encode_sip_servers(["a.example.com.", "b.example"]) == (
        b"\x00\x01a\x07example\x03com\x00\x01b\x07example\x00"
    )
    # Section 3.2: enc 1 and addresses.
    assert (
        enc.encode_sip_servers(["198.18.0.5", "192.0.2.1"])
        == b"\x01\xc6\x12\x00\x05\xc0\x00\x02\x01"
    )
    with pytest.raises(EncodingError, match="not both"):
        enc.encode_sip_servers(["198.18.0.5", "sip.example.com"])
    for bad in ("-sip.example", "sip..example", "sip_example.com", "x" * 64 + ".com", "a b"):
        with pytest.raises(EncodingError, match="not a host name"):
            enc.encode_sip_servers([bad])


def test_time_zones_rfc_4833() -> None:
    assert enc.encode_posix_timezone("CET-1CEST,M3.5.0,M10.5.0/3") == b"CET-1CEST,M3.5.0,M10.5.0/3"
    assert enc.encode_tzdb_timezone("America/Argentina/Buenos_Aires") == (
        b"America/Argentina/Buenos_Aires"
    )
    for bad in ("CET -1", "", "CET\n-1", "Zürich"):
        with pytest.raises(EncodingError, match="POSIX TZ"):
            enc.encode_posix_timezone(bad)
    for bad in ("Europe//Zurich", "/Europe", "Europe/Zurich;", "Europe/Zu rich", ""):
        with pytest.raises(EncodingError, match="TZ database"):
            enc.encode_tzdb_timezone(bad)


def test_vlan_formats() -> None:
    assert enc.encode_vlan(20, "vlan-a") == b"VLAN-A=20;"
    assert enc.encode_vlan(20, "decimal") == b"20"
    assert enc.encode_vlan(20, "u16") == b"\x00\x14"
    assert enc.encode_vlan(4094, "u32") == b"\x00\x00\x0f\xfe"
    for bad in (0, 4095):
        with pytest.raises(EncodingError, match=r"outside 1\.\.4094"):
            enc.encode_vlan(bad, "vlan-a")


@given(st.integers(-enc.TIME_OFFSET_LIMIT, enc.TIME_OFFSET_LIMIT))
def test_described_offsets_round_trip(seconds: int) -> None:
    text = enc.describe(enc.OPTION_TIME_OFFSET, enc.encode_time_offset(seconds))
    assert text is not None and text.endswith(f"({seconds} s)")


def test_options_are_shown_decoded() -> None:
    assert option_view(2, b"\xff\xff\xb9\xb0", False).text == "UTC-05:00 (-18000 s)"
    assert option_view(42, b"\xc6\x12\x00\x01\xc0\x00\x02\x7b", False).text == (
        "198.18.0.1, 192.0.2.123"
    )
    names = enc.encode_sip_servers(["sip.example.com", "b.example"])
    assert option_view(120, names, False).text == "sip.example.com, b.example"
    # A compression pointer (RFC 1035 4.1.4) or garbage: only the hex is shown.
    assert enc.describe(120, b"\x00\xc0\x0c") is None
    assert enc.describe(42, b"\x01\x02\x03") is None


POLICY = """\
version: 1
provisioning: {url: "http://prov.example.com/$mac.cfg"}
delivery: {option_43: "off", always_send: ALWAYS}
dhcp_options:
  vlan_format: u16
  default: {ntp_servers: [198.18.0.1], time_offset: 3600, vlan: 10}
  models:
    x4: {vlan: 40, tzdb_timezone: Europe/Zurich}
sites:
  - name: branch
    subnet: 198.18.64.0/18
    dhcp_options: {vlan: 20, time_offset: 7200, sip_servers: [sip.branch.example]}
devices:
  - mac: "0c:38:3e:00:00:01"
    model: X4
  - mac: "0c:38:3e:00:00:02"
    model: X4
    dhcp_options: {vlan: 50}
  - mac: "0c:38:3e:00:00:03"
"""
URL = b"http://prov.example.com/$mac.cfg"
SIP = b"\x00\x03sip\x06branch\x07example\x00"


def _options(
    mac: str, relayed: bool = False, prl: bytes | None = None, always: bool = True
) -> dict[int, bytes]:
    engine = Engine(parse_policy(POLICY.replace("ALWAYS", "true" if always else "false")))
    giaddr = bytes([198, 18, 64, 1]) if relayed else b"\0\0\0\0"
    decision = engine.decide(Request(bytes.fromhex(mac.replace(":", "")), None, prl, giaddr))
    return dict(decision.options)


def test_each_code_comes_from_the_most_specific_level() -> None:
    default = {2: b"\x00\x00\x0e\x10", 42: b"\xc6\x12\x00\x01", 66: URL, 132: b"\x00\x0a"}
    assert _options("0c:38:3e:00:00:03") == default
    assert _options("0c:38:3e:00:00:03", relayed=True) == default | {
        2: b"\x00\x00\x1c\x20",
        120: SIP,
        132: b"\x00\x14",
    }
    # The model's VLAN beats the site's; the site's offset and SIP servers still apply.
    assert _options("0c:38:3e:00:00:01", relayed=True) == default | {
        2: b"\x00\x00\x1c\x20",
        101: b"Europe/Zurich",
        120: SIP,
        132: b"\x00\x28",
    }
    # The device's own VLAN beats its model's.
    assert _options("0c:38:3e:00:00:02")[132] == b"\x00\x32"
    # A phone matched by its OUI alone (not listed) has no model: the default's.
    assert _options("0c:38:3e:00:00:09")[132] == b"\x00\x0a"


def test_without_always_send_only_asked_codes_go_out() -> None:
    assert _options("0c:38:3e:00:00:01", prl=bytes([1, 3, 42, 132]), always=False) == {
        42: b"\xc6\x12\x00\x01",
        132: b"\x00\x28",
    }


def test_the_table_carries_each_set_once() -> None:
    policy = parse_policy(POLICY.replace("ALWAYS", "true"))
    table = Engine(policy).table()
    # Sets: the default's, the site's, the X4 devices' (model over default-less own), the
    # device with its own VLAN: each encoded once however many devices share it.
    assert table.count(b"\x84\x02\x00\x00\x28") == 1
    assert table.startswith(b"KFT2")


@pytest.mark.parametrize(
    ("snippet", "where"),
    [
        ("dhcp_options: {default: {vlan: 4095}}", "dhcp_options.default.vlan"),
        ("dhcp_options: {default: {ntp_servers: []}}", "dhcp_options.default.ntp_servers"),
        ("dhcp_options: {default: {sip_servers: [1.2.3.4, a.example]}}", "sip_servers"),
        ("dhcp_options: {vlan_option: 66}", "dhcp_options.vlan_option"),
        ("dhcp_options: {vlan_format: hex}", "dhcp_options.vlan_format"),
        ("dhcp_options: {default: {colour: red}}", "dhcp_options.default.colour"),
        ("dhcp_options: {models: {X4: {}, x4: {}}}", "dhcp_options.models.x4"),
        ("dhcp_options: {default: {time_offset: 90000}}", "dhcp_options.default.time_offset"),
        ("dhcp_options: {default: {tzdb_timezone: 'Europe/Zurich\\nsubnet'}}", "tzdb_timezone"),
    ],
)
def test_bad_options_name_the_field(snippet: str, where: str) -> None:
    text = f"version: 1\nprovisioning: {{url: 'http://p.example/'}}\n{snippet}\n"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    assert "p.yaml:3:" in str(caught.value) and where in str(caught.value)


def test_the_vlan_code_may_not_carry_the_url_too() -> None:
    text = (
        "version: 1\nprovisioning: {url: 'http://p.example/'}\n"
        "delivery: {custom_option: 132}\n"
        "sites: [{name: a, subnet: 198.18.0.0/24, dhcp_options: {vlan: 5}}]\n"
    )
    with pytest.raises(PolicyError, match=r"delivery\.custom_option: option 132 would carry both"):
        parse_policy(text, "p.yaml")
    # Without a VLAN anywhere the code is free for the URL.
    parse_policy(text.replace("{vlan: 5}", "{time_offset: 0}"), "p.yaml")


def test_a_device_model_moves_the_rendered_fingerprint() -> None:
    # Device.model is not in the policy dump; with model options it changes what is rendered.
    policy = parse_policy(POLICY.replace("ALWAYS", "true"))
    moved = policy.model_copy(
        update={"devices": [d.model_copy(update={"model": "C62"}) for d in policy.devices]}
    )
    assert policy_digest(policy) != policy_digest(moved)


def test_devices_file_models_get_their_model_options(tmp_path: Path) -> None:
    # A large inventory's CSV carries the model too: its phones get their model's options.
    (tmp_path / "phones.csv").write_text("mac,model\n0c:38:3e:00:01:01,X4\n0c:38:3e:00:01:02,\n")
    (tmp_path / "policy.yaml").write_text(
        'version: 1\nprovisioning: {url: "http://p.example/"}\n'
        "dhcp_options: {vlan_format: decimal, models: {X4: {vlan: 44}}}\n"
        "devices_file: phones.csv\n"
    )
    engine = Engine(load_policy(tmp_path / "policy.yaml"))
    x4 = engine.decide(Request(bytes.fromhex("0c383e000101")))
    other = engine.decide(Request(bytes.fromhex("0c383e000102")))
    assert dict(x4.options)[132] == b"44"
    assert 132 not in dict(other.options)
