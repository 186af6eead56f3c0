"""The inventory of phones seen: one SQLite row per phone, written off Kea's packet path.

The hook's C++ packet path pushes every matched request, with the decision it made (as
indices into the decision table), into a bounded buffer of its own; a writer thread drains it
in batches, one GIL acquisition per batch, reads the decision's names from the table's
:class:`TableNames` and upserts one row per MAC in one transaction. (The Python packet path,
``"decisions": "python"``, hands each request to :meth:`InventoryWriter.submit` instead, and the
writer asks the engine that answered to explain it.) A full buffer drops the record and counts
it: the DHCP response never waits. The database is in WAL mode, so ``kea-fanvil devices``
reads while Kea writes. URLs are stored with their passwords masked: the inventory is a record
of what happened, not a second copy of the policy's secrets.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kea_fanvil.errors import InventoryError
from kea_fanvil.fanvil.identify import VendorClass, parse_vendor_class
from kea_fanvil.kea_hook.inventory_pg import (
    PgInventory,
    is_postgresql,
    phone_filters,
    read_rows,
    shown_uri,
)
from kea_fanvil.kea_hook.inventory_pg import read_meta as read_meta_pg
from kea_fanvil.kea_hook.inventory_pg import read_models as read_models_pg
from kea_fanvil.ratelimit import ThrottledLog
from kea_fanvil.redact import mask
from kea_fanvil.reloader import Gate, lower_thread_priority

if TYPE_CHECKING:
    from kea_fanvil.engine import CompiledTable, Engine

__all__ = [
    "BATCH_INTERVAL",
    "BUFFER_LIMIT",
    "BUSY_TIMEOUT_MS",
    "DEFAULT_DB",
    "ERROR_LOG_INTERVAL",
    "HTTP_MATCHED_BY",
    "KNOWN_LIMIT",
    "MATCHED_BY",
    "MODELS_LIMIT",
    "NONE",
    "REFRESH",
    "REOPEN_FIRST",
    "REOPEN_INTERVAL",
    "SCHEMA_VERSION",
    "WRITER_NICENESS",
    "Explained",
    "Facts",
    "InventoryWriter",
    "Names",
    "Phone",
    "RawFacts",
    "Report",
    "Source",
    "TableNames",
    "by_mac",
    "connect",
    "read_meta",
    "read_models",
    "read_phones",
    "record_sightings",
    "sighting",
]

DEFAULT_DB = "/var/lib/kea/kea-fanvil-inventory.sqlite3"
SCHEMA_VERSION = 1
BUFFER_LIMIT = 20_000  # records waiting for the writer; beyond, records are dropped and counted
BATCH_INTERVAL = 0.25  # seconds between two batches
BUSY_TIMEOUT_MS = 1_000  # how long a write waits for a reader's or another writer's lock
REOPEN_FIRST = 1.0  # seconds before the first new attempt to open a database that failed
REOPEN_INTERVAL = 30.0  # seconds between two attempts, at most (the wait doubles until then)
ERROR_LOG_INTERVAL = 60.0  # seconds between two reports of the same kind of error
REFRESH = 60.0  # seconds: a phone's unchanged row is brought up to date at most this often
KNOWN_LIMIT = 500_000  # phones whose last written facts are remembered
WRITER_NICENESS = 10  # added to the writer thread's nice value (Linux: per thread)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS phones (
    mac TEXT PRIMARY KEY,          -- 0c:38:3e:11:3a:f8
    matched_by TEXT NOT NULL,      -- device, vendor-class or oui
    model TEXT NOT NULL,           -- from option 60, '' when it says none
    firmware TEXT NOT NULL,
    vendor_class TEXT NOT NULL,    -- option 60 as text, '' when absent
    address TEXT NOT NULL,         -- the address offered or acknowledged
    relay TEXT NOT NULL,           -- giaddr, '' when not relayed
    site TEXT NOT NULL,
    url TEXT NOT NULL,             -- password masked
    boot_file TEXT NOT NULL,
    first_seen REAL NOT NULL,      -- Unix time
    last_seen REAL NOT NULL,
    times_seen INTEGER NOT NULL    -- responses carrying a decision (OFFERs and ACKs)
);
CREATE INDEX IF NOT EXISTS phones_last_seen ON phones (last_seen);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_TOUCH = """
UPDATE phones SET last_seen = max(last_seen, ?), times_seen = times_seen + ? WHERE mac = ?
"""

# Positional parameters, in the columns' order: naming them costs a dictionary per row.
_UPSERT = """
INSERT INTO phones VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (mac) DO UPDATE SET
    matched_by = excluded.matched_by, model = excluded.model, firmware = excluded.firmware,
    vendor_class = excluded.vendor_class, address = excluded.address, relay = excluded.relay,
    site = excluded.site, url = excluded.url, boot_file = excluded.boot_file,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen),
    times_seen = times_seen + excluded.times_seen
