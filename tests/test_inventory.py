"""The inventory of phones seen: the writer thread, its failure modes, and `kea-fanvil devices`."""

from __future__ import annotations

import gc
import ipaddress
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kea_fanvil.cli.app import main
from kea_fanvil.engine import Engine
from kea_fanvil.errors import InventoryError
from kea_fanvil.kea_hook import entry as hook_entry
from kea_fanvil.kea_hook import inventory
from kea_fanvil.kea_hook.inventory import InventoryWriter, read_phones
from kea_fanvil.policy.loader import parse_policy

POLICY = """\
version: 1
provisioning:
  url: "http://phone:Secr3t@prov.example.com/$mac.cfg"
sites:
  - name: branch
    subnet: 198.18.64.0/18
    url: "http://branch.example.com/"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    boot_file: desk-12.cfg
"""
ZERO = bytes(4)


def ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


DESK = bytes.fromhex("0c383e113af8")
OTHER = bytes.fromhex("0c383e000001")


@pytest.fixture
def engine() -> Engine:
    return Engine(parse_policy(POLICY, "policy.yaml"))


class Reports:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def __call__(self, kind: str, detail: str, text: str) -> None:
        self.items.append((kind, detail, text))

    def counts(self, name: str) -> int:
        return sum(int(t) for k, d, t in self.items if k == "count" and d == name)

    def errors(self) -> list[str]:
        return [t for k, _, t in self.items if k == "error"]


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def writer(tmp_path: Path, reports: Reports) -> Iterator[InventoryWriter]:
    w = InventoryWriter(str(tmp_path / "phones.db"), reports)
    yield w  # started by the tests that need the thread; flushed by hand otherwise
    if not w.is_alive():
        w.close()  # the thread closes its own; Python 3.13 reports one left to the collector


def test_rows_hold_what_the_phone_got(writer: InventoryWriter, engine: Engine) -> None:
    relay = ip("198.18.64.2")
    writer.submit((100.0, DESK, b"Fanvil X4 2.10.2.6887", 0, ip("198.18.0.9"), engine))
    writer.submit((101.0, OTHER, b"Fanvil C62", relay, ip("198.18.100.10"), engine))
    writer.submit((105.0, DESK, b"Fanvil X4 2.10.2.6887", 0, ip("198.18.0.9"), engine))
    writer.flush()
    desk, other = sorted(read_phones(writer.path), key=lambda p: p.mac, reverse=True)
    assert desk.as_dict() == {
        "mac": "0c:38:3e:11:3a:f8",
        "matched_by": "device",
        "model": "X4",
        "firmware": "2.10.2.6887",
        "vendor_class": "Fanvil X4 2.10.2.6887",
        "address": "198.18.0.9",
        "relay": "",
        "site": "",
        "url": "http://phone:****@prov.example.com/$mac.cfg",  # never the password
        "boot_file": "desk-12.cfg",
        "first_seen": 100.0,
        "last_seen": 105.0,
        "times_seen": 2,
        "server": "",  # only a shared (PostgreSQL) inventory names the server
    }
    assert (other.matched_by, other.model, other.site, other.url) == (
        "vendor-class",
        "C62",
        "branch",
        "http://branch.example.com/",
    )
    assert (other.address, other.relay) == ("198.18.100.10", "198.18.64.2")

    # A later batch updates the row: first_seen stays, the count grows.
    writer.submit((200.0, DESK, None, 0, ip("198.18.0.10"), engine))
    writer.flush()
    (desk,) = [p for p in read_phones(writer.path) if p.mac == "0c:38:3e:11:3a:f8"]
    assert (desk.first_seen, desk.last_seen, desk.times_seen) == (100.0, 200.0, 3)
    assert (desk.address, desk.model) == ("198.18.0.10", "")
    assert writer.report.counts("fanvil-inventory-recorded") == 4  # type: ignore[attr-defined]


def test_read_filters(writer: InventoryWriter, engine: Engine) -> None:
    now = time.time()
    writer.submit((now - 7200, DESK, b"Fanvil X4", 0, 0, engine))
    writer.submit((now, OTHER, b"Fanvil C62", 0, 0, engine))
    writer.flush()
    assert [p.mac for p in read_phones(writer.path)] == ["0c:38:3e:00:00:01", "0c:38:3e:11:3a:f8"]
    assert [p.mac for p in read_phones(writer.path, since=now - 60)] == ["0c:38:3e:00:00:01"]
    assert [p.mac for p in read_phones(writer.path, model="x4")] == ["0c:38:3e:11:3a:f8"]
    with pytest.raises(InventoryError, match="no such inventory"):
        read_phones(writer.path + ".missing")


def test_a_full_buffer_drops_and_counts(tmp_path: Path, reports: Reports, engine: Engine) -> None:
    small = InventoryWriter(str(tmp_path / "phones.db"), reports, limit=3)
    for i in range(10):
        small.submit((1.0, OTHER[:5] + bytes([i]), None, 0, 0, engine))
    small.flush()
    small.close()
    assert reports.counts("fanvil-inventory-recorded") == 3
    assert reports.counts("fanvil-inventory-dropped") == 7
    assert len(read_phones(small.path)) == 3


