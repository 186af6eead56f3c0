"""The phones every wire test plays, and what each must receive, as literal bytes.

One policy and one list of cases serve every server under test (Kea with the hook, Kea-native
classes, dnsmasq, dhcpd), so that they are held to the same bytes. Expectations are written by
hand from the policy, never computed by the engine under test. KEA_OWN_66 is the server's own
option 66 for clients that are not phones: the hook must leave it alone.
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab import DIRECT_POOL, Lab, client_dora, client_dora_relayed

from kea_fanvil.probe.dhcp_client import DoraResult
from kea_fanvil.render import FullConfig
from kea_fanvil.wire.dhcp import DhcpMessage

POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
delivery:
  option_66: true
  option_43: string
  custom_option: 160
  always_send: {always_send}
match:
  vendor_class_prefixes: ["Fanvil"]
  ouis: ["0c:38:3e", "02:fa:00"]
dhcp_options:
  default:
    ntp_servers: [198.18.0.1, 192.0.2.123]
    time_offset: 3600
    tzdb_timezone: Europe/Zurich
  models:
    C62: {{vlan: 30, posix_timezone: "CET-1CEST,M3.5.0,M10.5.0/3"}}
sites:
  - name: branch-a
    subnet: 198.18.64.0/18
    url: "http://branch-a.example.com/fanvil/$mac.cfg"
    dhcp_options: {{vlan: 20, sip_servers: [sip.branch-a.example.com], time_offset: 7200}}
devices:
  - mac: "0c:38:3e:11:3a:f8"
    boot_file: "desk-12.cfg"
    url: "https://prov.example.com/special/desk-12/"
    model: C62
    dhcp_options: {{sip_servers: [198.18.0.5]}}
"""

DEFAULT_URL = b"http://prov.example.com/fanvil/$mac.cfg"
SITE_URL = b"http://branch-a.example.com/fanvil/$mac.cfg"
DEVICE_URL = b"https://prov.example.com/special/desk-12/"
KEA_OWN_66 = b"tftp://198.18.0.1/kea-default.cfg"  # Kea's own option 66, for everyone else
PROVISIONING = (43, 66, 67, 160)
# The phone options (dhcp_options), by level. Option 2 (RFC 2132 3.4): signed 32-bit seconds;
# 42 (8.3): addresses; 100/101 (RFC 4833): text; 120 (RFC 3361): enc 0 names in RFC 1035 form or
# enc 1 addresses; 132: the VLAN as "VLAN-A=<id>;" (the default vlan_format).
PHONE_OPTIONS = (2, 42, 100, 101, 120, 132)
NTP = b"\xc6\x12\x00\x01\xc0\x00\x02\x7b"  # 198.18.0.1, 192.0.2.123
DEFAULT_OPTIONS: dict[int, bytes | None] = {
    2: b"\x00\x00\x0e\x10",  # 3600
    42: NTP,
    100: None,
    101: b"Europe/Zurich",
    120: None,
    132: None,
}
SITE_OPTIONS: dict[int, bytes | None] = DEFAULT_OPTIONS | {
    2: b"\x00\x00\x1c\x20",  # 7200
    120: b"\x00\x03sip\x08branch-a\x07example\x03com\x00",
    132: b"VLAN-A=20;",
}
DEVICE_OPTIONS: dict[int, bytes | None] = DEFAULT_OPTIONS | {
    100: b"CET-1CEST,M3.5.0,M10.5.0/3",  # its model's, C62
    120: b"\x01\xc6\x12\x00\x05",  # its own: 198.18.0.5
    132: b"VLAN-A=30;",  # its model's
}
NO_PHONE_OPTIONS: dict[int, bytes | None] = dict.fromkeys(PHONE_OPTIONS)
PRL_BASIC = bytes([1, 3, 6, 15])  # a phone that does not ask for 43, 66, 67 or 160


@dataclass(frozen=True)
class Case:
    id: str
    mac: str
    vendor_class: bytes | None
    expect: dict[int, bytes | None]  # code -> exact data, None = must be absent
    file: bytes = b""
    relayed: bool = False
    prl: bytes = PRL_BASIC