"""


@dataclass(frozen=True)
class Phone:
    """One row of the inventory."""

    mac: str
    matched_by: str
    model: str
    firmware: str
    vendor_class: str
    address: str
    relay: str
    site: str
    url: str
    boot_file: str
    first_seen: float
    last_seen: float
    times_seen: int
    server: str = ""  # which server wrote the row's facts (a shared PostgreSQL inventory)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ours(db: sqlite3.Connection, path: Path) -> None:
    """Raise InventoryError unless ``db`` is a kea-fanvil inventory of this schema."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" in tables:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if version is not None and version[0] == str(SCHEMA_VERSION) and "phones" in tables:
            return
    raise InventoryError(
        f"{path}: not a kea-fanvil inventory (schema {SCHEMA_VERSION}); it is left as it is"
    )


def connect(path: str | Path, create: bool) -> sqlite3.Connection:
    """Open the inventory at ``path``.

    ``create`` (the hook's writer): make the file and its schema when it is missing or empty;
    an existing database that is not a kea-fanvil inventory is refused, never written to.
    Otherwise (readers, `kea-fanvil devices`) read-only: nothing is created or changed, not
    even the journal mode, whatever file ``path`` names."""
    path = Path(path)
    if not create:
        return _open_read_only(path)
    try:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise InventoryError(f"{path}: not a regular file; the inventory is not written there")
        fresh = not path.exists() or path.stat().st_size == 0
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Readable by the owner's group (admins), not by everyone: rows carry addresses.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640))
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    except (sqlite3.Error, OSError) as exc:
        raise InventoryError(f"{path}: {exc}") from exc
    try:
        if not fresh:
            _ours(db, path)  # before anything is written to a file someone else may own
        db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
        db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a crash loses a batch
        db.executescript(_SCHEMA)
        version = str(SCHEMA_VERSION)
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (version,))
        db.commit()
        _ours(db, path)
    except BaseException as exc:
        # Closed here, not left to the garbage collector: Python 3.13 reports a connection it
        # finalises (ResourceWarning), and a corrupt file must be closed before it is moved.
        db.close()
        if isinstance(exc, sqlite3.Error | OSError):
            raise InventoryError(f"{path}: {exc}") from exc
        raise
    return db


