"""Our wire client and namespace lab against real servers, with no hook loaded.

These prove the lab itself: that a DORA really crosses the veth, that the bytes we read are the
bytes the server put on the wire, and (the timeout test) that nothing passes without a server.
"""

from __future__ import annotations

import subprocess
import time
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from daemons import (
    dhcpd_conf,
    dnsmasq_conf,
    kea_config,
    start_dhcpd,
    start_dnsmasq,
    start_kea,
    statistic,
    wait_for_statistic,
)
from lab import (
    DIRECT_POOL,
    RELAYED_POOL,
    Lab,
    call_in_netns,
    client_dora,
    client_dora_relayed,
    client_release,
    client_release_relayed,
    require,
)

from kea_fanvil.errors import DhcpTimeout, InterfaceError
from kea_fanvil.kea_install import installed
from kea_fanvil.probe.dhcp_client import DoraResult
from kea_fanvil.wire.dhcp import BOOTREPLY, DHCPACK, DHCPOFFER, FLAG_BROADCAST

URL = "http://198.18.0.1/Fanvil/$mac.cfg"
MAC = "0c:38:3e:07:e1:6c"
VENDOR_CLASS = b"Fanvil X4 2.10.2.6887"
PRL = bytes([1, 3, 6, 66])  # subnet mask, router, DNS, TFTP server name


def _in_pool(address: IPv4Address, pool: tuple[str, str]) -> bool:
    return IPv4Address(pool[0]) <= address <= IPv4Address(pool[1])


def _assert_dora(result: DoraResult, server_id: str, pool: tuple[str, str]) -> None:
    assert result.offer.message_type == DHCPOFFER
    assert result.ack.message_type == DHCPACK
    for reply in (result.offer, result.ack):
        assert reply.op == BOOTREPLY
        assert reply.chaddr == bytes.fromhex(MAC.replace(":", ""))
        assert reply.option(54) == IPv4Address(server_id).packed
    assert result.ack.xid == result.offer.xid
    assert result.ack.yiaddr == result.offer.yiaddr
    assert _in_pool(result.ack.yiaddr, pool)


@pytest.mark.parametrize("multi_threading", [False, True], ids=["single", "threads"])
def test_kea_option_data_66_reaches_the_client(
    lab: Lab, tmp_path: Path, multi_threading: bool
) -> None:
    kea = start_kea(
        lab,
        kea_config(
            lab,
            option_data=[{"name": "tftp-server-name", "data": URL}],
            multi_threading=multi_threading,
        ),
        tmp_path,
    )
    enabled = "yes" if multi_threading else "no"
    assert f"DHCP4_MULTI_THREADING_INFO enabled: {enabled}" in kea.log()
    started = time.monotonic()
    result = client_dora(lab, MAC, VENDOR_CLASS, PRL)
    elapsed = time.monotonic() - started

    _assert_dora(result, lab.srv_ip, DIRECT_POOL)
    assert result.offer.flags & FLAG_BROADCAST
    assert result.offer.option(66) == URL.encode()  # Kea's string type: no trailing NUL
    assert result.ack.option(66) == URL.encode()
    assert result.ack.option(1) == bytes([255, 255, 255, 0])
    assert result.server_mac is not None and len(result.server_mac) == 6
    assert elapsed < 2.0  # one child python plus a DORA: no retry was needed


def test_kea_without_option_data_sends_no_66(lab: Lab, tmp_path: Path) -> None:
    start_kea(lab, kea_config(lab), tmp_path)
    result = client_dora(lab, MAC, VENDOR_CLASS, PRL)
    _assert_dora(result, lab.srv_ip, DIRECT_POOL)
    assert result.ack.option(66) is None


