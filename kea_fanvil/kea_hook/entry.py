"""The only functions the C++ Kea hook calls (src/python_bridge.cc).

The hook passes plain values and gets plain values back, so nothing here knows of Kea.

- ``load`` never raises. It returns ``(outcome, text)``: ``("loaded", summary)``;
  ``("kept", why)`` when the new policy is broken but one loaded earlier in this process stays
  in force (Kea reloads hook libraries on ``config-reload``, and the interpreter, with this
  module, survives that); or ``("invalid", why)`` when there is nothing to fall back on.
- The packet path: with ``publish`` (the hook's default, ``"decisions": "table"``) the hook
  decides in C++ from :meth:`kea_fanvil.engine.Engine.compile`'s table, handed over through
  ``publish`` (with a generation number) at load and after every reload, and never calls
  Python per packet; the inventory then pulls the matched requests, with their decisions, from
  the hook's own buffer through ``drain``. Python keeps no policy objects on this path: once
  the table is published they are freed and the heap trimmed. Without ``publish``
  (``"decisions": "python"``) the hook calls ``decide`` for every response.
- ``decide`` may raise on a real bug; the hook catches that, sends the response unchanged and
  counts an error.
- ``stop`` ends the file watcher and the inventory writer; the hook calls it before Kea
  unloads the library, because both report through a function that lives in the library.

Inventory: every matched request reaches :class:`kea_fanvil.kea_hook.inventory.InventoryWriter`
(a bounded buffer, a thread and SQLite), never waited for.

Live reload: with ``reload_interval`` > 0 a daemon thread (:class:`kea_fanvil.reloader.Reloader`)
checks the policy file and its inventory (size, mtime, inode) every interval and, when they
changed, loads the new policy and swaps it in. Requests in flight keep the table (or engine)
they started with. A broken new policy leaves the old one in force; each broken version is reported
once, not once per check.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kea_fanvil.engine import CompiledTable, Engine, RawDecision
from kea_fanvil.errors import KeaFanvilError
from kea_fanvil.kea_hook.inventory import DEFAULT_DB, InventoryWriter, Source, TableNames
from kea_fanvil.policy.loader import load_policy, source_files
from kea_fanvil.policy.secrets import exposure_warnings
from kea_fanvil.redact import mask
from kea_fanvil.reloader import Reloader

__all__ = [
    "NAMES_KEPT",
    "RELOAD_SWITCH_INTERVAL",
    "WATCHER_NICENESS",
    "LogSink",
    "Publish",
    "decide",
    "load",
    "stop",
]

# (kind, path, text); kinds: "reloaded", "reload-failed", "warning" (path: the policy's),
# "inventory-error" (path: the database's), "count" (path: a statistic's name, text: a number).
RELOAD_SWITCH_INTERVAL = 0.0001  # seconds; see _start_watcher
WATCHER_NICENESS = 10  # added to the watcher thread's nice value (Linux: per thread)
NAMES_KEPT = 4  # tables whose names the inventory can still read records of (see _hand_over)
LogSink = Callable[[str, str, str], None]
# Hands a decision table and its generation to the hook, which parses it and swaps it in;
# raises if it refuses it.
Publish = Callable[[bytes, int], None]


@dataclass(frozen=True)
class _Loaded:
    """A policy in force: what the watcher and a later load() need of it."""

    sources: list[Path]  # the policy file and its devices_file, watched for changes
    summary: str
    # The Python path's engine. The table path keeps only the compiled table: once the hook
    # has it, the policy's Python objects (about 110 MiB for 100,000 devices) are let go.
    engine: Engine | None
    compiled: CompiledTable | None
    warnings: tuple[str, ...]  # exposure warnings about the policy file (passwords readable)


_engine: Engine | None = None  # what decide() answers with (the Python path only)
_current: _Loaded | None = None
_publish: Publish | None = None
_watcher: Reloader[_Loaded] | None = None
_writer: InventoryWriter | None = None
_generation = 0
_names: dict[int, TableNames] = {}


def load(
    policy_path: str,
    reload_interval: float = 0.0,
    log: LogSink | None = None,
    inventory: str | None = "",
    publish: Publish | None = None,
    drain: Source | None = None,
) -> tuple[str, str]:
    """Load the policy for the hook; never raises (see the module docstring).

    ``inventory`` is the SQLite file recording the phones seen ("" for none, None for
    :data:`kea_fanvil.kea_hook.inventory.DEFAULT_DB`). ``publish`` and ``drain``: the C++
    packet path's table hand-over and inventory buffer (see the module docstring).
    """
    global _publish
    stop()
    _publish = publish
    sink = log or _ignore
    try:
        loaded = _build(policy_path)
    except Exception as exc:  # the hook must get text, never a Python exception
        why = _reason(policy_path, exc)
        previous = _current
        if previous is None:
            return ("invalid", why)
        try:
            # A new copy of the library has no table yet, nor a Python path's engine.
            kept = _adapt(previous)
            _hand_over(kept)
        except Exception as again:
            return (
                "invalid",
                f"{why}; the policy in force cannot be kept: {_reason(policy_path, again)}",
            )
        _install(kept, first=True)
        outcome = ("kept", why)
        watched: _Loaded | None = None
    else:
        _install(loaded, first=True)
        for warning in loaded.warnings:
            sink("warning", policy_path, warning)
        outcome = ("loaded", loaded.summary)
        watched = loaded
    if reload_interval > 0:
        _start_watcher(policy_path, reload_interval, sink, watched)
    if inventory != "":
        _start_inventory(inventory or DEFAULT_DB, sink, drain)
    return outcome


def decide(
    mac: bytes, opt60: bytes | None, opt55: bytes | None, giaddr: bytes, yiaddr: bytes
) -> RawDecision | None:
    """None when the client is not one of our phones, else (options, BOOTP file field).
    Only the Python path ("decisions": "python") calls this."""
    engine = _engine  # one read: a reload swapping the engine cannot split a decision
    if engine is None:
        if _current is not None:
            raise RuntimeError("decide() called, but the hook decides from its table")
        raise RuntimeError("decide() called before a policy was loaded")
    result = engine.decide_raw(mac, opt60, opt55, giaddr, yiaddr)
    writer = _writer
    if result is not None and writer is not None:
        # The raw facts only: the writer thread works out the rest, off the packet path.
        relay = int.from_bytes(giaddr, "big") if len(giaddr) == 4 else 0
        offered = int.from_bytes(yiaddr, "big") if len(yiaddr) == 4 else 0
        writer.submit((time.time(), mac, opt60, relay, offered, engine))
    return result


def stop() -> None:
    """Stop the file watcher (waiting for a reload in progress to finish) and the inventory
    writer (after it wrote what it holds)."""
    global _watcher, _writer
    watcher, _watcher = _watcher, None
    if watcher is not None:
        watcher.stop()
    writer, _writer = _writer, None
    if writer is not None:
        writer.stop()


def _build(policy_path: str) -> _Loaded:
    """Load, compile and hand over the policy at ``policy_path``; raises on any failure
    (including a table the hook refuses: then nothing changes)."""
    # The cyclic collector would run many times while a large policy is built, each time
    # walking every object with the GIL held (measured: pauses of 120 ms for 100,000 devices,
    # in which Kea's threads cannot decide). The new objects hold no cycles; _install freezes
    # them. Also a third faster.
    enabled = gc.isenabled()
    gc.disable()
    try:
        engine = Engine(load_policy(policy_path))
    finally:
        if enabled:
            gc.enable()
    table_path = _publish is not None
    loaded = _Loaded(
        sources=source_files(policy_path, engine.policy),
        summary=engine.policy.summary(),
        engine=None if table_path else engine,
        compiled=engine.compile() if table_path else None,
        warnings=tuple(exposure_warnings(policy_path, engine.policy)),
    )
    _hand_over(loaded)
    return loaded


def _adapt(loaded: _Loaded) -> _Loaded:
    """``loaded`` for the packet path this load() was given (a config change may switch it)."""
    if _publish is not None and loaded.compiled is None:
        assert loaded.engine is not None
        return _Loaded(
            loaded.sources, loaded.summary, None, loaded.engine.compile(), loaded.warnings
        )
    if _publish is None and loaded.engine is None:
        raise KeaFanvilError(
            'it was compiled for the table path and cannot answer in Python ("decisions": "python")'
        )
    return loaded


def _hand_over(loaded: _Loaded) -> None:
    """Give the C++ packet path ``loaded``'s table, before Python starts answering with it, so
    both always decide from the same policy. Raises when the hook refuses the table."""
    global _generation
    publish = _publish
    if publish is None or loaded.compiled is None:
        return
    generation = (_generation + 1) % 2**32
    # Registered before the hook can make a record with this number. Kept for the last few
    # tables: records decided from the previous one may still wait in the hook's buffer.
    _names[generation] = TableNames(loaded.compiled)
    for old in [g for g in _names if g != generation][: max(0, len(_names) - NAMES_KEPT)]:
        del _names[old]
    publish(loaded.compiled.data, generation)
    _generation = generation


def _reason(policy_path: str, exc: Exception) -> str:
    if isinstance(exc, KeaFanvilError):
        return mask(str(exc))
    return mask(f"{policy_path}: unexpected {type(exc).__name__}: {exc}")


def _install(loaded: _Loaded, first: bool) -> None:
    """Make ``loaded`` the policy in force (and decide()'s engine on the Python path)."""
    global _engine, _current
    if loaded.engine is None:
        # The table path: the hook decides from the table; Python keeps no policy objects.
        # With no packet waiting for the GIL, a full collection costs nothing to Kea, and the
        # freed memory goes back to the system (glibc keeps freed heap unless trimmed).
        _engine = None
        _current = loaded
        gc.unfreeze()
        gc.collect()
        _trim_heap()
        return
    if first:
        # A large inventory is hundreds of thousands of long-lived objects: keep the cyclic
        # collector from walking them all, with the GIL held, in the middle of Kea's packet
        # path. Once, at load time, a full collection is affordable.
        gc.unfreeze()
        _engine = loaded.engine
        _current = loaded
        gc.collect()
    else:
        # A reload runs while Kea serves: a full collection would hold the GIL for a long
        # moment. The old engine is freed by reference counting (it holds no cycles).
        _engine = loaded.engine
        _current = loaded
    gc.freeze()


def _trim_heap() -> None:
    """Return freed heap memory to the system: glibc's malloc_trim, where there is one."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def _ignore(kind: str, path: str, text: str) -> None:
    pass


# --- the file watcher ---------------------------------------------------------------------------


def _sources(policy_path: str, loaded: _Loaded | None) -> list[Path]:
    return [Path(policy_path)] if loaded is None else loaded.sources


def _start_inventory(path: str, sink: LogSink, drain: Source | None) -> None:
    global _writer

    def report(kind: str, detail: str, text: str) -> None:
        sink("inventory-error" if kind == "error" else kind, detail, text)

    _writer = InventoryWriter(path, report, source=drain, names=_names.get if drain else None)
    _writer.start()


def _start_watcher(path: str, interval: float, sink: LogSink, loaded: _Loaded | None) -> None:
    """Watch ``path`` and, through ``loaded`` (the policy last loaded from it; None when it was
    broken at load time), its devices_file."""
    global _watcher

    def build() -> _Loaded:
        # While this thread holds the GIL, Kea's threads on the Python path wait for it up to
        # the switch interval (5 ms) per decision: a long load would starve them to about 200
        # decisions a second and Kea would drop packets. A short interval during the load lets
        # them in often. (The table path's packets never wait for the GIL.)
        switch = sys.getswitchinterval()
        sys.setswitchinterval(RELOAD_SWITCH_INTERVAL)
        try:
            return _build(path)  # a table the hook refuses fails the reload: the old one stays
        finally:
            sys.setswitchinterval(switch)

    def swap_in(loaded: _Loaded, started: float) -> None:
        _install(loaded, first=False)
        took = time.monotonic() - started
        sink("reloaded", path, f"{loaded.summary} (read in {took:.2f} s)")
        for warning in loaded.warnings:
            sink("warning", path, warning)

    def failed(exc: Exception) -> None:
        sink("reload-failed", path, _reason(path, exc))

    _watcher = Reloader(
        "kea-fanvil-policy-watcher",
        build,
        swap_in,
        failed,
        current=loaded,
        sources=lambda current: _sources(path, current),
        interval=interval,
        # Reloading is background work: on a busy machine Kea's own threads come first.
        niceness=WATCHER_NICENESS,
    )
    _watcher.start()
