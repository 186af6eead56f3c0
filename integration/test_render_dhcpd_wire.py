"""The dhcpd renderer against real ISC dhcpd 4.4.3: the hook's phone cases, exact bytes.

The policy and phone cases are test_hook_wire.py's. The configuration is the renderer's full
mode plus what this test adds for the lab: a subnet declaration for the relayed network
(branch-a's; FullConfig holds one subnet) and, for every other client, the server's own option
66 sent unasked (the role Kea's own always-send option 66 plays in test_hook_wire.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import start_dhcpd
from lab import Lab, ServerProcess, client_dora, netns_pair, require
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
    phone_options_dora,
    start_rendered_dhcpd,
    vlan_format_policy,
)

from kea_fanvil.policy.loader import parse_policy
from kea_fanvil.render.dhcpd import render

DHCPD = "/usr/sbin/dhcpd"


@pytest.fixture(scope="module")
def dhcpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, ServerProcess]]:
    require("ip", "ss", "dhcpd")
    with netns_pair("kf") as lab:
        tmp = tmp_path_factory.mktemp("render-dhcpd")
        yield lab, start_rendered_dhcpd(lab, tmp, always_send=True)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_phone_gets_exact_options(dhcpd: tuple[Lab, ServerProcess], case: Case) -> None:
    lab, _ = dhcpd
    result = dora_case(lab, case)
    check_message(result.offer, case.expect, case.file)
    check_message(result.ack, case.expect, case.file)
    if case.relayed:
        assert str(result.ack.yiaddr).startswith("198.18.100.")


def test_vendor_class_is_a_case_insensitive_prefix(dhcpd: tuple[Lab, ServerProcess]) -> None:
    lab, _ = dhcpd
    lower = client_dora(lab, "02:00:00:00:01:01", b"fANVIL c62", PRL_BASIC)
    assert lower.ack.option(160) == DEFAULT_URL
    inside = client_dora(lab, "02:00:00:00:01:02", b"My Fanvil", PRL_BASIC)
    assert inside.ack.option(160) is None
    assert inside.ack.option(66) == KEA_OWN_66


def test_always_send_false_sends_only_what_was_asked(lab: Lab, tmp_path: Path) -> None:
    require("dhcpd")
    start_rendered_dhcpd(lab, tmp_path, always_send=False)
    silent = client_dora(lab, "0c:38:3e:00:02:01", b"Fanvil C62", PRL_BASIC)
    # Difference from the hook: the server's own "send 66 unasked" (the global request-list
    # addition above) now sends the phone's option 66 value, which the fanvil class
    # supersedes; the hook would leave the server's own value.
    assert silent.ack.option(66) == DEFAULT_URL
    for code in (43, 67, 160):
        assert silent.ack.option(code) is None, code
    assert silent.ack.file == b""
    asked = client_dora(lab, "0c:38:3e:00:02:02", b"Fanvil C62", PRL_BASIC + bytes([66]))
    assert asked.ack.option(66) == DEFAULT_URL
    assert asked.ack.option(43) is None
    assert asked.ack.option(160) is None
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC + bytes([43, 67]))
    assert device.ack.option(43) == DEVICE_URL
    assert device.ack.option(67) == b"desk-12.cfg"
    assert device.ack.option(66) == DEVICE_URL  # the same global addition as above
    assert device.ack.option(160) is None
    assert device.ack.file == b"desk-12.cfg"


def test_option_43_as_sub_option(lab: Lab, tmp_path: Path) -> None:
    require("dhcpd")
    relayed_network_is_remote(lab)
    policy = parse_policy(
        POLICY.format(always_send="true").replace("option_43: string", "option_43: 1")
    )
    full = direct_full_config(lab, tmp_path)
    start_dhcpd(lab, render(policy, full), tmp_path)
    phone = client_dora(lab, "0c:38:3e:00:03:01", None, PRL_BASIC)
    assert phone.ack.option(43) == bytes([1, len(DEFAULT_URL)]) + DEFAULT_URL
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC)
    assert device.ack.option(43) == bytes([1, len(DEVICE_URL)]) + DEVICE_URL


# --- phone options (policy.dhcp_options) --------------------------------------------------------


@pytest.fixture(scope="module")
def dhcpd_phone_options(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Lab, ServerProcess]]:
    require("ip", "ss", "dhcpd")
    with netns_pair("kf") as lab:
        tmp = tmp_path_factory.mktemp("render-dhcpd-options")
        yield lab, start_rendered_dhcpd(lab, tmp, True, PHONE_OPTIONS_POLICY)


@pytest.mark.parametrize("case", PHONE_OPTION_CASES, ids=[c.id for c in PHONE_OPTION_CASES])
def test_phone_options_equal_the_engines(
    dhcpd_phone_options: tuple[Lab, ServerProcess], case: PhoneOptionsCase
) -> None:
    """Codes 2, 42, 100, 101, 120 and 132: device (with its model's) > site > default."""
    lab, _ = dhcpd_phone_options
    result, expect = phone_options_dora(lab, case, always_send=True)
    check_message(result.offer, expect, result.offer.file)
    check_message(result.ack, expect, result.ack.file)


def test_phone_options_without_always_send(lab: Lab, tmp_path: Path) -> None:
    require("dhcpd")
    start_rendered_dhcpd(lab, tmp_path, False, PHONE_OPTIONS_POLICY)
    for case in PHONE_OPTION_CASES:
        result, expect = phone_options_dora(lab, case, always_send=False)
        check_message(result.ack, expect, result.ack.file)


@pytest.mark.parametrize(("vlan_format", "vlan", "data"), VLAN_FORMAT_CASES)
def test_vlan_formats(lab: Lab, tmp_path: Path, vlan_format: str, vlan: int, data: bytes) -> None:
    require("dhcpd")
    start_rendered_dhcpd(lab, tmp_path, True, vlan_format_policy(vlan_format, vlan))
    phone = client_dora(lab, "0c:38:3e:00:07:31", None, PRL_BASIC)
    assert phone.ack.option(132) == data
