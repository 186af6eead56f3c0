"""Real kea-dhcp4 with our hook and multi-threading on, flooded with hostile DHCP packets.

Over 20,000 malformed or random packets (integration/hostile_packets.py: truncated and
over-long options, option 60 of every length and octet, odd htype/hlen, overload, bad cookies,
noise, ...) go from the client namespace to Kea over a raw socket; many are parsable
DISCOVERs and REQUESTs from phones with hostile option 60/55/chaddr, so the hook's pkt4_send
really runs on them. Afterwards Kea must still run, its log must show no failure of the hook,
the hook must have counted matches and no errors, and phones must get their exact bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hostile_packets
from daemons import statistic_get_all
from lab import REPO, KeaServer, Lab
from phones import CASES, check_message, dora_case
from servers import start_hook_kea

HOSTILE = Path(__file__).resolve().parent / "hostile_packets.py"
SEED = int(os.environ.get("KF_HOSTILE_SEED", "6"))  # another seed, other packets
MIN_PACKETS = 20_000
FLOOD_TIMEOUT = 45.0  # seconds; the flood itself takes about 6
# In Kea's log or its stdout/stderr: the hook failing on a packet, or the process dying.
FORBIDDEN = (
    "FANVIL_PACKET_ERROR",
    "FANVIL_DECIDE_FAILED",
    "FANVIL_BAD_DECISION",
    "FANVIL_INVENTORY_ERROR",
    "HOOKS_CALLOUT_ERROR",
    "HOOKS_CALLOUT_EXCEPTION",
    "Segmentation",
    "terminate called",
    "FATAL",
    "Traceback",
)
STATS = (
    "pkt4-received",
    "pkt4-parse-failed",
    "pkt4-receive-drop",
    "pkt4-discover-received",
    "pkt4-request-received",
    "pkt4-offer-sent",
    "pkt4-ack-sent",
    "pkt4-nak-sent",
    "pkt4-fanvil-matched",
    "pkt4-fanvil-changed",
    "pkt4-fanvil-errors",
)
AFTER_FLOOD = ("fanvil-oui-no-option-60", "inventory-device", "relayed-picks-site", "yealink")


def test_hostile_packets_leave_kea_and_the_hook_serving(lab: Lab, tmp_path: Path) -> None:
    started = time.monotonic()
    kea = start_hook_kea(lab, tmp_path, always_send=True, multi_threading=True)
    assert "DHCP4_MULTI_THREADING_INFO enabled: yes" in kea.log()

    report = flood(lab)
    stats = settled_statistics(kea)
    leases = leased_addresses(kea)
    print_summary(report, stats, leases)

    assert kea.popen.poll() is None, kea.log()[-4000:]
    assert_no_hook_failure(kea, tmp_path)
    assert report["total"] >= MIN_PACKETS
    assert set(report["sent"]) == set(hostile_packets.KINDS)
    assert stats["pkt4-fanvil-errors"] == 0
    # At most one lease per LEASE_MAC and subnet: the pool keeps room for the phones below.
    assert leases <= 2 * len(hostile_packets.LEASE_MACS), leases
    # The hook saw the hostile phones, and its options reached the wire during the flood.
    assert stats["pkt4-fanvil-matched"] > 1000, stats
    assert sum(n for kind, n in report["replies"].items() if kind.endswith("+hook")) > 1000

    for case in (c for c in CASES if c.id.startswith(AFTER_FLOOD)):
        result = dora_case(lab, case)
        check_message(result.offer, case.expect, case.file)
        check_message(result.ack, case.expect, case.file)
    assert kea.popen.poll() is None
    print(f"test took {time.monotonic() - started:.1f} s")


def flood(lab: Lab) -> dict[str, Any]:
    """Run hostile_packets.py in the client namespace; its JSON report."""
    args = {"iface": lab.cli_if, "seed": SEED, "burst": 40, "pause": 0.008, "settle": 1.0}
    argv = lab.exec_argv(lab.cli_ns, sys.executable, str(HOSTILE), json.dumps(args))
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    env = dict(os.environ, PATH=path, PYTHONPATH=str(REPO))
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=FLOOD_TIMEOUT, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def settled_statistics(kea: KeaServer, quiet: float = 0.5, limit: float = 15.0) -> dict[str, int]:
    """Kea's counters once they stop moving: its queue may still hold packets after the flood."""
    deadline = time.monotonic() + limit
    last = read_statistics(kea)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = read_statistics(kea)
        if now == last:
            return now
        last = now
    return last


def read_statistics(kea: KeaServer) -> dict[str, int]:
    every = statistic_get_all(kea.control_socket)
    return {name: int(every[name][0][0]) if every.get(name) else 0 for name in STATS}


def leased_addresses(kea: KeaServer) -> int:
    """Addresses leased now: the memfile appends a row per change, the last one per address
    counts, and a deleted lease is written with a valid lifetime of 0."""
    rows = kea.lease_file.read_text().splitlines()[1:] if kea.lease_file.exists() else []
    last = {fields[0]: fields for fields in (row.split(",") for row in rows if row)}
    return sum(1 for fields in last.values() if fields[3] != "0")


def assert_no_hook_failure(kea: KeaServer, tmp_path: Path) -> None:
    texts = {"log": kea.log(), "stdout/stderr": (tmp_path / "kea-dhcp4.out").read_text()}
    for where, text in texts.items():
        for word in FORBIDDEN:
            assert word not in text, f"{word} in Kea's {where}:\n" + lines_with(text, word)


def lines_with(text: str, word: str, limit: int = 20) -> str:
    return "\n".join([line for line in text.splitlines() if word in line][:limit])


def print_summary(report: dict[str, Any], stats: dict[str, int], leases: int) -> None:
    print(f"\nsent {report['total']} packets in {report['seconds']} s:")
    for kind, count in report["sent"].items():
        print(f"  {kind:16} {count:6}")
    print("replies seen by the client:", json.dumps(report["replies"]))
    print("Kea statistics:", json.dumps(stats))
    print(f"addresses leased after the flood: {leases}")
