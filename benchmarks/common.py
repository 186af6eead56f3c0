"""What the perfdhcp benchmarks share: the policy they serve, the Kea configurations under test,
and small probes of a running kea-dhcp4 (helpers, not a benchmark).

Imported by packet_path.py and reload_under_load.py, which put integration/ (the lab) on
sys.path before importing this module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from daemons import kea_config
from lab import KeaServer, Lab, client_dora

from kea_fanvil import load_policy
from kea_fanvil.kea_hook import build as hook_build
from kea_fanvil.render import kea as render_kea

POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
delivery:
  option_66: true
  option_43: string
  custom_option: 160
  always_send: true
"""
# `--phone-options`: the default phone options (policy.dhcp_options) for every phone, in the
# native and the hook policy alike, so that both pay Kea's packing of six more options.
PHONE_OPTIONS = """\
dhcp_options:
  default:
    vlan: 20
    ntp_servers: [198.18.0.1, 198.18.0.2]
    time_offset: 3600
    posix_timezone: "CET-1CEST,M3.5.0,M10.5.0/3"
    tzdb_timezone: Europe/Zurich
    sip_servers: [sip.example.com]
"""
VENDOR_CLASS = b"Fanvil X4 2.10.2.6887"
URL = b"http://prov.example.com/fanvil/$mac.cfg"
# What perfdhcp's -b mac= template starts from: its -R clients vary the last octets, so with as
# many inventory rows as clients every simulated phone is an inventory device.
MAC_PREFIX = "0c:38:3e"
# More addresses than perfdhcp's 100,000 clients, so that no run can exhaust the pools:
# 198.18.1.0-198.18.63.255 (16,128) and 198.18.128.0-198.19.255.254 (98,303). The lab's own
# addresses (198.18.0.0/24 and 198.18.64.0/18, on the veth) stay out of them.
POOLS = ("198.18.1.0 - 198.18.63.255", "198.18.128.0 - 198.19.255.254")


def device_mac(i: int) -> str:
    return f"{MAC_PREFIX}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def write_policies(folder: Path, devices: int, phone_options: bool = False) -> tuple[Path, Path]:
    """(native policy, hook policy) in `folder`: the same rules; the hook's also has an
    inventory of `devices` phones (phones.csv beside it, one boot file each)."""
    folder.mkdir(parents=True, exist_ok=True)
    native = folder / "native-policy.yaml"
    rules = POLICY + (PHONE_OPTIONS if phone_options else "")
    native.write_text(rules)
    with (folder / "phones.csv").open("w") as out:
        out.write("mac,boot_file\n")
        for i in range(devices):
            out.write(f"{device_mac(i)},desk-{i}.cfg\n")
    hooked = folder / "hook-policy.yaml"
    hooked.write_text(rules + "devices_file: phones.csv\n")
    return native, hooked


def base_config(lab: Lab, multi_threading: bool) -> dict[str, Any]:
    """Kea alone (no classes, no hook), set up to measure packet handling."""
    config = kea_config(lab, multi_threading=multi_threading, valid_lifetime=3600)
    dhcp4 = config["Dhcp4"]
    # One big subnet so that the pools never run out, and no lease file or per-lease log line:
    # the benchmark measures packet handling, not the disk.
    dhcp4["subnet4"] = [
        {
            "id": 1,
            "subnet": "198.18.0.0/15",
            "interface": lab.srv_if,
            "pools": [{"pool": pool} for pool in POOLS],
        }
    ]
    dhcp4["lease-database"] = {"type": "memfile", "persist": False, "lfc-interval": 0}
    dhcp4["loggers"].append(
        {"name": "kea-dhcp4.leases", "severity": "WARN", "output_options": [{"output": "stdout"}]}
    )
    return config


def native_config(lab: Lab, policy: Path, multi_threading: bool) -> dict[str, Any]:
    """The policy rendered as Kea client classes (`kea-fanvil render kea`), no hook."""
    config = base_config(lab, multi_threading)
    fragment = json.loads(render_kea.render(load_policy(policy), None))["Dhcp4"]
    config["Dhcp4"]["client-classes"] = fragment["client-classes"]
    return config


def hook_config(
    lab: Lab,
    policy: Path,
    multi_threading: bool,
    inventory: Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Kea with libdhcp_fanvil.so; `inventory` None turns the hook's inventory of phones seen
    off; `parameters` are further hook parameters ("decisions", "policy-reload-interval")."""
    config = base_config(lab, multi_threading)
    library = str(hook_build.installed_path())
    hook_parameters: dict[str, Any] = {
        "policy": str(policy),
        "inventory": str(inventory) if inventory else "",
        **(parameters or {}),
    }
    config["Dhcp4"]["hooks-libraries"] = [{"library": library, "parameters": hook_parameters}]
    return config


def check_options(lab: Lab, timeout: float = 1.0) -> None:
    """One phone's DORA: the server must send the URL in options 43, 66 and 160."""
    result = client_dora(lab, f"{MAC_PREFIX}:ff:ff:01", VENDOR_CLASS, bytes([1, 3, 6]), timeout)
    for code in (43, 66, 160):
        if result.ack.option(code) != URL:
            raise RuntimeError(f"the server does not send option {code}: {result.ack}")


def check_serves(lab: Lab, timeout: float = 1.0) -> None:
    """One phone's DORA completes (for Kea without the policy: no options to check)."""
    client_dora(lab, f"{MAC_PREFIX}:ff:ff:01", VENDOR_CLASS, bytes([1, 3, 6]), timeout)


def perfdhcp_counts(stdout: str) -> dict[str, int]:
    """perfdhcp's DISCOVERs sent, OFFERs received, REQUESTs sent and ACKs received.

    perfdhcp -4 prints a "sent packets" / "received packets" pair for DISCOVER-OFFER, then one
    for REQUEST-ACK; a DORA completes when its ACK arrives."""
    sent = [int(x) for x in re.findall(r"sent packets: (\d+)", stdout)]
    received = [int(x) for x in re.findall(r"received packets: (\d+)", stdout)]
    if len(sent) < 2 or len(received) < 2 or sent[0] == 0:
        raise RuntimeError(f"perfdhcp gave no statistics:\n{stdout}")
    return {"discovers": sent[0], "offers": received[0], "requests": sent[1], "acks": received[1]}


def rss_kib(server: KeaServer) -> int:
    """kea-dhcp4's resident memory (VmRSS) now."""
    status = Path(f"/proc/{server.popen.pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0
