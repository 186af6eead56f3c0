"""The Kea-native renderer against the real, installed kea-dhcp4 (no hook): the hook's phone
cases, rendered for that Kea's version.

The policy and phone cases are phones.py's, as for the hook; the rendered client classes are
merged into the lab's Kea configuration, checked with `kea-dhcp4 -t`, and served for real.
Sites are rendered by relay address (`sites_by_relay`), which is all the relayed case needs;
full mode, which decides the offered-address half of a site from the pool, runs on its own.
Every phone case's bytes equal the hook's; the one measured difference (with always_send
false and a server-wide always-send option 66) is asserted exactly below.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemons import kea_config, start_kea
from lab import Lab, client_dora, client_dora_relayed, netns_pair
from phones import (
    CASES,
    DEFAULT_URL,
    DEVICE_URL,
    KEA_OWN_66,
    POLICY,
    PRL_BASIC,
    Case,
    check_message,
    direct_full_config,
    dora_case,
    relayed_network_is_remote,
)
from servers import (
    PHONE_OPTION_CASES,
    PHONE_OPTIONS_POLICY,
    VLAN_FORMAT_CASES,
    PhoneOptionsCase,
    native_kea_config,
    phone_options_dora,
    start_native_kea,
    vlan_format_policy,
)

from kea_fanvil.engine import Engine, Request
from kea_fanvil.kea_install import installed
from kea_fanvil.policy.loader import parse_policy
from kea_fanvil.render.kea import render


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with netns_pair("kf") as lab:
        start_native_kea(
            lab, tmp_path_factory.mktemp("render-kea"), POLICY.format(always_send="true")
        )
        yield lab


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_phone_gets_the_hooks_bytes(native: Lab, case: Case) -> None:
    result = dora_case(native, case)
    check_message(result.offer, case.expect, case.file)
    check_message(result.ack, case.expect, case.file)


def test_vendor_class_is_a_case_insensitive_prefix(native: Lab) -> None:
    lower = client_dora(native, "02:00:00:00:01:01", b"fANVIL c62", PRL_BASIC)
    assert lower.ack.option(160) == DEFAULT_URL
    inside = client_dora(native, "02:00:00:00:01:02", b"My Fanvil", PRL_BASIC)
    assert inside.ack.option(160) is None
    assert inside.ack.option(66) == KEA_OWN_66


def test_always_send_false_sends_only_what_was_asked(lab: Lab, tmp_path: Path) -> None:
    start_native_kea(lab, tmp_path, POLICY.format(always_send="false"))
    silent = client_dora(lab, "0c:38:3e:00:02:01", b"Fanvil C62", PRL_BASIC)
    # Difference from the hook, measured: Kea's own option 66 is always-send, so Kea adds code
    # 66 unasked and takes its value from the highest-precedence scope that defines it, the
    # phone's class. The hook would leave Kea's own value.
    assert silent.ack.option(66) == DEFAULT_URL
    for code in (43, 67, 160):
        assert silent.ack.option(code) is None, code
    asked = client_dora(lab, "0c:38:3e:00:02:02", b"Fanvil C62", PRL_BASIC + bytes([66]))
    assert asked.ack.option(66) == DEFAULT_URL
    assert asked.ack.option(43) is None and asked.ack.option(160) is None
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC + bytes([43, 67, 160]))
    assert device.ack.option(43) == DEVICE_URL
    assert device.ack.option(160) == DEVICE_URL
    assert device.ack.option(67) == b"desk-12.cfg"
    assert device.ack.file == b"desk-12.cfg"


def test_option_43_as_sub_option(lab: Lab, tmp_path: Path) -> None:
    text = POLICY.format(always_send="true").replace("option_43: string", "option_43: 1")
    start_native_kea(lab, tmp_path, text)
    phone = client_dora(lab, "0c:38:3e:00:03:01", None, PRL_BASIC)
    assert phone.ack.option(43) == bytes([1, len(DEFAULT_URL)]) + DEFAULT_URL
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC)
    assert device.ack.option(43) == bytes([1, len(DEVICE_URL)]) + DEVICE_URL


OVERLAPPING = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
delivery:
  custom_option: 160
sites:
  - name: relay-a
    subnet: 198.18.64.0/18
    url: "http://relay-a.example.com/$mac.cfg"
  - name: hq
    subnet: 198.18.0.0/24
    url: "http://hq.example.com/$mac.cfg"
  - name: wide
    subnet: [198.18.0.0/16]
    url: "http://wide.example.com/$mac.cfg"
    boot_file: "wide.cfg"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    url: "https://prov.example.com/special/desk-12/"
"""
RELAY_A_URL = b"http://relay-a.example.com/$mac.cfg"
HQ_URL = b"http://hq.example.com/$mac.cfg"
WIDE_URL = b"http://wide.example.com/$mac.cfg"


