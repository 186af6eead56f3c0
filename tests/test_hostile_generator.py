"""integration/hostile_packets.py, its pure part: what the generators make, without a network.

The wire test (integration/test_hostile_packets.py) relies on these properties: enough
packets, every kind, reproducible, addresses confined to 198.18.0.0/15, REQUESTs only from
the few lease MACs, and many packets a server parses as a phone's DISCOVER or REQUEST.
"""

from __future__ import annotations

import importlib.util
import random
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from kea_fanvil.errors import DhcpPacketError
from kea_fanvil.wire.dhcp import DhcpMessage


def _load() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "integration" / "hostile_packets.py"
    spec = importlib.util.spec_from_file_location("hostile_packets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hp = _load()
SEED = 6


@pytest.fixture(scope="module")
def packets() -> list[tuple[str, bytes]]:
    result: list[tuple[str, bytes]] = hp.packets(SEED)
    return result


def test_enough_packets_of_every_kind(packets: list[tuple[str, bytes]]) -> None:
    counts = Counter(kind for kind, _ in packets)
    assert sum(counts.values()) >= 20_000
    assert set(counts) == set(hp.KINDS)
    assert min(counts.values()) >= 500


def test_same_seed_same_packets(packets: list[tuple[str, bytes]]) -> None:
    assert hp.packets(SEED) == packets
    assert hp.packets(SEED + 1) != packets


def test_every_packet_fits_a_frame_and_keeps_to_the_lab_range(
    packets: list[tuple[str, bytes]],
) -> None:
    for _, payload in packets:
        assert len(payload) <= hp.MAX_PAYLOAD
        for start in (12, 16, 20, 24):
            field = payload[start : start + 4]
            if len(field) == 4 and any(field):
                assert field[0] == 198 and field[1] in (18, 19), payload.hex()


def test_every_packet_is_lease_safe(packets: list[tuple[str, bytes]]) -> None:
    assert all(hp.lease_safe(payload) for _, payload in packets)


def test_option_60_of_every_length_and_every_octet(packets: list[tuple[str, bytes]]) -> None:
    values = [
        value
        for kind, payload in packets
        if kind == "option-60"
        for code, value in hp.scan_options(payload[240:])
        if code == 60
    ]
    assert {len(value) for value in values} == set(range(256))
    fills = {value[0] for value in values if value and value == value[:1] * len(value)}
    assert fills == set(range(256))


def test_many_parse_as_a_phone_discover_or_request(packets: list[tuple[str, bytes]]) -> None:
    phones = 0
    for _, payload in packets:
        try:
            message = DhcpMessage.from_bytes(payload)
        except DhcpPacketError:
            continue
        phone = message.chaddr[:3] in hp.FANVIL_OUIS or b"anvil" in (message.option(60) or b"")
        if phone and message.message_type in (hp.DISCOVER, hp.REQUEST):
            phones += 1
    assert phones >= len(packets) // 3


def test_confine_moves_addresses_into_the_lab_range() -> None:
    header = bytes(12) + bytes((10, 0, 0, 1)) + bytes(8) + bytes((8, 8, 8, 8))
    confined = hp.confine(header)
    assert confined[12:16] == bytes((198, 18, 0, 1))
    assert confined[16:24] == bytes(8)  # 0.0.0.0 stays: it means "none"
    assert confined[24:28] == bytes((198, 18, 8, 8))
    assert hp.confine(b"\x01\x02") == b"\x01\x02"


def test_lease_safe_refuses_requests_from_anyone_else() -> None:
    rng = random.Random(1)
    request = hp.opt(53, bytes((hp.REQUEST,)))
    lease_mac = hp.LEASE_MACS[0]
    assert hp.lease_safe(hp.dhcp(rng, lease_mac, request))
    assert not hp.lease_safe(hp.dhcp(rng, bytes.fromhex("0c383e000001"), request))
    assert not hp.lease_safe(hp.dhcp(rng, lease_mac, request + hp.opt(61, b"\x01" + lease_mac)))
    assert not hp.lease_safe(hp.dhcp(rng, lease_mac, request, htype=6))
    discover = hp.opt(53, bytes((hp.DISCOVER,))) + hp.opt(61, b"\x01abcdef")
    assert hp.lease_safe(hp.dhcp(rng, bytes.fromhex("0c383e000001"), discover))