def test_a_corrupt_database_is_set_aside(writer: InventoryWriter, engine: Engine) -> None:
    Path(writer.path).write_bytes(b"this is not SQLite" * 100)
    writer.submit((1.0, DESK, None, 0, 0, engine))
    writer.flush()
    assert [p.mac for p in read_phones(writer.path)] == ["0c:38:3e:11:3a:f8"]
    (aside,) = Path(writer.path).parent.glob("phones.db.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not SQLite")  # kept for inspection
    (error,) = writer.report.errors()  # type: ignore[attr-defined]
    assert "corrupt" in error and str(aside) in error


def test_a_locked_database_costs_records_not_service(
    writer: InventoryWriter, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inventory, "BUSY_TIMEOUT_MS", 50)
    writer.submit((1.0, DESK, None, 0, 0, engine))
    writer.flush()  # creates the database
    other = sqlite3.connect(writer.path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(3):
            writer.submit((2.0, OTHER[:5] + bytes([i]), None, 0, 0, engine))
            writer.flush()
    finally:
        other.rollback()
        other.close()
    reports: Reports = writer.report  # type: ignore[assignment]
    assert reports.counts("fanvil-inventory-dropped") == 3
    (error,) = reports.errors()  # three failures, one report per interval
    assert "locked" in error
    writer.submit((3.0, OTHER, None, 0, 0, engine))
    writer.flush()
    assert len(read_phones(writer.path)) == 2


def test_a_repeated_error_reads_the_same_once_per_interval(
    writer: InventoryWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    for step in (0.0, 1.0, inventory.ERROR_LOG_INTERVAL - 2.0):
        clock[0] += step
        writer._error("open", "cannot open")
    clock[0] += 1.0  # ERROR_LOG_INTERVAL after the first
    writer._error("open", "cannot open")
    writer._error("set-aside", "cannot move")  # another kind has an interval of its own
    reports: Reports = writer.report  # type: ignore[assignment]
    assert reports.errors() == ["cannot open", "cannot open", "cannot move"]  # nothing appended


def test_the_writer_thread_is_niced(tmp_path: Path, reports: Reports) -> None:
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    w = InventoryWriter(str(tmp_path / "phones.db"), reports)
    w.start()
    try:
        expected = min(19, main + inventory.WRITER_NICENESS)
        deadline = time.monotonic() + 5
        while os.getpriority(os.PRIO_PROCESS, w.native_id or 0) != expected:
            assert time.monotonic() < deadline, "the writer kept its priority"
            time.sleep(0.01)
    finally:
        w.stop()


def test_an_unwritable_folder_is_reported(tmp_path: Path, reports: Reports, engine: Engine) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    w = InventoryWriter(str(blocker / "phones.db"), reports)  # a folder that cannot exist
    w.submit((1.0, DESK, None, 0, 0, engine))
    w.flush()
    w.submit((1.0, DESK, None, 0, 0, engine))
    w.flush()
    assert len(reports.errors()) == 1
    assert reports.counts("fanvil-inventory-dropped") == 2


def test_the_hook_entry_records_matched_phones_only(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    db = tmp_path / "phones.db"
    reports = Reports()
    try:
        assert hook_entry.load(str(policy), 0, reports, str(db))[0] == "loaded"
        assert hook_entry.decide(DESK, None, None, ZERO, ZERO) is not None
        assert hook_entry.decide(b"\x00\x15\x65\0\0\1", b"yealink", None, ZERO, ZERO) is None
    finally:
        hook_entry.stop()  # writes what is buffered
        gc.unfreeze()  # load() froze every object; see tests/test_hook_entry.py
    assert [p.mac for p in read_phones(db)] == ["0c:38:3e:11:3a:f8"]
    assert reports.counts("fanvil-inventory-recorded") == 1


def test_devices_command(writer: InventoryWriter, engine: Engine) -> None:
    now = time.time()
    writer.submit((now - 7200, DESK, b"Fanvil X4 2.10.2.6887", 0, ip("198.18.0.9"), engine))
    writer.submit((now, OTHER, b"Fanvil C62", 0, 0, engine))
    writer.flush()
    runner = CliRunner()
    result = runner.invoke(main, ["devices", "--db", writer.path, "--since", "1h", "--json"])
    assert result.exit_code == 0, result.output
    assert [p["mac"] for p in json.loads(result.stdout)] == ["0c:38:3e:00:00:01"]
    result = runner.invoke(main, ["devices", "--db", writer.path])
    assert result.exit_code == 0
    assert "0c:38:3e:11:3a:f8" in result.stdout and "desk-12.cfg" in result.stdout
    assert "Secr3t" not in result.stdout and "2 phones" in result.stdout
    result = runner.invoke(main, ["devices", "--db", writer.path, "--since", "soon"])
    assert result.exit_code == 2 and "not a duration" in result.stderr
    result = runner.invoke(main, ["devices", "--db", writer.path + ".missing"])
    assert result.exit_code == 1 and "no such inventory" in result.stderr


# --- files that are not ours ---------------------------------------------------------------------


def _foreign(path: Path) -> bytes:
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE accounts (user TEXT, secret TEXT)")
    other.execute("INSERT INTO accounts VALUES ('admin', 'x')")
    other.commit()
    other.close()
    return path.read_bytes()


def test_reading_never_creates_or_changes_a_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(InventoryError, match="not a kea-fanvil inventory"):
        read_phones(empty)
    assert empty.read_bytes() == b""
    foreign = tmp_path / "foreign.db"
    before = _foreign(foreign)
    with pytest.raises(InventoryError) as caught:
        read_phones(foreign)
    assert str(caught.value) == (
        f"{foreign}: not a kea-fanvil inventory (schema 1); it is left as it is"
    )
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "foreign.db"]  # no -wal
    text = tmp_path / "notes.txt"
    text.write_text("not SQLite at all\n" * 10)
    with pytest.raises(InventoryError, match="not a kea-fanvil inventory"):
        read_phones(text)
    with pytest.raises(InventoryError, match="not a regular file"):
        read_phones(tmp_path)


def test_the_writer_refuses_a_foreign_database(tmp_path: Path, reports: Reports) -> None:
    foreign = tmp_path / "foreign.db"
    before = _foreign(foreign)
    with pytest.raises(InventoryError, match="not a kea-fanvil inventory"):
        inventory.connect(foreign, create=True)
    assert foreign.read_bytes() == before
    link = tmp_path / "link.db"
    link.symlink_to(foreign)
    with pytest.raises(InventoryError, match="not a regular file"):
        inventory.connect(link, create=True)
    assert foreign.read_bytes() == before


def test_devices_command_on_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = CliRunner().invoke(main, ["devices", "--db", str(empty)])
    assert result.exit_code == 1
    assert "not a kea-fanvil inventory" in result.stderr and "Traceback" not in result.output
    assert empty.read_bytes() == b""


def test_the_writer_reads_the_hooks_records_by_their_table(
    tmp_path: Path, reports: Reports
) -> None:
    # The C++ packet path keeps the records, each with its decision as indices into the table
    # it was decided from; the writer takes them all per batch and writes the very rows the
    # Python path writes from Engine.explain.
    engine = Engine(parse_policy(POLICY))
    compiled = engine.compile()
    names = {5: inventory.TableNames(compiled)}
    none = inventory.NONE
    boot = compiled.boot_files.index("desk-12.cfg")
    branch_url = compiled.urls.index("http://branch.example.com/")
    branch = compiled.sites.index("branch")
    desk = (100.0, DESK, b"Fanvil X4 2.10.2.6887", 0, ip("198.18.0.9"))
    other = (101.0, OTHER, b"Fanvil C62", ip("198.18.64.2"), ip("198.18.100.10"))
    batches = [
        (
            [
                (*desk, 5, 1, 0, boot, none),
                (*other, 5, 2, branch_url, none, branch),
                (102.0, OTHER[:5] + b"\x02", None, 0, 0, 4, 3, 0, none, none),  # table gone
            ],
            3,
        ),
        ([], 0),
    ]
    writer = InventoryWriter(
        str(tmp_path / "table.db"),
        reports,
        source=lambda: batches.pop(0) if batches else ([], 0),
        names=names.get,
    )
    writer.flush()
    writer.close()
    python_path = InventoryWriter(str(tmp_path / "python.db"), Reports())
    python_path.submit((*desk, engine))
    python_path.submit((*other, engine))
    python_path.flush()
    python_path.close()
    rows = read_phones(tmp_path / "table.db")
    assert rows == read_phones(tmp_path / "python.db")
    assert [(p.mac, p.matched_by, p.site, p.url, p.boot_file) for p in rows] == [
        ("0c:38:3e:00:00:01", "vendor-class", "branch", "http://branch.example.com/", ""),
        (
            "0c:38:3e:11:3a:f8",
            "device",
            "",
            "http://phone:****@prov.example.com/$mac.cfg",
            "desk-12.cfg",
        ),
    ]
    assert reports.counts("fanvil-inventory-recorded") == 2
    # The hook's own drops and the record of a table no longer known are counted.
    assert reports.counts("fanvil-inventory-dropped") == 4


def test_table_names_refuse_an_index_out_of_range() -> None:
    names = inventory.TableNames(Engine(parse_policy(POLICY)).compile())
    assert names.explain(1, 0, inventory.NONE, inventory.NONE) is not None
    assert names.explain(9, 0, inventory.NONE, inventory.NONE) is None  # no such match
    assert names.explain(1, 99, inventory.NONE, inventory.NONE) is None
    assert names.explain(1, 0, 99, inventory.NONE) is None
    assert names.explain(1, 0, inventory.NONE, 99) is None
