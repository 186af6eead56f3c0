"""Resync on the wire: `kea-fanvil files build --notify` and `kea-fanvil notify` in the server
namespace, SIPp playing phones (one UAS per address) in the client namespace.

    <name>-srv  kfsrv0 198.18.0.1/24                       kea-fanvil (the sender)
         |  veth
    <name>-cli  kfcli0 198.18.0.2/24, .11 .. .16           one SIPp per phone address

The phones' addresses come from an inventory written by the hook's own writer. Every
assertion about a phone is about what its SIPp received (-trace_msg, -trace_logs).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lab import Lab, ServerProcess, netns_pair, require, run_command, server_env

from kea_fanvil.kea_hook.inventory import InventoryWriter

HERE = Path(__file__).resolve().parent
SIPP = HERE / "sipp"
KEA_FANVIL = Path(sys.executable).with_name("kea-fanvil")
T1 = 0.1  # seconds: a small RFC 3261 T1 keeps the retransmission tests quick
PHONES = {  # last octet: MAC
    11: "0c:38:3e:00:00:11",
    12: "0c:38:3e:00:00:12",
    13: "0c:38:3e:00:00:13",
    14: "0c:38:3e:00:00:14",
    15: "0c:38:3e:00:00:15",
    16: "0c:38:3e:00:00:16",
}

POLICY = """\
version: 1
provisioning:
  url: "http://198.18.0.1/$mac.cfg"
files:
  common:
    extra:
      GLOBAL: {{"Time Zone": "1"}}
devices:
  - mac: "0c:38:3e:00:00:11"
    model: C62
    settings: {{extra: {{SIP: {{"SIP1 Phone Number": "{n11}"}}}}}}
  - mac: "0c:38:3e:00:00:12"
    model: C62
    settings: {{extra: {{SIP: {{"SIP1 Phone Number": "212"}}}}}}
  - mac: "0c:38:3e:00:00:13"
    model: C62
    settings: {{extra: {{SIP: {{"SIP1 Phone Number": "213"}}}}}}