def _checked_kea(lab: Lab, tmp: Path, config: dict[str, Any]) -> None:
    path = tmp / "checked.json"
    path.write_text(json.dumps(config))
    check = subprocess.run(
        lab.exec_argv(lab.srv_ns, "kea-dhcp4", "-t", str(path)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    start_kea(lab, config, tmp)


def _engine_agrees(text: str, mac: str, result_yiaddr: ipaddress.IPv4Address, relayed: bool) -> Any:
    giaddr = ipaddress.IPv4Address("198.18.64.2" if relayed else "0.0.0.0").packed
    request = Request(
        bytes.fromhex(mac.replace(":", "")), None, PRL_BASIC, giaddr, result_yiaddr.packed
    )
    return Engine(parse_policy(text)).decide(request)


def test_only_the_first_matching_site_counts(lab: Lab, tmp_path: Path) -> None:
    """A relayed phone matches relay-a and wide; wide's boot file must not leak in."""
    policy = parse_policy(OVERLAPPING)
    fragment = json.loads(
        render(policy, None, sites_by_relay=True, kea_version=installed().version)
    )
    config = kea_config(lab)
    config["Dhcp4"].update(fragment["Dhcp4"])
    _checked_kea(lab, tmp_path, config)
    phone = client_dora_relayed(lab, "0c:38:3e:00:04:01", None, PRL_BASIC)
    for message in (phone.offer, phone.ack):
        check_message(message, {43: RELAY_A_URL, 66: RELAY_A_URL, 160: RELAY_A_URL, 67: None}, b"")
    decision = _engine_agrees(OVERLAPPING, "0c:38:3e:00:04:01", phone.address, True)
    assert (decision.site, decision.boot_file) == ("relay-a", None)


def test_full_configuration_matches_sites_by_offered_address(lab: Lab, tmp_path: Path) -> None:
    """Full mode: the pool lies in hq (and wide), so a direct phone gets hq's URL, no boot file."""
    relayed_network_is_remote(lab)  # one address on the interface: Kea answers once
    text = render(
        parse_policy(OVERLAPPING), direct_full_config(lab, None), kea_version=installed().version
    )
    config = json.loads(text)
    # start_kea waits for DHCP4_STARTED in a log file it names: give it a logger to name.
    config["Dhcp4"]["loggers"] = kea_config(lab)["Dhcp4"]["loggers"]
    _checked_kea(lab, tmp_path, config)
    phone = client_dora(lab, "0c:38:3e:00:05:01", b"Fanvil X4", PRL_BASIC)
    for message in (phone.offer, phone.ack):
        check_message(message, {43: HQ_URL, 66: HQ_URL, 160: HQ_URL, 67: None}, b"")
    decision = _engine_agrees(OVERLAPPING, "0c:38:3e:00:05:01", phone.address, False)
    assert (decision.site, decision.url) == ("hq", HQ_URL.decode())
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC)
    check_message(device.ack, {43: DEVICE_URL, 66: DEVICE_URL, 160: DEVICE_URL, 67: None}, b"")
    other = client_dora(lab, "00:15:65:00:05:02", b"yealink", PRL_BASIC)
    check_message(other.ack, {43: None, 66: None, 67: None, 160: None}, b"")


# --- phone options (policy.dhcp_options) --------------------------------------------------------


@pytest.fixture(scope="module")
def native_phone_options(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with netns_pair("kf") as lab:
        text = PHONE_OPTIONS_POLICY.format(always_send="true")
        start_native_kea(lab, tmp_path_factory.mktemp("render-kea-options"), text)
        yield lab


@pytest.mark.parametrize("case", PHONE_OPTION_CASES, ids=[c.id for c in PHONE_OPTION_CASES])
def test_phone_options_equal_the_engines(native_phone_options: Lab, case: PhoneOptionsCase) -> None:
    """Codes 2, 42, 100, 101, 120 and 132: device (with its model's) > site > default."""
    result, expect = phone_options_dora(native_phone_options, case, always_send=True)
    check_message(result.offer, expect, result.offer.file)
    check_message(result.ack, expect, result.ack.file)


def test_phone_options_without_always_send(lab: Lab, tmp_path: Path) -> None:
    start_native_kea(lab, tmp_path, PHONE_OPTIONS_POLICY.format(always_send="false"))
    for case in PHONE_OPTION_CASES:
        result, expect = phone_options_dora(lab, case, always_send=False)
        check_message(result.ack, expect, result.ack.file)


def test_subnet_option_data_beats_the_classes(lab: Lab, tmp_path: Path) -> None:
    """Measured: a subnet's own option-data for a code beats the phone classes' (Kea's option
    precedence: reservation, pool, subnet, shared network, class, global)."""
    config = native_kea_config(lab, PHONE_OPTIONS_POLICY.format(always_send="true"))
    ntp = {"name": "ntp-servers", "data": "198.18.0.250"}
    config["Dhcp4"]["subnet4"][0]["option-data"] = [ntp]
    _checked_kea(lab, tmp_path, config)
    phone = client_dora(lab, "0c:38:3e:00:07:11", None, PRL_BASIC)
    assert phone.ack.option(42) == bytes([198, 18, 0, 250])  # the engine: 198.18.0.1, .2
    assert phone.ack.option(101) == b"Europe/Zurich"  # codes the subnet leaves alone


@pytest.mark.parametrize(("vlan_format", "vlan", "data"), VLAN_FORMAT_CASES)
def test_vlan_formats(lab: Lab, tmp_path: Path, vlan_format: str, vlan: int, data: bytes) -> None:
    start_native_kea(
        lab, tmp_path, vlan_format_policy(vlan_format, vlan).format(always_send="true")
    )
    phone = client_dora(lab, "0c:38:3e:00:07:31", None, PRL_BASIC)
    assert phone.ack.option(132) == data
