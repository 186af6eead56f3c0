"""kea_fanvil.wire.dhcp: RFC 2131/2132 layout, RFC 3396 concatenation, option overload."""

from __future__ import annotations

import contextlib
import struct
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kea_fanvil.errors import DhcpPacketError
from kea_fanvil.probe.dhcp_client import build_frame, parse_frame
from kea_fanvil.wire import dhcp as dhcp_packet
from kea_fanvil.wire.dhcp import (
    BOOTREPLY,
    BOOTREQUEST,
    DHCPDISCOVER,
    DHCPRELEASE,
    DHCPREQUEST,
    FLAG_BROADCAST,
    MAGIC_COOKIE,
    DhcpMessage,
    encode_option,
    parse_mac,
)

MAC = "0c:38:3e:07:e1:6c"
MAC_BYTES = bytes.fromhex("0c383e07e16c")


def _header(op: int = BOOTREPLY, hlen: int = 6, sname: bytes = b"", file: bytes = b"") -> bytes:
    """A raw RFC 2131 header (236 octets) followed by the magic cookie."""
    return (
        struct.pack("!BBBBIHH", op, 1, hlen, 0, 0x01020304, 0, 0)
        + bytes(16)
        + MAC_BYTES.ljust(16, b"\0")
        + sname.ljust(64, b"\0")
        + file.ljust(128, b"\0")
        + MAGIC_COOKIE
    )


# --- layout -------------------------------------------------------------------------------------


def test_discover_layout_on_the_wire() -> None:
    wire = dhcp_packet.discover(MAC, 0xDEADBEEF, b"Fanvil X4", bytes([1, 3, 66])).to_bytes()

    assert len(wire) == 300  # RFC 1542 minimum
    assert wire[:4] == bytes([BOOTREQUEST, 1, 6, 0])  # op, htype, hlen, hops
    assert wire[4:8] == bytes.fromhex("deadbeef")
    assert wire[10:12] == b"\x80\x00"  # BROADCAST flag
    assert wire[28:44] == MAC_BYTES + bytes(10)
    assert wire[236:240] == MAGIC_COOKIE
    assert wire[240:].startswith(
        bytes([53, 1, DHCPDISCOVER]) + bytes([60, 9]) + b"Fanvil X4" + bytes([55, 3, 1, 3, 66, 255])
    )


def test_request_carries_50_and_54_and_release_carries_ciaddr() -> None:
    req = dhcp_packet.request(MAC, 7, "198.18.0.100", "198.18.0.1")
    assert req.message_type == DHCPREQUEST
    assert req.option(50) == IPv4Address("198.18.0.100").packed
    assert req.option(54) == IPv4Address("198.18.0.1").packed
    assert req.ciaddr == IPv4Address(0)
    assert req.flags == FLAG_BROADCAST

    rel = dhcp_packet.release(MAC, 8, "198.18.0.100", "198.18.0.1")
    assert rel.message_type == DHCPRELEASE
    assert rel.ciaddr == IPv4Address("198.18.0.100")
    assert rel.option(54) == IPv4Address("198.18.0.1").packed
    assert rel.option(50) is None
    assert rel.flags == 0


def test_relayed_discover_sets_giaddr_and_one_hop() -> None:
    msg = dhcp_packet.discover(MAC, 1, giaddr="198.18.64.2", hostname=b"phone")
    assert msg.giaddr == IPv4Address("198.18.64.2")
    assert msg.hops == 1
    assert msg.option(12) == b"phone"


@pytest.mark.parametrize(
    "message",
    [
        dhcp_packet.discover(MAC, 1, b"Fanvil X4", bytes([1, 3, 6, 66])),
        dhcp_packet.request(MAC, 2, "198.18.0.100", "198.18.0.1", b"Fanvil", b"\x42"),
        dhcp_packet.release(MAC, 3, "198.18.0.100", "198.18.0.1"),
        DhcpMessage(
            op=BOOTREPLY,
            xid=4,
            yiaddr=IPv4Address("198.18.0.100"),
            siaddr=IPv4Address("198.18.0.1"),
            chaddr=MAC_BYTES,
            sname=b"prov",
            file=b"0c383e07e16c.cfg",
            options=[(53, b"\x05"), (66, b"http://x/$mac.cfg"), (43, b"")],
        ),
    ],
)
def test_round_trip(message: DhcpMessage) -> None:
    assert DhcpMessage.from_bytes(message.to_bytes()) == message


