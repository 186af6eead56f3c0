"""The Kea-native renderer: structure, determinism and refusals."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest

from kea_fanvil import RenderError, kea_install, parse_policy
from kea_fanvil.render import FullConfig, kea

BASE = 'version: 1\nprovisioning:\n  url: "http://prov.example.com/$mac.cfg"\n'
SITES = 'sites:\n  - name: branch-a\n    subnet: 198.18.64.0/18\n    url: "http://a.example.com/"\n'


def _classes(text: str, **kwargs: bool) -> list[dict[str, Any]]:
    document = json.loads(kea.render(parse_policy(text), None, **kwargs))
    classes: list[dict[str, Any]] = document["Dhcp4"]["client-classes"]
    return classes


def test_class_order_and_option_bytes() -> None:
    classes = _classes(
        BASE
        + "delivery:\n  custom_option: 160\n"
        + SITES
        + "devices:\n  - mac: 0c383e113af8\n    boot_file: d.cfg\n  - mac: 0c383e113af9\n",
        sites_by_relay=True,
    )
    assert [c["name"] for c in classes] == [
        "FANVIL",
        "fanvil-device-0c383e113af8",
        "fanvil-site-branch-a",
        "fanvil-default",
    ]
    device = classes[1]
    assert device["boot-file-name"] == "d.cfg"
    assert device["option-data"] == [
        {"code": 67, "csv-format": False, "data": b"d.cfg".hex(), "always-send": True}
    ]
    default = classes[3]
    url = b"http://prov.example.com/$mac.cfg".hex()
    assert [d["code"] for d in default["option-data"]] == [43, 66, 160]
    assert all(d["data"] == url for d in default["option-data"])
    assert default["option-def"] == [kea.OPTION_43_AS_BINARY]
    assert default["test"] == "member('FANVIL')"


def test_tests() -> None:
    phone = str(_classes(BASE)[0]["test"])
    assert phone.startswith(
        "((substring(option[60].hex,0,1) == 0x46 or substring(option[60].hex,0,1) == 0x66) and"
    )
    assert "substring(pkt4.mac,0,3) == 0x0c383e" in phone
    site = str(_classes(BASE + SITES, sites_by_relay=True)[1]["test"])
    assert site.startswith("member('FANVIL') and ((substring(pkt4.giaddr,0,2) == 0xc612 and (")
    assert site.count("substring(pkt4.giaddr,2,1)") == 64  # a /18: 64 third bytes


def test_digits_are_not_doubled() -> None:
    test = str(_classes(BASE + "match:\n  vendor_class_prefixes: ['X4']\n")[0]["test"])
    assert "substring(option[60].hex,1,1) == 0x34)" in test
    assert "substring(option[60].hex,1,1) == 0x34 or" not in test


def test_always_send_false() -> None:
    classes = _classes(BASE + "delivery:\n  always_send: false\n")
    assert all("always-send" not in d for d in classes[-1]["option-data"])


def test_sites_need_an_explicit_choice() -> None:
    with pytest.raises(RenderError) as caught:
        kea.render(parse_policy(BASE + SITES))
    assert str(caught.value).startswith(
        "kea: sites[0] (branch-a): Kea classifies a query before it picks an address"
    )
    assert "--sites-by-relay" in str(caught.value)


def test_deterministic_and_full() -> None:
    policy = parse_policy(BASE + SITES)
    assert kea.render(policy, sites_by_relay=True) == kea.render(policy, sites_by_relay=True)
    full = FullConfig(
        "eth1",
        IPv4Network("198.18.0.0/24"),
        (IPv4Address("198.18.0.100"), IPv4Address("198.18.0.199")),
        "/tmp/kea",
    )
    dhcp4 = json.loads(kea.render(policy, full, sites_by_relay=True))["Dhcp4"]
    assert dhcp4["subnet4"][0]["pools"] == [{"pool": "198.18.0.100 - 198.18.0.199"}]
    assert dhcp4["lease-database"]["name"] == "/tmp/kea/kea-leases4.csv"
    assert dhcp4["interfaces-config"] == {"interfaces": ["eth1"]}


FULL = "sites:\n  - name: relay\n    subnet: 198.18.64.0/18\n    boot_file: r.cfg\n"


def _full(first: str = "198.18.0.100", last: str = "198.18.0.199") -> FullConfig:
    return FullConfig("eth1", IPv4Network("198.18.0.0/24"), (IPv4Address(first), IPv4Address(last)))


def _full_classes(text: str) -> list[dict[str, Any]]:
    document = json.loads(kea.render(parse_policy(text), _full()))
    classes: list[dict[str, Any]] = document["Dhcp4"]["client-classes"]
    return classes


def test_later_sites_exclude_earlier_overlapping_ones() -> None:
    text = (
        BASE
        + SITES
        + "  - name: other\n    subnet: 10.0.0.0/8\n"
        + "  - name: wide\n    subnet: 198.18.0.0/16\n    boot_file: w.cfg\n"
    )
    tests = [str(c["test"]) for c in _classes(text, sites_by_relay=True)]
    assert tests[2].startswith("member('FANVIL') and (")  # other: overlaps nothing
    assert tests[3].startswith(
        "member('FANVIL') and not member('fanvil-site-branch-a') and ((substring(pkt4.giaddr,0,2)"
    )


def test_full_mode_decides_the_offered_address_from_the_pool() -> None:
    text = (
        BASE
        + FULL
        + "  - name: hq\n    subnet: 198.18.0.0/23\n  - name: later\n    subnet: 10.0.0.0/8\n"
    )
    classes = _full_classes(text)
    assert [c["name"] for c in classes[1:4]] == [
        "fanvil-site-relay",
        "fanvil-site-hq",
        "fanvil-site-later",
    ]
    assert str(classes[1]["test"]).startswith("member('FANVIL') and ((substring(pkt4.giaddr,0,2)")
    # hq holds the whole pool: it matches every phone query not already taken by `relay`.
    assert classes[2]["test"] == "member('FANVIL') and not member('fanvil-site-relay')"
    # later cannot match together with relay (disjoint relay subnets), only with hq.
    assert classes[3]["test"] == (
        "member('FANVIL') and not member('fanvil-site-hq') and "
        "((substring(pkt4.giaddr,0,1) == 0x0a))"
    )


def test_full_mode_refuses_a_site_holding_part_of_the_pool() -> None:
    text = BASE + "sites:\n  - name: half\n    subnet: 198.18.0.128/25\n"
    with pytest.raises(RenderError) as caught:
        _full_classes(text)
    assert str(caught.value) == (
        "kea: sites[0] (half): its subnet holds part of the pool 198.18.0.100-198.18.0.199; "
        "Kea classifies a query before it picks an address, so which part an address falls "
        "in cannot be tested. Make the site hold all of the pool or none of it, or use the "
        "hook (`kea-fanvil render kea-hook`)"
    )


def test_site_name_must_fit_a_member_test() -> None:
    with pytest.raises(RenderError) as caught:
        kea.render(
            parse_policy(BASE + 'sites:\n  - name: "it\'s"\n    subnet: 10.0.0.0/8\n'),
            sites_by_relay=True,
        )
    assert str(caught.value) == (
        "kea: sites[0] (it's): a site name for Kea may hold letters, digits, '-', '_' and '.'"
    )


def test_vendor_class_bytes_follow_the_engine() -> None:
    # The engine lowers the prefix with str.lower and the data with bytes.lower (ASCII only):
    # "É" must be matched as the UTF-8 bytes of "é", exactly.
    test = str(_classes(BASE + "match:\n  vendor_class_prefixes: ['É-1']\n")[0]["test"])
    assert test.startswith(
        "(substring(option[60].hex,0,1) == 0xc3 and substring(option[60].hex,1,1) == 0xa9"
        " and substring(option[60].hex,2,1) == 0x2d and substring(option[60].hex,3,1) == 0x31)"
    )


def test_full_mode_keys() -> None:
    dhcp4 = json.loads(kea.render(parse_policy(BASE), _full()))["Dhcp4"]
    assert list(dhcp4) == [
        "user-context",
        "interfaces-config",
        "control-socket",
        "lease-database",
        "valid-lifetime",
        "subnet4",
        "client-classes",
    ]
    assert dhcp4["control-socket"]["socket-name"] == "/run/kea/kea4-ctrl-socket"
    assert dhcp4["lease-database"]["name"] == "/var/lib/kea/kea-leases4.csv"
    fragment = json.loads(kea.render(parse_policy(BASE)))
    assert list(fragment) == ["Dhcp4"] and list(fragment["Dhcp4"]) == [
        "user-context",
        "client-classes",
    ]
    assert kea.render(parse_policy(BASE)).endswith("}\n")


# --- per Kea version ------------------------------------------------------------------------------


def _dhcp4(text: str, full: FullConfig | None, version: tuple[int, int, int]) -> dict[str, Any]:
    dhcp4: dict[str, Any] = json.loads(kea.render(parse_policy(text), full, kea_version=version))[
        "Dhcp4"
    ]
    return dhcp4


def test_lcase_from_kea_2_6() -> None:
    text = BASE + "match:\n  vendor_class_prefixes: ['Fanvil', 'É-1', 'ǅ']\n"
    phone = _dhcp4(text, None, (2, 6, 3))["client-classes"][0]["test"]
    # The bytes of the lowered prefix, hex: no quoting of policy text in the expression.
    assert phone.startswith(
        "(substring(lcase(option[60].hex),0,6) == 0x66616e76696c) or "
        "(substring(lcase(option[60].hex),0,4) == 0xc3a92d31) or "
    )
    assert phone == str(_dhcp4(text, None, (3, 0, 4))["client-classes"][0]["test"])
    assert "lcase" not in str(_dhcp4(text, None, (2, 2, 0))["client-classes"][0]["test"])


def test_lowered_prefix_with_an_upper_case_ascii_byte_never_matches() -> None:
    # str.lower leaves no upper-case ASCII letter, so this is the only way to reach "false":
    # a prefix is lowered; the engine compares it with data lowered by bytes.lower.
    assert kea._vendor_class_test("fanvil", kea.KeaInstall.for_version((2, 6, 3))) == (
        "(substring(lcase(option[60].hex),0,6) == 0x66616e76696c)"
    )


def test_full_mode_per_version() -> None:
    for version, key in (((2, 2, 0), "control-socket"), ((2, 6, 3), "control-socket")):
        dhcp4 = _dhcp4(BASE, _full(), version)
        assert dhcp4[key] == {"socket-type": "unix", "socket-name": "/run/kea/kea4-ctrl-socket"}
        assert "control-sockets" not in dhcp4
    dhcp4 = _dhcp4(BASE, _full(), (3, 0, 4))
    assert "control-socket" not in dhcp4
    assert dhcp4["control-sockets"] == [
        {"socket-type": "unix", "socket-name": "/run/kea/kea4-ctrl-socket"}
    ]
    assert dhcp4["lease-database"]["name"] == "/var/lib/kea/kea-leases4.csv"


def test_state_dir_is_refused_where_kea_restricts_folders() -> None:
    full = FullConfig("eth1", _full().subnet, _full().pool, "/srv/kea")
    assert _dhcp4(BASE, full, (2, 6, 2))["lease-database"]["name"] == "/srv/kea/kea-leases4.csv"
    line = (2, 6, kea_install.LINE_PATCH)
    for version, text in (((2, 6, 3), "2.6.3"), (line, "2.6"), ((3, 0, 4), "3.0.4")):
        with pytest.raises(RenderError) as caught:
            kea.render(parse_policy(BASE), full, kea_version=version)
        assert str(caught.value) == (
            f"kea: --state-dir: Kea {text} keeps lease files in /var/lib/kea and control sockets "
            "in /run/kea only (Kea 2.6.3 and later refuse other folders); leave --state-dir out"
        )


def test_kea_older_than_2_2_is_refused() -> None:
    with pytest.raises(RenderError) as caught:
        kea.render(parse_policy(BASE), kea_version=(2, 0, 8))
    assert str(caught.value) == (
        "kea: kea version: 2.0.8 is older than the oldest supported Kea, 2.2"
    )


PHONE_OPTIONS = (
    BASE
    + SITES
    + "    dhcp_options: {vlan: 30, sip_servers: [198.18.64.5]}\n"
    + "devices:\n  - mac: 0c383e113af8\n    dhcp_options: {ntp_servers: [198.18.9.9]}\n"
    + "  - mac: 0c383e113af9\n    model: C62\n"
    + "dhcp_options:\n  default: {vlan: 20, time_offset: -3600, tzdb_timezone: Europe/Zurich}\n"
    + "  models:\n    c62: {time_offset: 7200}\n"
)


def _data(entry: dict[str, Any]) -> list[tuple[int, bytes]]:
    return [(d["code"], bytes.fromhex(d["data"])) for d in entry["option-data"]]


def test_phone_options_per_class() -> None:
    classes = {c["name"]: c for c in _classes(PHONE_OPTIONS, sites_by_relay=True)}
    assert _data(classes["fanvil-device-0c383e113af8"]) == [(42, bytes([198, 18, 9, 9]))]
    # A device whose model alone sets options still gets a class of its own.
    assert _data(classes["fanvil-device-0c383e113af9"]) == [(2, bytes.fromhex("00001c20"))]
    site = _data(classes["fanvil-site-branch-a"])
    assert (120, bytes([1, 198, 18, 64, 5])) in site and (132, b"VLAN-A=30;") in site
    default = dict(_data(classes["fanvil-default"]))
    assert default[2] == bytes.fromhex("fffff1f0")  # -3600
    assert default[101] == b"Europe/Zurich" and default[132] == b"VLAN-A=20;"
    entries = [d for c in classes.values() for d in c.get("option-data", [])]
    assert all(d["csv-format"] is False and d["always-send"] is True for d in entries)


def test_vlan_code_kea_defines_is_refused() -> None:
    text = PHONE_OPTIONS.replace(
        "dhcp_options:\n  default:", "dhcp_options:\n  vlan_option: 137\n  default:"
    )
    with pytest.raises(RenderError) as caught:
        kea.render(parse_policy(text), sites_by_relay=True)
    assert str(caught.value).startswith(
        "kea: dhcp_options.vlan_option: Kea 2.2.0 defines option 137 itself, as v4-lost (fqdn)"
    )
    # Without a VLAN anywhere the code is unused, and nothing is refused.
    quiet = text.replace("vlan: 20, ", "").replace("vlan: 30, ", "")
    kea.render(parse_policy(quiet), sites_by_relay=True)