def _url(url: bytes, extras: dict[int, bytes | None] = DEFAULT_OPTIONS) -> dict[int, bytes | None]:
    return {43: url, 66: url, 160: url, 67: None} | extras


def _other(expect: dict[int, bytes | None]) -> dict[int, bytes | None]:
    return expect | NO_PHONE_OPTIONS


CASES = [
    Case("fanvil-oui-no-option-60", "0c:38:3e:00:00:01", None, _url(DEFAULT_URL)),
    Case("foreign-mac-fanvil-x4", "02:00:00:00:00:02", b"Fanvil X4 2.10.2.6887", _url(DEFAULT_URL)),
    Case("extra-policy-prefix", "02:fa:00:00:00:03", None, _url(DEFAULT_URL)),
    Case(
        "yealink-untouched",
        "00:15:65:00:00:04",
        b"yealink",
        _other({43: None, 66: KEA_OWN_66, 67: None, 160: None}),
    ),
    Case(
        "inventory-device",
        "0c:38:3e:11:3a:f8",
        b"Fanvil C62",
        {43: DEVICE_URL, 66: DEVICE_URL, 160: DEVICE_URL, 67: b"desk-12.cfg"} | DEVICE_OPTIONS,
        file=b"desk-12.cfg",
    ),
    Case(
        "relayed-picks-site",
        "02:00:00:00:00:05",
        b"Fanvil X3U",
        _url(SITE_URL, SITE_OPTIONS),
        relayed=True,
    ),
    Case(
        "option-60-not-text",
        "02:00:00:00:00:06",
        b"\xff\xfe\x00Fanvil\x01\x80",
        _other({43: None, 66: KEA_OWN_66, 67: None, 160: None}),
    ),
    Case(
        "option-60-255-bytes-fanvil",
        "02:00:00:00:00:07",
        b"Fanvil " + bytes(range(1, 249)),
        _url(DEFAULT_URL),
    ),
    Case(
        "option-60-255-bytes-other",
        "02:00:00:00:00:08",
        bytes(range(255, 0, -1)),
        _other({43: None, 66: KEA_OWN_66, 67: None, 160: None}),
    ),
]


def dora_case(lab: Lab, case: Case) -> DoraResult:
    """A full DORA as the case's phone, relayed through the lab's relay address if it says so."""
    if case.relayed:
        return client_dora_relayed(lab, case.mac, case.vendor_class, case.prl)
    return client_dora(lab, case.mac, case.vendor_class, case.prl)


def check_message(message: DhcpMessage, expect: dict[int, bytes | None], file: bytes) -> None:
    for code, data in expect.items():
        assert message.option(code) == data, f"option {code} in {message.message_type}"
    assert message.file == file


def direct_full_config(lab: Lab, state_dir: Path | None) -> FullConfig:
    """The renderers' --full settings for the lab's directly attached subnet (Kea: no state
    folder, since 2.6.3 and later accept only their own; start_kea names the files)."""
    return FullConfig(
        interface=lab.srv_if,
        subnet=ipaddress.IPv4Network("198.18.0.0/24"),
        pool=(ipaddress.IPv4Address(DIRECT_POOL[0]), ipaddress.IPv4Address(DIRECT_POOL[1])),
        state_dir=None if state_dir is None else str(state_dir),
    )


def relayed_network_is_remote(lab: Lab) -> None:
    """Make 198.18.64.0/18 a routed network, not one of the server interface's own.

    dnsmasq treats every network on its interface as local (and gave direct clients addresses
    from the relayed pool); dhcpd refuses an interface in two subnets outside one
    shared-network. Reached by a route only, the relay network is the remote subnet it stands
    for, and replies to the relay still work.
    """
    for argv in (
        ("addr", "del", f"{lab.srv_relay_ip}/18", "dev", lab.srv_if),
        ("route", "add", "198.18.64.0/18", "dev", lab.srv_if, "src", lab.srv_ip),
    ):
        subprocess.run(["ip", "-n", lab.srv_ns, *argv], check=True, capture_output=True)
