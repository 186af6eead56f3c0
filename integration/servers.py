"""The servers under test, started in a lab with the shared policy of phones.py.

Each function starts one real server in `lab`'s server namespace with the policy (always_send
as given): Kea with the hook, Kea with the rendered client classes, and dnsmasq and dhcpd with
their rendered configurations, each first checked by the program itself. Every one also sends
KEA_OWN_66 as its own option 66 to clients that are not phones. Where a `policy_template` is
taken, it replaces phones.POLICY (with the same `{always_send}` placeholder).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons import kea_config, start_dhcpd, start_dnsmasq, start_kea
from lab import (
    RELAYED_POOL,
    KeaServer,
    Lab,
    ServerProcess,
    client_dora,
    client_dora_relayed,
)
from phones import KEA_OWN_66, POLICY, PRL_BASIC, direct_full_config, relayed_network_is_remote

from kea_fanvil.engine import Engine, Request
from kea_fanvil.kea_hook import build as hook_build
from kea_fanvil.kea_install import installed
from kea_fanvil.policy.loader import parse_policy
from kea_fanvil.probe.dhcp_client import DoraResult
from kea_fanvil.render.dhcpd import render as render_dhcpd
from kea_fanvil.render.dnsmasq import render as render_dnsmasq
from kea_fanvil.render.dnsmasq import site_tag
from kea_fanvil.render.kea import render as render_kea

DHCPD = "/usr/sbin/dhcpd"


def start_hook_kea(
    lab: Lab,
    tmp: Path,
    always_send: bool,
    multi_threading: bool,
    policy_template: str = POLICY,
    decisions: str = "table",
) -> KeaServer:
    policy = tmp / "policy.yaml"
    policy.write_text(policy_template.format(always_send="true" if always_send else "false"))
    parameters = {"policy": str(policy), "decisions": decisions}
    hooks: list[dict[str, Any]] = [
        {"library": str(hook_build.installed_path()), "parameters": parameters}
    ]
    config = kea_config(
        lab,
        option_data=[
            {"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}
        ],
        hooks=hooks,
        multi_threading=multi_threading,
    )
    return start_kea(lab, config, tmp)


def native_kea_config(lab: Lab, policy_text: str) -> dict[str, Any]:
    fragment = json.loads(
        render_kea(
            parse_policy(policy_text), None, sites_by_relay=True, kea_version=installed().version
        )
    )
    config = kea_config(
        lab,
        option_data=[
            {"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}
        ],
    )
    config["Dhcp4"].update(fragment["Dhcp4"])
    return config


def start_native_kea(lab: Lab, tmp: Path, policy_text: str) -> KeaServer:
    config = native_kea_config(lab, policy_text)
    checked = tmp / "checked.json"
    checked.write_text(json.dumps(config))
    check = subprocess.run(
        lab.exec_argv(lab.srv_ns, "kea-dhcp4", "-t", str(checked)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return start_kea(lab, config, tmp)


def dnsmasq_rendered_config(
    lab: Lab, tmp: Path, always_send: bool, policy_template: str = POLICY
) -> str:
    policy = parse_policy(policy_template.format(always_send="true" if always_send else "false"))
    full = direct_full_config(lab, tmp)
    return render_dnsmasq(policy, full) + (
        "\n# Added by the test: the relayed network, tagged as branch-a's, and the server's\n"
        "# own option 66 for every client that is not a phone.\n"
        f"dhcp-range=set:{site_tag('branch-a')},{RELAYED_POOL[0]},{RELAYED_POOL[1]},"
        "255.255.192.0,1h\n"
        f'dhcp-option-force=66,"{KEA_OWN_66.decode()}"\n'
    )


def start_rendered_dnsmasq(
    lab: Lab, tmp: Path, always_send: bool, policy_template: str = POLICY
) -> ServerProcess:
    relayed_network_is_remote(lab)
    text = dnsmasq_rendered_config(lab, tmp, always_send, policy_template)
    conf = tmp / "checked.conf"
    conf.write_text(text)
    check = subprocess.run(
        ["dnsmasq", "--test", f"--conf-file={conf}"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    assert "syntax check OK" in check.stderr
    return start_dnsmasq(lab, text, tmp)


def dhcpd_rendered_config(
    lab: Lab, tmp: Path, always_send: bool, policy_template: str = POLICY
) -> str:
    policy = parse_policy(policy_template.format(always_send="true" if always_send else "false"))
    full = direct_full_config(lab, tmp)
    return render_dhcpd(policy, full) + (
        "\n# Added by the test: the relayed network, and the server's own option 66 sent to\n"
        "# every client unasked (the fanvil class supersedes both for phones).\n"
        "subnet 198.18.64.0 netmask 255.255.192.0 {\n"
        f"  range {RELAYED_POOL[0]} {RELAYED_POOL[1]};\n"
        "}\n"
        f'option tftp-server-name "{KEA_OWN_66.decode()}";\n'
        "option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, 42);\n"
    )


def start_rendered_dhcpd(
    lab: Lab, tmp: Path, always_send: bool, policy_template: str = POLICY
) -> ServerProcess:
    relayed_network_is_remote(lab)
    text = dhcpd_rendered_config(lab, tmp, always_send, policy_template)
    conf = tmp / "checked.conf"
    conf.write_text(text)
    check = subprocess.run(
        [DHCPD, "-t", "-cf", str(conf)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    return start_dhcpd(lab, text, tmp)


# --- the phone options (policy.dhcp_options) ---------------------------------------------------
# Phone options at every level (default, model, site, device) under phones.POLICY's URLs; a
# policy of its own, so that it does not move when phones.POLICY does. The site's POSIX TZ
# string holds the characters renderers must escape (" # \\), the default's holds commas.
PHONE_OPTIONS_POLICY = """\
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
    vlan: 20
    ntp_servers: [198.18.0.1, 198.18.0.2]
    time_offset: 3600
    posix_timezone: "CET-1CEST,M3.5.0,M10.5.0/3"
    tzdb_timezone: Europe/Zurich
    sip_servers: [sip.example.com, sip2.example.com]
  models:
    C62: {{vlan: 40, time_offset: -18000}}