def test_message_type_and_option_when_absent_or_odd() -> None:
    msg = DhcpMessage(op=BOOTREPLY, xid=1, options=[(53, b"\x01\x02")])
    assert msg.message_type is None
    assert msg.option(66) is None
    assert DhcpMessage(op=BOOTREPLY, xid=1).message_type is None


def test_sname_and_file_stop_at_the_first_nul() -> None:
    raw = _header(sname=b"srv\0junk", file=b"boot.cfg\0junk") + bytes([255])
    msg = DhcpMessage.from_bytes(raw)
    assert (msg.sname, msg.file) == (b"srv", b"boot.cfg")


def test_missing_end_and_trailing_padding_are_accepted() -> None:
    no_end = DhcpMessage.from_bytes(_header() + bytes([53, 1, 2]))
    assert no_end.options == [(53, b"\x02")]
    padded = DhcpMessage.from_bytes(_header() + bytes([0, 0, 53, 1, 2, 255, 66, 9, 9]))
    assert padded.options == [(53, b"\x02")]


# --- RFC 3396 -----------------------------------------------------------------------------------


def test_long_option_is_split_into_255_octet_instances() -> None:
    value = bytes(range(256)) * 2 + b"x" * 88  # 600 octets
    encoded = encode_option(43, value)
    assert encoded[0:2] == bytes([43, 255])
    assert encoded[257:259] == bytes([43, 255])
    assert encoded[514:516] == bytes([43, 90])
    msg = DhcpMessage(op=BOOTREPLY, xid=1, options=[(53, b"\x02"), (43, value)])
    assert DhcpMessage.from_bytes(msg.to_bytes()).option(43) == value


def test_repeated_instances_are_concatenated_at_the_first_position() -> None:
    raw = _header() + bytes([43, 2]) + b"ab" + bytes([53, 1, 2, 43, 2]) + b"cd" + bytes([255])
    msg = DhcpMessage.from_bytes(raw)
    assert msg.options == [(43, b"abcd"), (53, b"\x02")]


# --- option overload (RFC 2131 section 4.1, RFC 2132 section 9.3) ------------------------------


def test_overload_both_fields_reads_options_then_file_then_sname() -> None:
    file_options = bytes([66, 3]) + b"tft" + bytes([255])
    sname_options = bytes([67, 4]) + b"boot" + bytes([255])
    raw = _header(sname=sname_options, file=file_options) + bytes([53, 1, 5, 52, 1, 3, 255])
    msg = DhcpMessage.from_bytes(raw)
    assert msg.options == [(53, b"\x05"), (52, b"\x03"), (66, b"tft"), (67, b"boot")]
    assert (msg.sname, msg.file) == (b"", b"")


def test_overload_file_only_keeps_sname_as_a_name() -> None:
    raw = _header(sname=b"server", file=bytes([66, 1]) + b"t") + bytes([52, 1, 1, 255])
    msg = DhcpMessage.from_bytes(raw)
    assert msg.option(66) == b"t"
    assert (msg.sname, msg.file) == (b"server", b"")