"""


@dataclass
class SippPhone:
    process: ServerProcess
    address: str
    messages: Path

    def received(self) -> list[tuple[datetime, str]]:
        """(time, text) of each datagram SIPp received, from -trace_msg."""
        text = self.messages.read_text(errors="replace") if self.messages.exists() else ""
        found = []
        for block in re.split(r"^-{10,} ", text, flags=re.M)[1:]:
            stamp, _, rest = block.partition("\n")
            if rest.startswith("UDP message received"):
                body = rest.partition("\n\n")[2]
                # bookworm's SIPp writes "2026-12-01 18:35:50.922067", forky's (3.7)
                # "2026-12-01T18:35:50.922067Z": ISO 8601 either way.
                found.append((datetime.fromisoformat(stamp.strip()), body))
        return found

    def notifies(self) -> list[tuple[datetime, str]]:
        return [(t, m) for t, m in self.received() if m.startswith("NOTIFY ")]


@pytest.fixture
def notify_lab() -> Iterator[Lab]:
    require("ip", "sipp")
    with netns_pair("kf") as lab:
        for last in PHONES:
            run_command(
                "ip", "-n", lab.cli_ns, "addr", "add", f"198.18.0.{last}/24", "dev", lab.cli_if
            )
        yield lab


def _sipp(lab: Lab, tmp_path: Path, last: int, scenario: str, *extra: str) -> SippPhone:
    address = f"198.18.0.{last}"
    messages = tmp_path / f"sipp-{last}-messages.log"
    log = tmp_path / f"sipp-{last}.log"
    argv = ["sipp", "-sf", str(SIPP / scenario), "-i", address, "-p", "5060", "-bind_local"]
    argv += ["-m", "1", "-trace_msg", "-message_file", str(messages), "-trace_logs"]
    argv += ["-log_file", str(log), "-nostdin", *extra]
    with (tmp_path / f"sipp-{last}.out").open("wb") as out:
        popen = subprocess.Popen(
            lab.exec_argv(lab.cli_ns, *argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
            env=server_env(),
        )
    process = ServerProcess(f"sipp {address}", popen, log)
    lab.processes.append(process)
    deadline = time.monotonic() + 10
    while (
        f"{address}:5060"
        not in run_command("ip", "netns", "exec", lab.cli_ns, "ss", "-Hnua").stdout
    ):
        assert popen.poll() is None, (tmp_path / f"sipp-{last}.out").read_text()
        assert time.monotonic() < deadline, f"SIPp never listened on {address}:5060"
        time.sleep(0.05)
    return SippPhone(process, address, messages)


def _inventory(path: Path, lasts: list[int]) -> Path:
    """Rows as the Kea hook writes them: each phone seen at its lab address."""
    writer = InventoryWriter(str(path), lambda *_: None)
    for last in lasts:
        mac = bytes.fromhex(PHONES[last].replace(":", ""))
        yiaddr = int(ipaddress.IPv4Address(f"198.18.0.{last}"))
        how = ("device", "http://198.18.0.1/$mac.cfg", "", "")
        writer.submit((time.time(), mac, b"Fanvil C62 2.4.1", 0, yiaddr, how))
    writer.flush()
    writer.close()
    return path


def _kea_fanvil(lab: Lab, *args: str) -> tuple[int, dict[str, Any], str]:
    """`kea-fanvil ARGS --json` in the server namespace: (exit status, JSON, stderr)."""
    done = subprocess.run(
        lab.exec_argv(lab.srv_ns, str(KEA_FANVIL), *args, "--json"),
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env(),
        check=False,
    )
    assert done.stdout, f"{args} printed nothing ({done.returncode}):\n{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report, done.stderr


def _write_policy(path: Path, n11: str) -> None:
    path.write_text(POLICY.format(n11=n11))
    os.chmod(path, 0o600)


def test_files_build_notify_reaches_the_changed_phone_only(notify_lab: Lab, tmp_path: Path) -> None:
    lab = notify_lab
    phones = {last: _sipp(lab, tmp_path, last, "notify_phone.xml") for last in (11, 12, 13)}
    db = _inventory(tmp_path / "inventory.sqlite3", [11, 12, 13])
    policy, out_dir = tmp_path / "policy.yaml", tmp_path / "srv"
    _write_policy(policy, "211")
    code, first, err = _kea_fanvil(lab, "files", "build", str(policy), "--out", str(out_dir))
    assert code == 0, err
    assert "notify" not in first  # no --notify, no NOTIFY
    _write_policy(policy, "2110")  # one device's settings change
    code, report, err = _kea_fanvil(
        lab, "files", "build", str(policy), "--out", str(out_dir), "--notify",
        "--inventory", str(db), "--t1", str(T1),
    )  # fmt: skip
    assert code == 0, err
    changed = [f["name"] for f in report["files"] if f["state"] != "unchanged"]
    assert changed == ["0c383e000011.cfg"]
    answered = [
        (p["mac"], p["address"], p["result"], p["status"]) for p in report["notify"]["phones"]
    ]
    assert answered == [(PHONES[11], "198.18.0.11", "answered", 200)]

    # What the phones saw: the changed one exactly one NOTIFY with the event, the others none.
    assert phones[11].process.popen.wait(timeout=10) == 0, phones[11].process.log()
    (only,) = phones[11].notifies()
    assert only[1].startswith("NOTIFY sip:198.18.0.11:5060 SIP/2.0")
    assert "\nEvent: check-sync;reboot=false\n" in only[1]
    assert "NOTIFY-EVENT  check-sync;reboot=false STATE  terminated" in phones[11].process.log()
    assert re.search(r"^Via: SIP/2\.0/UDP 198\.18\.0\.1:\d+;branch=z9hG4bK", only[1], re.M)
    time.sleep(3 * T1)  # a stray late NOTIFY would have arrived by now
    for last in (12, 13):
        assert phones[last].received() == [], phones[last].messages.read_text()
        assert phones[last].process.popen.poll() is None  # still waiting: nothing came


def test_retransmission_timeout_and_unreachable(notify_lab: Lab, tmp_path: Path) -> None:
    lab = notify_lab
    pause_ms = int(1.5 * T1 * 1000)  # answers after the copy sent at T1, before the one at 3*T1
    late = _sipp(lab, tmp_path, 14, "notify_drop_first.xml", "-d", str(pause_ms))
    silent = _sipp(lab, tmp_path, 15, "notify_silent.xml")
    # 198.18.0.16 is on the veth but nothing listens there: ICMP port unreachable.
    db = _inventory(tmp_path / "inventory.sqlite3", [14, 15, 16])
    code, report, err = _kea_fanvil(
        lab, "notify", "--mac", PHONES[14], "--mac", PHONES[15], "--mac", PHONES[16],
        "--mac", "0c:38:3e:00:00:99", "--inventory", str(db), "--t1", str(T1), "--timeout", "1.5",
    )  # fmt: skip
    assert code == 3, err  # not every phone answered 2xx
    by_mac = {p["mac"]: p for p in report["phones"]}

    # The late phone: SIPp received the same NOTIFY twice, the second about T1 after the first,
    # and its 200 OK answered the transaction.
    assert (by_mac[PHONES[14]]["result"], by_mac[PHONES[14]]["status"]) == ("answered", 200)
    assert by_mac[PHONES[14]]["sent"] == 2
    assert late.process.popen.wait(timeout=10) == 0, late.process.log()
    first, second = late.notifies()
    assert first[1] == second[1]  # a retransmission: the same bytes, the same branch
    gap = (second[0] - first[0]).total_seconds()
    assert 0.8 * T1 <= gap <= 2.5 * T1, gap

    # The silent phone: every copy reached SIPp, none was answered; reported as a timeout.
    silent_report = by_mac[PHONES[15]]
    assert (silent_report["result"], silent_report["ok"]) == ("timeout", False)
    copies = silent.notifies()
    assert len(copies) == silent_report["sent"] >= 4
    assert len({text for _, text in copies}) == 1
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(copies)]
    assert gaps[1] > 1.5 * gaps[0]  # timer E doubles

    # Nobody at the address: the ICMP error ends that transaction at once.
    assert by_mac[PHONES[16]]["result"] == "error"
    assert by_mac[PHONES[16]]["reason"] == "Connection refused"
    assert by_mac[PHONES[16]]["sent"] == 1
    # Not in the inventory: listed, not skipped, and nothing sent.
    assert by_mac["0c:38:3e:00:00:99"]["result"] == "not-sent"