def _open_read_only(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise InventoryError(f"{path}: no such inventory (the hook creates it on first use)")
    if not path.is_file():
        raise InventoryError(f"{path}: not a regular file, so not a kea-fanvil inventory")
    try:
        # mode=ro: SQLite neither creates nor converts the file (an empty one stays empty).
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error as exc:
        raise InventoryError(f"{path}: {exc}") from exc
    try:
        _ours(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise InventoryError(f"{path}: not a kea-fanvil inventory ({exc})") from exc
    except BaseException:
        db.close()
        raise
    return db


def read_phones(
    path: str | Path, since: float | None = None, model: str | None = None
) -> list[Phone]:
    """The phones in the inventory (an SQLite file or a PostgreSQL URI), most recently seen
    first."""
    if is_postgresql(path):
        return [Phone(*row) for row in read_rows(str(path), since, model)]
    db = connect(path, create=False)
    try:
        where, args = phone_filters(since, model, "?")
        rows = db.execute(
            f"SELECT * FROM phones WHERE {where} ORDER BY last_seen DESC, mac", args
        ).fetchall()
    except sqlite3.Error as exc:
        raise InventoryError(f"{path}: {exc}") from exc
    finally:
        db.close()
    return [Phone(*row) for row in rows]


MODELS_LIMIT = 1000  # (model, firmware) pairs a summary lists at most


def read_models(path: str | Path, limit: int = MODELS_LIMIT) -> list[tuple[str, str, int]]:
    """How many phones of each (model, firmware) the inventory holds, most first; [] when the
    hook has not created it yet."""
    if is_postgresql(path):
        return read_models_pg(str(path), limit)
    if not Path(path).exists():
        return []
    db = connect(path, create=False)
    try:
        found: list[tuple[str, str, int]] = db.execute(
            "SELECT model, firmware, count(*) FROM phones GROUP BY model, firmware "
            "ORDER BY count(*) DESC, model, firmware LIMIT ?",
            (limit,),
        ).fetchall()
    except sqlite3.Error as exc:
        raise InventoryError(f"{path}: {exc}") from exc
    finally:
        db.close()
    return found


# --- phones seen by the provisioning server (`kea-fanvil files learn`) -------------------------

HTTP_MATCHED_BY = "http"  # a row first seen in the guarded site's access log, not in DHCP
# (MAC, model, firmware, address, site, first seen, last seen, requests). A newer sighting's
# model, firmware and address win (an empty firmware keeps the row's); what only DHCP knows
# (how it matched, option 60, relay, site, URL, boot file) is left as the hook wrote it.
_HTTP_UPSERT = """
INSERT INTO phones VALUES (?, 'http', ?, ?, '', ?, '', ?, '', '', ?, ?, ?)
ON CONFLICT (mac) DO UPDATE SET
    model = CASE WHEN excluded.last_seen >= last_seen THEN excluded.model ELSE model END,
    firmware = CASE WHEN excluded.last_seen >= last_seen AND excluded.firmware != ''
        THEN excluded.firmware ELSE firmware END,
    address = CASE WHEN excluded.last_seen >= last_seen THEN excluded.address ELSE address END,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen),
    times_seen = times_seen + excluded.times_seen
"""


def read_meta(path: str | Path, key: str) -> str | None:
    """A value of the inventory's meta table; None when it or the inventory is missing."""
    if is_postgresql(path):
        return read_meta_pg(str(path), key)
    if not Path(path).exists():
        return None
    db = connect(path, create=False)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error as exc:
        raise InventoryError(f"{path}: {exc}") from exc
    finally:
        db.close()
    return None if row is None else str(row[0])


def record_sightings(
    path: str | Path,
    sightings: Iterable[tuple[str, str, str, str, str, float]],
    meta: tuple[str, str] | None = None,
    server: str = "",
) -> int:
    """Upsert (MAC, model, firmware, address, site, time) sightings, one row per MAC, and set
    the meta ``(key, value)`` in the same transaction; the number of phones written. The
    inventory is created if missing (as the hook's writer creates it). A PostgreSQL inventory
    names ``server`` as the rows' writer (a new row's; a phone DHCP saw keeps its server)."""
    # MAC -> (first, last, count, facts of the newest)
    phones: dict[str, tuple[float, float, int, tuple[str, str, str, str]]] = {}
    for mac, model, firmware, address, site, seen in sightings:
        facts = (model, firmware, address, site)
        old = phones.get(mac)
        if old is None:
            phones[mac] = (seen, seen, 1, facts)
            continue
        newer = seen >= old[1]
        if newer and not firmware:
            facts = (model, old[3][1], address, site)
        phones[mac] = (min(old[0], seen), max(old[1], seen), old[2] + 1, facts if newer else old[3])
    rows = [
        (mac, model, firmware, address, site, first, last, times)
        for mac, (first, last, times, (model, firmware, address, site)) in sorted(phones.items())
    ]
    if is_postgresql(path):
        PgInventory(str(path), server or f"http:{socket.gethostname()}").learn(rows, meta)
        return len(rows)
    db = connect(path, create=True)
    try:
        with db:
            db.executemany(_HTTP_UPSERT, rows)
            if meta is not None:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta)
    except sqlite3.Error as exc:
        raise InventoryError(f"{path}: {exc}") from exc
    finally:
        db.close()
    return len(rows)


# --- the writer ----------------------------------------------------------------------------------

# (matched by, URL with its password masked, boot file or "", site or ""): what a row says of
# the decision.
Explained = tuple[str, str, str, str]
# What the writer works from, per matched response: (time, MAC, option 60 or None, giaddr,
# yiaddr, how it was decided). Addresses are host-order integers. "How" is the decision
# already explained (the C++ table path: read from the record's indices) or the Engine that
# decided (the Python path, "decisions": "python"), asked to explain only when a row is written.
Facts = tuple[float, bytes, bytes | None, int, int, "Explained | Engine"]
# One record of the C++ hook's buffer (python_bridge.cc, drainThunk): (time, MAC, option 60,
# giaddr, yiaddr, table generation, matched (1 device, 2 vendor class, 3 OUI), URL index,
# boot file index, site index); NONE for no boot file or no site.
RawFacts = tuple[float, bytes, bytes | None, int, int, int, int, int, int, int]
# Takes what the C++ buffer holds: (records, records dropped because it was full).
Source = Callable[[], tuple[list[RawFacts], int]]
# (kind, detail, text): ("error", the database path, why) or ("count", statistic name, number).
Report = Callable[[str, str, str], None]

NONE = 0xFFFFFFFF
# TableMatch in decision_table.h, by number.
MATCHED_BY: dict[int, str] = {1: "device", 2: "vendor-class", 3: "oui"}


class TableNames:
    """What the indices of one published table name, with the URLs' passwords masked once.

    Compact on purpose: a policy may name a boot file per device, and 100,000 small strings
    kept beside the table would pin the memory the policy's objects were freed from (measured:
    35 MiB of fragmented heap for 100,000 devices). The boot files are one string, joined by
    NUL (which no boot file may hold), with their offsets in an array."""

    __slots__ = ("_boot_offsets", "_boots", "sites", "urls")

    def __init__(self, compiled: CompiledTable) -> None:
        self.urls = tuple(mask(url) for url in compiled.urls)
        self.sites = compiled.sites
        self._boots = "\0".join(compiled.boot_files) + "\0"
        offsets = array("I", [0])
        for name in compiled.boot_files:
            offsets.append(offsets[-1] + len(name) + 1)
        self._boot_offsets = offsets

    def boot_file(self, index: int) -> str:
        """IndexError when there is no such boot file."""
        if not 0 <= index < len(self._boot_offsets) - 1:
            raise IndexError(index)
        return self._boots[self._boot_offsets[index] : self._boot_offsets[index + 1] - 1]

    def explain(self, matched: int, url: int, boot: int, site: int) -> Explained | None:
        """None when an index is not of this table (which would be a bug in the hook)."""
        try:
            return (
                MATCHED_BY[matched],
                self.urls[url],
                "" if boot == NONE else self.boot_file(boot),
                "" if site == NONE else self.sites[site],
            )
        except (KeyError, IndexError):
            return None


# The names of the tables the hook may still have records of, by generation.
Names = Callable[[int], TableNames | None]


def _address(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big")) if value else ""


def by_mac(batch: Iterable[Facts]) -> dict[bytes, tuple[float, int, Facts]]:
    """MAC -> (first time seen in the batch, records, latest facts)."""
    latest: dict[bytes, tuple[float, int, Facts]] = {}
    for facts in batch:
        earlier = latest.get(facts[1])
        if earlier is None:
            latest[facts[1]] = (facts[0], 1, facts)
        else:
            latest[facts[1]] = (earlier[0], earlier[1] + 1, facts)
    return latest


_NO_VENDOR = VendorClass("", "", "", "")
_vendor_classes: dict[bytes, VendorClass] = {}  # option 60 values repeat: parse each once


def _vendor(opt60: bytes | None) -> VendorClass:
    if not opt60:
        return _NO_VENDOR
    found = _vendor_classes.get(opt60)
    if found is None:
        if len(_vendor_classes) >= 4096:
            _vendor_classes.clear()
        found = _vendor_classes[opt60] = parse_vendor_class(opt60)
    return found


def _explained(facts: Facts) -> Explained | None:
    how = facts[5]
    if isinstance(how, tuple):
        return how
    explained = how.explain(
        facts[1], facts[2], facts[3].to_bytes(4, "big"), facts[4].to_bytes(4, "big")
    )
    if explained is None:
        return None  # the policy changed in between; nothing to say about this client
    matched_by, url, boot_file, site = explained
    return matched_by, mask(url), boot_file or "", site or ""


def sighting(first_seen: float, times: int, facts: Facts) -> tuple[Any, ...] | None:
    """The upsert row (the columns in table order) for one phone, from its latest facts;
    None if it no longer matches."""
    explained = _explained(facts)
    if explained is None:
        return None
    matched_by, url, boot_file, site = explained
    vendor = _vendor(facts[2])
    return (
        facts[1].hex(":"),
        matched_by,
        vendor.model,
        vendor.firmware,
        vendor.text,
        _address(facts[4]),
        _address(facts[3]),
        site,
        url,
        boot_file,
        first_seen,
        facts[0],
        times,
    )


class InventoryWriter(threading.Thread):
    """Owns the database; see the module docstring."""

    def __init__(
        self,
        path: str,
        report: Report,
        limit: int = BUFFER_LIMIT,
        source: Source | None = None,
        names: Names | None = None,
        server: str = "",
    ) -> None:
        """``source`` and ``names``: the records come from the C++ hook's own buffer (drained
        once per batch, one GIL acquisition for all of them) as well as from :meth:`submit`,
        and ``names`` reads their decisions (the names of the table a record's generation
        says it was decided from)."""
        super().__init__(name="kea-fanvil-inventory", daemon=True)
        self.path = path
        self.report = report
        self.limit = limit
        self.source = source
        self.names = names
        self.server = server or socket.gethostname()  # recorded per row in PostgreSQL
        # deque.append and popleft are atomic under the GIL: no lock on the packet path.
        self.buffer: collections.deque[Facts] = collections.deque()
        self.buffer_used = False  # submit() was called: the Python path, whose threads need the GIL
        self.dropped = 0  # not yet reported
        self.stop_event = threading.Event()
        self.gate = Gate()
        self.recorded = 0  # records written since the writer started
        self.dropped_total = 0
        self.last_error = ""
        self._db: sqlite3.Connection | PgInventory | None = None
        self._next_open = 0.0
        self._open_backoff = REOPEN_FIRST
        # The same text each time: a repeated error is not news, and drops are counted anyway.
        # (Through report and path, not self: no reference cycle keeps a stopped writer.)
        shown = shown_uri(path)  # a PostgreSQL URI may (wrongly) hold a password
        self._errors = ThrottledLog(
            lambda level, text: report("error", shown, text),
            ERROR_LOG_INTERVAL,
            count_held=False,
        )
        # MAC -> (facts last written, when seen); MAC -> (last seen, records) not yet written.
        self._known: dict[bytes, tuple[tuple[Any, ...], float]] = {}
        self._pending: dict[bytes, tuple[float, int]] = {}
        self._next_catch_up = 0.0

    def submit(self, facts: Facts) -> None:
        """Called by the packet path: never blocks, never raises."""
        self.buffer_used = True
        if len(self.buffer) < self.limit:
            self.buffer.append(facts)
        else:
            self.dropped += 1  # a lost increment under a race only undercounts drops

    def run(self) -> None:
        lower_thread_priority(WRITER_NICENESS)  # background work: Kea's threads come first
        while not self.stop_event.wait(BATCH_INTERVAL):
            with self.gate.work():  # held off while Kea reconfigures (pause())
                self.flush()
        self.flush(final=True)
        self.close()

    def pause(self) -> None:
        """Finish the batch in progress and write none until :meth:`resume` (records wait in
        the buffers meanwhile, and a full buffer drops and counts them as ever)."""
        self.gate.pause()

    def resume(self) -> None:
        self.gate.resume()

    def status(self) -> dict[str, Any]:
        """What ``fanvil-status`` reports of the inventory."""
        return {
            "path": shown_uri(self.path),
            "state": "paused"
            if self.gate.paused
            else ("error" if self.last_error and self._db is None else "writing"),
            "recorded": self.recorded,
            "dropped": self.dropped_total,
            "last-error": self.last_error,
        }

    def close(self) -> None:
        """Close the database (the thread does on exit; callers that only flush, here)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def stop(self) -> None:
        """Write what is buffered and end the thread (paused or not)."""
        self.stop_event.set()
        self.gate.open()
        self.join()

    def flush(self, final: bool = False) -> None:
        batch: list[Facts] = []
        try:
            while True:
                batch.append(self.buffer.popleft())
        except IndexError:
            pass
        lost, self.dropped = self.dropped, 0
        if self.source is not None and self.names is not None:
            records, full = self.source()
            lost += full
            lost += self._explain(records, batch)
        if batch or (final and self._pending):
            db = self._open()  # reports its own failures
            try:
                if db is None:
                    lost += len(batch)
                else:
                    self._write(db, batch, final)
                    self.recorded += len(batch)
                    self.report("count", "fanvil-inventory-recorded", str(len(batch)))
            except Exception as exc:  # the writer must outlive any surprise
                lost += len(batch)
                self._error(type(exc).__name__, str(exc))
        if lost:
            self.dropped_total += lost
            self.report("count", "fanvil-inventory-dropped", str(lost))

    def _explain(self, records: list[RawFacts], into: list[Facts]) -> int:
        """Append ``records`` to ``into`` as Facts; returns how many could not be read (their
        table is gone: only after several reloads within one batch interval)."""
        assert self.names is not None
        unknown = 0
        generation: int | None = None
        names: TableNames | None = None
        explained: dict[tuple[int, int, int, int], Explained | None] = {}
        for seen, mac, opt60, giaddr, yiaddr, gen, matched, url, boot, site in records:
            if gen != generation:
                generation, names = gen, self.names(gen)
                explained.clear()
            if names is None:
                unknown += 1
                continue
            # A table has few URL and site combinations: read each once per batch.
            key = (matched, url, boot, site)
            if key in explained:
                how = explained[key]
            else:
                how = explained[key] = names.explain(matched, url, boot, site)
            if how is None:
                unknown += 1
            else:
                into.append((seen, mac, opt60, giaddr, yiaddr, how))
        return unknown

    def _write(
        self, db: sqlite3.Connection | PgInventory, batch: list[Facts], final: bool = False
    ) -> None:
        # A phone renewing or a DORA repeated gives the same facts again: rewriting the row for
        # each (and, on the Python path, working out the decision again: about 25 us) would
        # cost more CPU than the DHCP exchange itself. Unchanged facts only bump an in-memory
        # counter; the row catches up at most REFRESH seconds later.
        rows: list[tuple[Any, ...]] = []
        written: dict[bytes, tuple[tuple[Any, ...], float]] = {}
        # On the Python path, let Kea's threads in every 32 phones: they would otherwise wait
        # up to Python's switch interval (5 ms) for the GIL while this loop holds it. (The
        # table path's threads never need the GIL, and each yield is a system call.)
        yield_every = 32 if self.buffer_used else 0
        for n, (mac, (first_seen, times, facts)) in enumerate(by_mac(batch).items(), 1):
            if yield_every and n % yield_every == 0:
                time.sleep(0)
            how = facts[5]
            key = (facts[2], facts[3], facts[4], how if isinstance(how, tuple) else id(how))
            known = self._known.get(mac)
            if known is not None and known[0] == key and facts[0] - known[1] < REFRESH:
                last, count = self._pending.get(mac, (facts[0], 0))
                self._pending[mac] = (max(last, facts[0]), count + times)
                continue
            _, pending = self._pending.pop(mac, (0.0, 0))
            row = sighting(first_seen, times + pending, facts)
            if row is not None:
                rows.append(row)
                written[mac] = (key, facts[0])
        touches = self._due(final)
        if isinstance(db, PgInventory):
            try:
                db.write(rows, touches)
            except InventoryError:
                self._db = None  # closed: reconnect, after a pause, at a later batch
                raise
        else:
            try:
                with db:  # one transaction per batch
                    db.executemany(_UPSERT, rows)
                    db.executemany(_TOUCH, touches)
            except sqlite3.DatabaseError as exc:
                if not isinstance(exc, sqlite3.OperationalError):  # corrupt, not merely locked
                    self._set_aside(db)
                raise
        if len(self._known) > KNOWN_LIMIT:
            self._known.clear()  # bounded memory; the cost is one full rewrite per phone
        self._known.update(written)

    def _due(self, final: bool) -> list[tuple[float, int, str]]:
        """(last seen, count, MAC) updates for the phones whose pending counts are due."""
        now = time.monotonic()
        if not final and now < self._next_catch_up:
            return []
        self._next_catch_up = now + REFRESH / 4
        due = []
        for mac, (last, count) in list(self._pending.items()):
            known = self._known.get(mac)
            if final or known is None or last - known[1] >= REFRESH:
                del self._pending[mac]
                if known is not None:
                    self._known[mac] = (known[0], last)
                due.append((last, count, mac.hex(":")))
        return due

    def _open(self) -> sqlite3.Connection | PgInventory | None:
        if self._db is not None:
            return self._db
        now = time.monotonic()
        if now < self._next_open:
            return None
        # A blip (a database restarting) is over in seconds; a database that stays away is
        # tried every REOPEN_INTERVAL, not once per batch.
        self._next_open = now + self._open_backoff
        self._open_backoff = min(self._open_backoff * 2, REOPEN_INTERVAL)
        try:
            if is_postgresql(self.path):
                self._db = PgInventory(self.path, self.server)
            else:
                self._db = connect(self.path, create=True)
            self._open_backoff = REOPEN_FIRST
        except InventoryError as exc:
            if self._is_corrupt(exc):
                self._set_aside(None)
                with contextlib.suppress(InventoryError):
                    self._db = connect(self.path, create=True)
                    return self._db
            self._error("open", str(exc))
        return self._db

    @staticmethod
    def _is_corrupt(exc: InventoryError) -> bool:
        cause = exc.__cause__
        return isinstance(cause, sqlite3.DatabaseError) and not isinstance(
            cause, sqlite3.OperationalError
        )

    def _set_aside(self, db: sqlite3.Connection | None) -> None:
        """Move a corrupt database out of the way (kept for inspection) and start afresh."""
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        self._db = None
        self._next_open = 0.0
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = f"{self.path}.corrupt-{stamp}"
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self.path + suffix, aside + suffix)
        except OSError as exc:
            self._error("set-aside", f"{self.path} is corrupt and cannot be moved aside: {exc}")
            return
        self.report(
            "error", self.path, f"the database was corrupt; moved to {aside}, new one started"
        )

    def _error(self, kind: str, text: str) -> None:
        self.last_error = text
        self._errors.report(kind, logging.ERROR, text, time.monotonic())
