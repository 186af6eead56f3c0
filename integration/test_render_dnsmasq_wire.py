"""The dnsmasq renderer against real dnsmasq 2.90: the hook's phone cases, exact bytes.

The policy and phone cases are test_hook_wire.py's. The configuration is the renderer's full
mode, plus two lines this test adds for the lab: a tagged range for the relayed network
(branch-a's subnet; FullConfig holds one subnet) and the server's own option 66 for every
other client (the role Kea's own option 66 plays in test_hook_wire.py).

Where dnsmasq cannot send the hook's bytes, the exact difference is asserted:
options 66 and 67 always end with a NUL byte in dnsmasq (its "buggy PXE" work-around); with
always_send false, a phone that does not ask for option 66 gets none (the server's own option
66 is hidden by the phone's tagged one, where the hook would leave the server's own).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import start_dnsmasq
from lab import Lab, ServerProcess, client_dora, netns_pair, require
from phones import (
    CASES,
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
    start_rendered_dnsmasq,
    vlan_format_policy,
)

from kea_fanvil.policy.loader import parse_policy
from kea_fanvil.render.dnsmasq import render
from kea_fanvil.wire.dhcp import DhcpMessage

NUL = b"\x00"  # dnsmasq appends it to options 66 and 67, whatever the configured value


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, ServerProcess]]:
    require("ip", "ss", "dnsmasq")
    with netns_pair("kf") as lab:
        tmp = tmp_path_factory.mktemp("render-dnsmasq")
        yield lab, start_rendered_dnsmasq(lab, tmp, always_send=True)


def _expected(case: Case) -> tuple[dict[int, bytes | None], bytes]:
    """The hook's expectation with dnsmasq's measured differences applied."""
    expect = dict(case.expect)
    for code in (66, 67):
        if expect.get(code) is not None:
            expect[code] = expect[code] + NUL  # type: ignore[operator]
    return expect, case.file


def _check(message: DhcpMessage, case: Case) -> None:
    check_message(message, *_expected(case))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_phone_gets_exact_options(dnsmasq: tuple[Lab, ServerProcess], case: Case) -> None:
    lab, _ = dnsmasq
    result = dora_case(lab, case)
    _check(result.offer, case)
    _check(result.ack, case)
    if case.relayed:
        assert str(result.ack.yiaddr).startswith("198.18.100.")


def test_vendor_class_is_a_case_insensitive_prefix(dnsmasq: tuple[Lab, ServerProcess]) -> None:
    lab, _ = dnsmasq
    lower = client_dora(lab, "02:00:00:00:01:01", b"fANVIL c62", PRL_BASIC)
    assert lower.ack.option(160) == b"http://prov.example.com/fanvil/$mac.cfg"
    # dhcp-vendorclass would match "My Fanvil" (substring); the engine and this config do not.
    inside = client_dora(lab, "02:00:00:00:01:02", b"My Fanvil", PRL_BASIC)
    assert inside.ack.option(160) is None
    assert inside.ack.option(66) == KEA_OWN_66 + NUL


def test_always_send_false_sends_only_what_was_asked(lab: Lab, tmp_path: Path) -> None:
    require("dnsmasq")
    start_rendered_dnsmasq(lab, tmp_path, always_send=False)
    silent = client_dora(lab, "0c:38:3e:00:02:01", b"Fanvil C62", PRL_BASIC)
    # Difference from the hook: dnsmasq's tagged (not forced) option 66 for phones hides the
    # server's own untagged one, so a phone that did not ask gets no option 66 at all (the
    # hook leaves the server's own option 66 in place).
    assert silent.ack.option(66) is None
    for code in (43, 67, 160):
        assert silent.ack.option(code) is None, code
    asked = client_dora(lab, "0c:38:3e:00:02:02", b"Fanvil C62", PRL_BASIC + bytes([66]))
    assert asked.ack.option(66) == b"http://prov.example.com/fanvil/$mac.cfg" + NUL
    assert asked.ack.option(43) is None
    assert asked.ack.option(160) is None
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC + bytes([43, 67]))
    assert device.ack.option(43) == DEVICE_URL
    assert device.ack.option(67) == b"desk-12.cfg" + NUL
    assert device.ack.option(66) is None  # not asked for; see above
    assert device.ack.file == b"desk-12.cfg"  # thanks to dhcp-no-override (full mode)


def test_device_asking_for_67_gets_option_and_file_field(
    dnsmasq: tuple[Lab, ServerProcess],
) -> None:
    lab, _ = dnsmasq
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC + bytes([66, 67]))
    assert device.ack.option(67) == b"desk-12.cfg" + NUL
    assert device.ack.option(66) == DEVICE_URL + NUL
    assert device.ack.file == b"desk-12.cfg"


def test_option_43_as_sub_option(lab: Lab, tmp_path: Path) -> None:
    require("dnsmasq")
    relayed_network_is_remote(lab)
    policy = parse_policy(
        POLICY.format(always_send="true").replace("option_43: string", "option_43: 1")
    )
    full = direct_full_config(lab, tmp_path)
    start_dnsmasq(lab, render(policy, full), tmp_path)
    phone = client_dora(lab, "0c:38:3e:00:03:01", None, PRL_BASIC)
    url = b"http://prov.example.com/fanvil/$mac.cfg"
    assert phone.ack.option(43) == bytes([1, len(url)]) + url


# --- phone options (policy.dhcp_options) --------------------------------------------------------


@pytest.fixture(scope="module")
def dnsmasq_phone_options(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Lab, ServerProcess]]:
    require("ip", "ss", "dnsmasq")
    with netns_pair("kf") as lab:
        tmp = tmp_path_factory.mktemp("render-dnsmasq-options")
        yield lab, start_rendered_dnsmasq(lab, tmp, True, PHONE_OPTIONS_POLICY)


@pytest.mark.parametrize("case", PHONE_OPTION_CASES, ids=[c.id for c in PHONE_OPTION_CASES])
def test_phone_options_equal_the_engines(
    dnsmasq_phone_options: tuple[Lab, ServerProcess], case: PhoneOptionsCase
) -> None:
    """Codes 2, 42, 100, 101, 120 and 132: device (with its model's) > site > default, with no
    NUL after 100 and 101 (dnsmasq adds one to 66 and 67 only)."""
    lab, _ = dnsmasq_phone_options
    result, expect = phone_options_dora(lab, case, always_send=True)
    check_message(result.offer, expect, result.offer.file)
    check_message(result.ack, expect, result.ack.file)


def test_phone_options_without_always_send(lab: Lab, tmp_path: Path) -> None:
    require("dnsmasq")
    start_rendered_dnsmasq(lab, tmp_path, False, PHONE_OPTIONS_POLICY)
    for case in PHONE_OPTION_CASES:
        result, expect = phone_options_dora(lab, case, always_send=False)
        check_message(result.ack, expect, result.ack.file)


@pytest.mark.parametrize(("vlan_format", "vlan", "data"), VLAN_FORMAT_CASES)
def test_vlan_formats(lab: Lab, tmp_path: Path, vlan_format: str, vlan: int, data: bytes) -> None:
    require("dnsmasq")
    start_rendered_dnsmasq(lab, tmp_path, True, vlan_format_policy(vlan_format, vlan))
    phone = client_dora(lab, "0c:38:3e:00:07:31", None, PRL_BASIC)
    assert phone.ack.option(132) == data