def test_release_frees_the_lease_in_kea(lab: Lab, tmp_path: Path) -> None:
    kea = start_kea(lab, kea_config(lab), tmp_path)
    lease = client_dora(lab, MAC, VENDOR_CLASS, PRL)
    assert statistic(kea.control_socket, "subnet[1].assigned-addresses") == 1

    client_release(lab, MAC, lease)

    deadline = time.monotonic() + 3
    while statistic(kea.control_socket, "pkt4-release-received") < 1:
        assert time.monotonic() < deadline, kea.log()
        time.sleep(0.02)
    log = kea.log()
    assert f"address {lease.address} was released properly" in log
    if installed().expires_released_leases:
        # 2.6 and later keep the lease, expired, for the same client (lease affinity); it
        # stops counting as assigned when the reclamation routine (every second here) runs.
        assert f"address {lease.address} expired on release" in log, log
        wait_for_statistic(kea, "reclaimed-leases", 1)
    assert statistic(kea.control_socket, "subnet[1].assigned-addresses") == 0


def test_relayed_dora_gets_an_address_from_the_relay_subnet(lab: Lab, tmp_path: Path) -> None:
    kea = start_kea(
        lab, kea_config(lab, option_data=[{"name": "tftp-server-name", "data": URL}]), tmp_path
    )
    result = client_dora_relayed(lab, MAC, VENDOR_CLASS, PRL)

    _assert_dora(result, lab.srv_ip, RELAYED_POOL)
    assert result.ack.giaddr == IPv4Address(lab.relay_ip)
    assert result.ack.option(1) == bytes([255, 255, 192, 0])
    assert result.ack.option(66) == URL.encode()
    assert statistic(kea.control_socket, "subnet[2].assigned-addresses") == 1
    assert statistic(kea.control_socket, "subnet[1].assigned-addresses") == 0

    client_release_relayed(lab, MAC, result)
    deadline = time.monotonic() + 3
    while statistic(kea.control_socket, "subnet[2].assigned-addresses") != 0:
        assert time.monotonic() < deadline, kea.log()
        time.sleep(0.02)


def test_dnsmasq_sends_66_with_a_trailing_nul(lab: Lab, tmp_path: Path) -> None:
    require("dnsmasq")
    start_dnsmasq(lab, dnsmasq_conf(lab, f'dhcp-option=66,"{URL}"\n'), tmp_path)
    result = client_dora(lab, MAC, VENDOR_CLASS, PRL)

    _assert_dora(result, lab.srv_ip, DIRECT_POOL)
    assert result.offer.option(66) == URL.encode() + b"\0"  # FIELD-NOTES: dnsmasq 2.90
    assert result.ack.option(66) == URL.encode() + b"\0"


def test_dhcpd_sends_66_as_written(lab: Lab, tmp_path: Path) -> None:
    require("dhcpd")
    start_dhcpd(lab, dhcpd_conf(lab, f'option tftp-server-name "{URL}";'), tmp_path)
    result = client_dora(lab, MAC, VENDOR_CLASS, PRL)

    _assert_dora(result, lab.srv_ip, DIRECT_POOL)
    assert result.offer.option(66) == URL.encode()
    assert result.ack.option(66) == URL.encode()


def test_without_a_server_dora_times_out_in_bounded_time(lab: Lab) -> None:
    started = time.monotonic()
    with pytest.raises(DhcpTimeout, match=r"no DHCPOFFER after 2 tries of 0\.3 s"):
        client_dora(lab, MAC, VENDOR_CLASS, PRL, timeout=0.3, retries=1)
    assert time.monotonic() - started < 3.0


def test_relayed_without_a_server_times_out(lab: Lab) -> None:
    with pytest.raises(DhcpTimeout, match=r"no DHCPOFFER after 1 tries of 0\.2 s"):
        client_dora_relayed(lab, MAC, VENDOR_CLASS, PRL, timeout=0.2, retries=0)


def test_missing_interface_is_named(lab: Lab) -> None:
    with pytest.raises(InterfaceError, match="no network interface named 'nosuch0' here"):
        client_dora(lab, MAC, iface="nosuch0", timeout=0.1, retries=0)


def test_interface_down_is_reported(lab: Lab) -> None:
    # A veth pair inside the client namespace, left down (this kernel has no dummy driver).
    add = ["ip", "-n", lab.cli_ns, "link", "add", "kfdown0", "type", "veth"]
    subprocess.run([*add, "peer", "name", "kfdown1"], check=True)
    with pytest.raises(InterfaceError, match="interface 'kfdown0' is down"):
        call_in_netns(lab.cli_ns, "dora", iface="kfdown0", mac=MAC, timeout=0.1, retries=0)
