"""The dhcpd renderer against real ISC dhcpd 4.4.3: the hook's phone cases, exact bytes.

The policy and phone cases are test_hook_wire.py's. The configuration is the renderer's full
mode plus what this test adds for the lab: a subnet declaration for the relayed network
(branch-a's; FullConfig holds one subnet) and, for every other client, the server's own option
66 sent unasked (the role Kea's own always-send option 66 plays in test_hook_wire.py).
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab import (
    DIRECT_POOL,
    RELAYED_POOL,
    Lab,
    ServerProcess,
    client_dora,
    client_dora_relayed,
    netns_pair,
    require,
    start_dhcpd,
)
from test_hook_wire import CASES, DEFAULT_URL, DEVICE_URL, KEA_OWN_66, POLICY, PRL_BASIC, Case

from kea_fanvil.dhcp_client import DoraResult
from kea_fanvil.dhcp_packet import DhcpMessage
from kea_fanvil.policy_file import parse_policy
from kea_fanvil.render import FullConfig
from kea_fanvil.render.dhcpd import render

DHCPD = "/usr/sbin/dhcpd"


def _relayed_network_is_remote(lab: Lab) -> None:
    """Make 198.18.64.0/18 a routed network, not one of the server interface's own.

    dhcpd refuses an interface whose addresses fall in two subnets outside one
    shared-network; with the relay network reached by a route only, it is declared as the
    remote subnet it stands for.
    """
    for argv in (
        ("addr", "del", f"{lab.srv_relay_ip}/18", "dev", lab.srv_if),
        ("route", "add", "198.18.64.0/18", "dev", lab.srv_if, "src", lab.srv_ip),
    ):
        subprocess.run(["ip", "-n", lab.srv_ns, *argv], check=True, capture_output=True)


def _config(lab: Lab, tmp: Path, always_send: bool) -> str:
    policy = parse_policy(POLICY.format(always_send="true" if always_send else "false"))
    full = FullConfig(
        interface=lab.srv_if,
        subnet=ipaddress.IPv4Network("198.18.0.0/24"),
        pool=(ipaddress.IPv4Address(DIRECT_POOL[0]), ipaddress.IPv4Address(DIRECT_POOL[1])),
        state_dir=str(tmp),
    )
    return render(policy, full) + (
        "\n# Added by the test: the relayed network, and the server's own option 66 sent to\n"
        "# every client unasked (the fanvil class supersedes both for phones).\n"
        "subnet 198.18.64.0 netmask 255.255.192.0 {\n"
        f"  range {RELAYED_POOL[0]} {RELAYED_POOL[1]};\n"
        "}\n"
        f'option tftp-server-name "{KEA_OWN_66.decode()}";\n'
        "option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, 42);\n"
    )


def _start(lab: Lab, tmp: Path, always_send: bool) -> ServerProcess:
    _relayed_network_is_remote(lab)
    text = _config(lab, tmp, always_send)
    conf = tmp / "checked.conf"
    conf.write_text(text)
    check = subprocess.run(
        [DHCPD, "-t", "-cf", str(conf)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    return start_dhcpd(lab, text, tmp)


@pytest.fixture(scope="module")
def dhcpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, ServerProcess]]:
    require("ip", "ss", "dhcpd")
    with netns_pair("kf") as lab:
        tmp = tmp_path_factory.mktemp("render-dhcpd")
        yield lab, _start(lab, tmp, always_send=True)


def _dora(lab: Lab, case: Case) -> DoraResult:
    if case.relayed:
        return client_dora_relayed(lab, case.mac, case.vendor_class, case.prl)
    return client_dora(lab, case.mac, case.vendor_class, case.prl)


def _check(message: DhcpMessage, case: Case) -> None:
    for code, data in case.expect.items():
        assert message.option(code) == data, f"option {code} in {message.message_type}"
    assert message.file == case.file


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_phone_gets_exact_options(dhcpd: tuple[Lab, ServerProcess], case: Case) -> None:
    lab, _ = dhcpd
    result = _dora(lab, case)
    _check(result.offer, case)
    _check(result.ack, case)
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
    _start(lab, tmp_path, always_send=False)
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
    _relayed_network_is_remote(lab)
    policy = parse_policy(
        POLICY.format(always_send="true").replace("option_43: string", "option_43: 1")
    )
    full = FullConfig(
        lab.srv_if,
        ipaddress.IPv4Network("198.18.0.0/24"),
        (ipaddress.IPv4Address(DIRECT_POOL[0]), ipaddress.IPv4Address(DIRECT_POOL[1])),
        str(tmp_path),
    )
    start_dhcpd(lab, render(policy, full), tmp_path)
    phone = client_dora(lab, "0c:38:3e:00:03:01", None, PRL_BASIC)
    assert phone.ack.option(43) == bytes([1, len(DEFAULT_URL)]) + DEFAULT_URL
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC)
    assert device.ack.option(43) == bytes([1, len(DEVICE_URL)]) + DEVICE_URL