def test_concatenation_spans_the_overloaded_fields() -> None:
    raw = _header(file=bytes([43, 3]) + b"def") + bytes([43, 3]) + b"abc" + bytes([52, 1, 1])
    assert DhcpMessage.from_bytes(raw).option(43) == b"abcdef"


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "shorter than a DHCP header"),
        (_header()[:-1], "shorter than a DHCP header"),
        (_header()[:-4] + b"\0\0\0\0", "no DHCP magic cookie"),
        (_header(op=3), "op 3 is neither"),
        (_header(hlen=17), "hlen 17 exceeds"),
        (_header() + bytes([66, 10]) + b"short", "option 66 in the options field claims 10"),
        (_header() + bytes([53]), "option 53 in the options field has no length octet"),
        (_header() + bytes([52, 1, 4]), "option 52 .overload. must appear once"),
        (_header() + bytes([52, 2, 1, 1]), "option 52 .overload. must appear once"),
        (_header() + bytes([52, 1, 1, 52, 1, 1]), "option 52 .overload. must appear once"),
        (_header(file=b"\x42\xff") + bytes([52, 1, 1]), "option 66 in the file field claims 255"),
    ],
)
def test_malformed_input_raises_dhcp_packet_error(raw: bytes, message: str) -> None:
    with pytest.raises(DhcpPacketError, match=message):
        DhcpMessage.from_bytes(raw)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (DhcpMessage(op=1, xid=1, chaddr=bytes(17)), "chaddr is longer than 16 octets"),
        (DhcpMessage(op=1, xid=1, file=bytes(129)), "file is longer than 128 octets"),
        (DhcpMessage(op=1, xid=2**32), "header field out of range"),
        (DhcpMessage(op=1, xid=1, options=[(0, b"")]), "option code 0 is not 1-254"),
        (DhcpMessage(op=1, xid=1, options=[(255, b"")]), "option code 255 is not 1-254"),
    ],
)
def test_unencodable_message_raises(message: DhcpMessage, error: str) -> None:
    with pytest.raises(DhcpPacketError, match=error):
        message.to_bytes()


def test_parse_mac() -> None:
    assert parse_mac(MAC) == MAC_BYTES
    assert parse_mac("0C-38-3E-07-E1-6C") == MAC_BYTES
    assert parse_mac("0c38.3e07.e16c") == MAC_BYTES
    assert parse_mac(MAC_BYTES) == MAC_BYTES
    with pytest.raises(DhcpPacketError, match="is not a MAC address"):
        parse_mac("zz:38:3e:07:e1:6c")
    with pytest.raises(DhcpPacketError, match="6 octets, got 5"):
        parse_mac("0c:38:3e:07:e1")


@given(st.binary(max_size=600))
def test_random_bytes_raise_only_dhcp_packet_error(data: bytes) -> None:
    with contextlib.suppress(DhcpPacketError):
        DhcpMessage.from_bytes(data)


@given(st.binary(max_size=400), st.binary(max_size=64), st.binary(max_size=128))
def test_random_options_raise_only_dhcp_packet_error(
    options: bytes, sname: bytes, file: bytes
) -> None:
    with contextlib.suppress(DhcpPacketError):
        DhcpMessage.from_bytes(_header(sname=sname, file=file) + options)


_codes = st.integers(1, 254).filter(lambda c: c != 52)


@given(
    st.dictionaries(_codes, st.binary(max_size=700), max_size=6),
    st.integers(0, 2**32 - 1),
    st.binary(min_size=0, max_size=16),
    st.binary(max_size=64).map(lambda b: b.replace(b"\0", b"")),
    st.binary(max_size=128).map(lambda b: b.replace(b"\0", b"")),
)
def test_round_trip_property(
    options: dict[int, bytes], xid: int, chaddr: bytes, sname: bytes, file: bytes
) -> None:
    message = DhcpMessage(
        op=BOOTREPLY, xid=xid, chaddr=chaddr, sname=sname, file=file, options=list(options.items())
    )
    assert DhcpMessage.from_bytes(message.to_bytes()) == message


# --- frames (kea_fanvil.probe.dhcp_client) ------------------------------------------------------


def _checksum_ok(data: bytes) -> bool:
    data = data + b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def test_frame_checksums_and_parse_back() -> None:
    payload = dhcp_packet.discover(MAC, 9).to_bytes() + b"\x01"  # odd length
    frame = build_frame(payload, src_mac=MAC_BYTES)
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == MAC_BYTES
    ip, udp = frame[14:34], frame[34:]
    assert _checksum_ok(ip)
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    assert _checksum_ok(pseudo + udp)
    assert struct.unpack("!HH", udp[:4]) == (68, 67)
    assert parse_frame(frame, dst_port=67) == (MAC_BYTES, payload)
    assert parse_frame(frame) is None  # not to port 68
    assert parse_frame(frame[:40]) is None