sites:
  - name: branch-a
    subnet: 198.18.64.0/18
    url: "http://branch-a.example.com/fanvil/$mac.cfg"
    dhcp_options:
      vlan: 30
      sip_servers: [198.18.64.5]
      posix_timezone: '<+0330>-3:30"#\\x'
devices:
  - mac: "0c:38:3e:11:3a:f8"
    boot_file: "desk-12.cfg"
    url: "https://prov.example.com/special/desk-12/"
    dhcp_options:
      ntp_servers: [198.18.9.9]
      tzdb_timezone: America/Argentina/Buenos_Aires
  - mac: "0c:38:3e:11:3a:f9"
    model: C62
"""
PHONE_CODES = (2, 42, 100, 101, 120, 132)
# What each level sends, written by hand from the policy above (RFC 2132 3.4 and 8.3, RFC 4833,
# RFC 3361; the VLAN as "VLAN-A=<id>;").
_DEFAULT_OPTIONS: dict[int, bytes | None] = {
    2: bytes.fromhex("00000e10"),
    42: bytes([198, 18, 0, 1, 198, 18, 0, 2]),
    100: b"CET-1CEST,M3.5.0,M10.5.0/3",
    101: b"Europe/Zurich",
    120: b"\x00\x03sip\x07example\x03com\x00\x04sip2\x07example\x03com\x00",
    132: b"VLAN-A=20;",
}
_SITE_OPTIONS = {100: b'<+0330>-3:30"#\\x', 120: bytes([1, 198, 18, 64, 5]), 132: b"VLAN-A=30;"}
_DEVICE_OPTIONS = {42: bytes([198, 18, 9, 9]), 101: b"America/Argentina/Buenos_Aires"}
_MODEL_OPTIONS = {2: bytes.fromhex("ffffb9b0"), 132: b"VLAN-A=40;"}  # -18000 s


@dataclass(frozen=True)
class PhoneOptionsCase:
    id: str
    mac: str
    vendor_class: bytes | None
    relayed: bool
    expect: dict[int, bytes | None]  # with always_send true; code -> exact data, None = absent


PHONE_OPTION_CASES = [
    PhoneOptionsCase("default", "0c:38:3e:00:07:01", None, False, _DEFAULT_OPTIONS),
    PhoneOptionsCase(
        "site", "02:00:00:00:07:02", b"Fanvil X4", True, _DEFAULT_OPTIONS | _SITE_OPTIONS
    ),
    PhoneOptionsCase(
        "device", "0c:38:3e:11:3a:f8", None, False, _DEFAULT_OPTIONS | _DEVICE_OPTIONS
    ),
    PhoneOptionsCase(
        "model-beats-site",
        "0c:38:3e:11:3a:f9",
        None,
        True,
        _DEFAULT_OPTIONS | _SITE_OPTIONS | _MODEL_OPTIONS,
    ),
    PhoneOptionsCase(
        "not-a-phone", "00:15:65:00:07:05", b"yealink", False, dict.fromkeys(PHONE_CODES)
    ),
]
PRL_SOME_PHONE_OPTIONS = PRL_BASIC + bytes([2, 100, 132])  # always_send false: only these


def phone_options_dora(
    lab: Lab, case: PhoneOptionsCase, always_send: bool
) -> tuple[DoraResult, dict[int, bytes | None]]:
    """A DORA as the case's phone, and what it must get: the hand-written bytes, which must
    also be the engine's decision for the offered address (with always_send false the phone
    asks for 2, 100 and 132 only)."""
    prl = PRL_BASIC if always_send else PRL_SOME_PHONE_OPTIONS
    if case.relayed:
        result = client_dora_relayed(lab, case.mac, case.vendor_class, prl)
    else:
        result = client_dora(lab, case.mac, case.vendor_class, prl)
    expect = dict(case.expect)
    if not always_send:
        expect = {c: v if c in prl else None for c, v in expect.items()}
    policy = parse_policy(
        PHONE_OPTIONS_POLICY.format(always_send="true" if always_send else "false")
    )
    giaddr = ipaddress.IPv4Address(lab.relay_ip if case.relayed else "0.0.0.0").packed
    decision = Engine(policy).decide(
        Request(
            bytes.fromhex(case.mac.replace(":", "")),
            case.vendor_class,
            prl,
            giaddr,
            result.address.packed,
        )
    )
    decided = dict(decision.options)
    assert {c: decided.get(c) for c in PHONE_CODES} == expect, "the engine disagrees"
    return result, expect


# The VLAN in each vlan_format, written by hand: (format, VLAN ID, the bytes of option 132).
VLAN_FORMAT_CASES = [
    ("decimal", 5, b"5"),  # one byte: dnsmasq would read hex "35" as the number 35
    ("u16", 5, b"\x00\x05"),
    ("u32", 4094, b"\x00\x00\x0f\xfe"),
]


def vlan_format_policy(vlan_format: str, vlan: int) -> str:
    """PHONE_OPTIONS_POLICY with the default VLAN ``vlan`` in ``vlan_format``."""
    text = PHONE_OPTIONS_POLICY.replace(
        "dhcp_options:\n  default:\n    vlan: 20",
        f"dhcp_options:\n  vlan_format: {vlan_format}\n  default:\n    vlan: {vlan}",
    )
    assert text != PHONE_OPTIONS_POLICY
    return text
