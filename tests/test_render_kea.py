"""The Kea-native renderer: structure, determinism and refusals."""

from __future__ import annotations

import json

import pytest

from kea_fanvil import RenderError, parse_policy
from kea_fanvil.render import kea

BASE = 'version: 1\nprovisioning:\n  url: "http://prov.example.com/$mac.cfg"\n'
SITES = 'sites:\n  - name: branch-a\n    subnet: 198.18.64.0/18\n    url: "http://a.example.com/"\n'


def _classes(text: str, **kwargs: bool) -> list[dict[str, object]]:
    document = json.loads(kea.render(parse_policy(text), None, **kwargs))
    classes: list[dict[str, object]] = document["Dhcp4"]["client-classes"]
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
    assert [d["code"] for d in default["option-data"]] == [43, 66, 160]  # type: ignore[union-attr]
    assert all(d["data"] == url for d in default["option-data"])  # type: ignore[union-attr]
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
    assert all("always-send" not in d for d in classes[-1]["option-data"])  # type: ignore[union-attr]


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
    from ipaddress import IPv4Address, IPv4Network

    from kea_fanvil.render import FullConfig

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
