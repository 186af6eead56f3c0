"""The inventory of phones seen, written by the hook inside real kea-dhcp4, read by the CLI.

Phones of phones.py run through Kea with the hook (threads on); `kea-fanvil devices --json`
must list exactly the matched ones with what each got. The file survives a Kea restart, is
readable while perfdhcp keeps Kea writing, and a corrupt or locked database costs records and
a log line, never a response.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from daemons import kea_config, perfdhcp_argv, start_kea, statistic
from lab import KeaServer, Lab, client_dora
from phones import CASES, KEA_OWN_66, POLICY, dora_case

from kea_fanvil.kea_hook import build as hook_build

PRL = bytes([1, 3, 6, 66])


def start(lab: Lab, tmp_path: Path, db: Path, run: str) -> KeaServer:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(always_send="true"))
    hook = {
        "library": str(hook_build.installed_path()),
        "parameters": {"policy": str(policy), "inventory": str(db)},
    }
    config = kea_config(
        lab,
        option_data=[
            {"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}
        ],
        hooks=[hook],
        multi_threading=True,
    )
    folder = tmp_path / run
    folder.mkdir()
    return start_kea(lab, config, folder)


def devices(db: Path, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "kea_fanvil", "devices", "--db", str(db), "--json", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def wait_for_rows(db: Path, count: int, timeout: float = 5.0) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = {r["mac"]: r for r in devices(db)} if db.exists() else {}
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_phones_seen_are_listed_and_survive_a_restart(lab: Lab, tmp_path: Path) -> None:
    db = tmp_path / "inventory" / "phones.db"  # a folder the hook creates
    kea = start(lab, tmp_path, db, "first")
    offered = {case.mac: str(dora_case(lab, case).ack.yiaddr) for case in CASES}
    matched = [c for c in CASES if c.expect.get(66) != KEA_OWN_66]
    rows = wait_for_rows(db, len(matched))
    assert sorted(rows) == sorted(c.mac for c in matched)  # the others are not phones

    desk = rows["0c:38:3e:11:3a:f8"]
    assert desk["matched_by"] == "device" and desk["model"] == "C62"
    assert desk["url"] == "https://prov.example.com/special/desk-12/"
    assert desk["boot_file"] == "desk-12.cfg"
    assert desk["address"] == offered["0c:38:3e:11:3a:f8"] and desk["relay"] == ""
    assert desk["times_seen"] == 2  # the OFFER and the ACK
    x4 = rows["02:00:00:00:00:02"]
    assert (x4["matched_by"], x4["model"], x4["firmware"]) == ("vendor-class", "X4", "2.10.2.6887")
    assert rows["0c:38:3e:00:00:01"]["matched_by"] == "oui"
    relayed = rows["02:00:00:00:00:05"]
    assert (relayed["site"], relayed["relay"]) == ("branch-a", "198.18.64.2")
    assert relayed["url"] == "http://branch-a.example.com/fanvil/$mac.cfg"
    assert relayed["address"] == offered["02:00:00:00:00:05"]
    assert statistic(kea.control_socket, "fanvil-inventory-recorded") == 2 * len(matched)
    assert devices(db, "--model", "x3u")[0]["mac"] == "02:00:00:00:00:05"
    first_seen = desk["first_seen"]

    kea.stop()
    kea = start(lab, tmp_path, db, "second")
    assert len(devices(db)) == len(matched)  # nothing lost across the restart
    client_dora(lab, "0c:38:3e:11:3a:f8", b"Fanvil C62", PRL)
    deadline = time.monotonic() + 5
    while wait_for_rows(db, 0)["0c:38:3e:11:3a:f8"]["times_seen"] < 4:
        assert time.monotonic() < deadline, "the restarted Kea did not record the phone"
        time.sleep(0.1)
    desk = wait_for_rows(db, 0)["0c:38:3e:11:3a:f8"]
    assert desk["first_seen"] == first_seen and desk["last_seen"] > first_seen
    assert "FANVIL_INVENTORY_ERROR" not in kea.log()


def test_reading_while_kea_writes(lab: Lab, tmp_path: Path) -> None:
    db = tmp_path / "phones.db"
    kea = start(lab, tmp_path, db, "run")
    perf = subprocess.Popen(
        perfdhcp_argv(lab, 300, 90, 6, b"Fanvil X4 2.10.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    try:
        time.sleep(0.5)
        while perf.poll() is None:
            seen.append(len(devices(db)))  # asserts exit 0 each time
            time.sleep(0.2)
    finally:
        output = perf.communicate(timeout=30)[0]
    # Each read is a new Python process (about 0.3 s, more on a loaded machine).
    assert len(seen) >= 3, output
    assert seen[-1] > 10 and seen == sorted(seen)  # the list grows while being read
    assert statistic(kea.control_socket, "fanvil-inventory-dropped") == 0


def test_a_corrupt_database_is_set_aside_and_kea_keeps_serving(lab: Lab, tmp_path: Path) -> None:
    db = tmp_path / "phones.db"
    db.write_bytes(b"not a database at all " * 200)
    kea = start(lab, tmp_path, db, "run")
    ack = client_dora(lab, "0c:38:3e:00:00:01", None, PRL).ack
    assert ack.option(66) == b"http://prov.example.com/fanvil/$mac.cfg"
    rows = wait_for_rows(db, 1)
    assert list(rows) == ["0c:38:3e:00:00:01"]
    (aside,) = tmp_path.glob("phones.db.corrupt-*")
    assert aside.read_bytes().startswith(b"not a database at all")
    log = kea.log()
    assert "FANVIL_INVENTORY_ERROR" in log and "corrupt" in log, log


def test_a_locked_database_costs_records_not_responses(lab: Lab, tmp_path: Path) -> None:
    db = tmp_path / "phones.db"
    kea = start(lab, tmp_path, db, "run")
    client_dora(lab, "0c:38:3e:00:00:01", None, PRL)
    wait_for_rows(db, 1)
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")  # an admin's tool holding the write lock
    try:
        for i in range(2, 5):
            ack = client_dora(lab, f"0c:38:3e:00:00:0{i}", None, PRL).ack
            assert ack.option(66) == b"http://prov.example.com/fanvil/$mac.cfg"
        deadline = time.monotonic() + 10
        while statistic(kea.control_socket, "fanvil-inventory-dropped") == 0:
            assert time.monotonic() < deadline, kea.log()
            time.sleep(0.1)
    finally:
        holder.rollback()
        holder.close()
    log = kea.log()
    assert log.count("FANVIL_INVENTORY_ERROR") == 1 and "locked" in log, log
    client_dora(lab, "0c:38:3e:00:00:09", None, PRL)
    assert "0c:38:3e:00:00:09" in wait_for_rows(db, 2)
    assert kea.popen.poll() is None
