"""The only functions the C++ Kea hook calls (src/python_bridge.cc).

The hook passes plain values and gets plain values back, so nothing here knows of Kea.

- ``load`` never raises. It returns ``(outcome, text)``: ``("loaded", summary)``;
  ``("kept", why)`` when the new policy is broken but one loaded earlier in this process stays
  in force (Kea reloads hook libraries on ``config-reload``, and the interpreter, with this
  module, survives that); or ``("invalid", why)`` when there is nothing to fall back on.
- The packet path: with ``publish`` (the hook's default, ``"decisions": "table"``) the hook
  decides in C++ from :meth:`kea_fanvil.engine.Engine.table`, handed over through ``publish``
  at load and after every reload, and never calls Python per packet; the inventory then pulls
  the matched requests from the hook's own buffer through ``drain``. Without it
  (``"decisions": "python"``) the hook calls ``decide`` for every response.
- ``decide`` may raise on a real bug; the hook catches that, sends the response unchanged and
  counts an error.
- ``stop`` ends the file watcher and the inventory writer; the hook calls it before Kea
  unloads the library, because both report through a function that lives in the library.

Inventory: every matched request is handed to :class:`kea_fanvil.kea_hook.inventory.InventoryWriter`
(a bounded buffer, a thread and SQLite), never waited for.

Live reload: with ``reload_interval`` > 0 a daemon thread (:class:`kea_fanvil.reloader.Reloader`)
checks the policy file and its inventory (size, mtime, inode) every interval and, when they
changed, loads the new policy and swaps it in. Requests in flight keep the engine they
started with. A broken new policy leaves the old one in force; each broken version is reported
once, not once per check.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kea_fanvil.engine import Engine, RawDecision
from kea_fanvil.errors import KeaFanvilError
from kea_fanvil.kea_hook.inventory import DEFAULT_DB, InventoryWriter, Source
from kea_fanvil.policy.loader import load_policy, source_files
from kea_fanvil.policy.secrets import exposure_warnings
from kea_fanvil.redact import mask
from kea_fanvil.reloader import Reloader

__all__ = [
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
LogSink = Callable[[str, str, str], None]
# Hands a decision table to the hook, which parses it and swaps it in; raises if it refuses it.
Publish = Callable[[bytes], None]

_engine: Engine | None = None
_publish: Publish | None = None
_watcher: Reloader[Engine] | None = None
_writer: InventoryWriter | None = None


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
        engine = _build(policy_path)
        _hand_over(engine)
    except Exception as exc:  # the hook must get text, never a Python exception
        why = _reason(policy_path, exc)
        if _engine is None:
            return ("invalid", why)
        try:
            _hand_over(_engine)  # a new copy of the library has no table yet
        except Exception as again:
            return ("invalid", _reason(policy_path, again))
        outcome = ("kept", why)
        loaded: Engine | None = None
    else:
        _install(engine, first=True)
        for warning in exposure_warnings(policy_path, engine.policy):
            sink("warning", policy_path, warning)
        outcome = ("loaded", engine.policy.summary())
        loaded = engine
    if reload_interval > 0:
        _start_watcher(policy_path, reload_interval, sink, loaded)
    if inventory != "":
        _start_inventory(inventory or DEFAULT_DB, sink, drain)
    return outcome


def decide(
    mac: bytes, opt60: bytes | None, opt55: bytes | None, giaddr: bytes, yiaddr: bytes
) -> RawDecision | None:
    """None when the client is not one of our phones, else (options, BOOTP file field)."""
    engine = _engine  # one read: a reload swapping the engine cannot split a decision
    if engine is None:
        raise RuntimeError("decide() called before a policy was loaded")
    result = engine.decide_raw(mac, opt60, opt55, giaddr, yiaddr)
    writer = _writer
    if result is not None and writer is not None:
        # The raw facts only: the writer thread works out the rest, off the packet path.
        writer.submit((time.time(), mac, opt60, opt55, giaddr, yiaddr, engine))
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


def _build(policy_path: str) -> Engine:
    # The cyclic collector would run many times while a large policy is built, each time
    # walking every object with the GIL held (measured: pauses of 120 ms for 100,000 devices,
    # in which Kea's threads cannot decide). The new objects hold no cycles; _install freezes
    # them. Also a third faster.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return Engine(load_policy(policy_path))
    finally:
        if enabled:
            gc.enable()


def _hand_over(engine: Engine) -> None:
    """Give the C++ packet path ``engine``'s table, before Python starts answering with it, so
    both always decide from the same policy. Raises when the hook refuses the table."""
    publish = _publish
    if publish is not None:
        publish(engine.table())


def _reason(policy_path: str, exc: Exception) -> str:
    if isinstance(exc, KeaFanvilError):
        return mask(str(exc))
    return mask(f"{policy_path}: unexpected {type(exc).__name__}: {exc}")


def _install(engine: Engine, first: bool) -> None:
    """Make ``engine`` the one decide() uses."""
    global _engine
    if first:
        # A large inventory is hundreds of thousands of long-lived objects: keep the cyclic
        # collector from walking them all, with the GIL held, in the middle of Kea's packet
        # path. Once, at load time, a full collection is affordable.
        gc.unfreeze()
        _engine = engine
        gc.collect()
    else:
        # A reload runs while Kea serves: a full collection would hold the GIL for a long
        # moment. The old engine is freed by reference counting (it holds no cycles).
        _engine = engine
    gc.freeze()


def _ignore(kind: str, path: str, text: str) -> None:
    pass


# --- the file watcher ---------------------------------------------------------------------------


def _sources(policy_path: str, engine: Engine | None) -> list[Path]:
    if engine is None:
        return [Path(policy_path)]
    return source_files(policy_path, engine.policy)


def _start_inventory(path: str, sink: LogSink, drain: Source | None) -> None:
    global _writer

    def report(kind: str, detail: str, text: str) -> None:
        sink("inventory-error" if kind == "error" else kind, detail, text)

    def engine() -> Engine | None:
        return _engine

    _writer = InventoryWriter(path, report, source=drain, engine=engine if drain else None)
    _writer.start()


def _start_watcher(path: str, interval: float, sink: LogSink, loaded: Engine | None) -> None:
    """Watch ``path`` and, through ``loaded`` (the engine last loaded from it; None when it was
    broken at load time), its devices_file."""
    global _watcher

    def build() -> Engine:
        # While this thread holds the GIL, Kea's threads wait for it up to the switch interval
        # (5 ms) per decision: a long load would starve them to about 200 decisions a second
        # and Kea would drop packets. A short interval during the load lets them in often.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(RELOAD_SWITCH_INTERVAL)
        try:
            engine = _build(path)
            _hand_over(engine)  # a table the hook refuses fails the reload: the old one stays
            return engine
        finally:
            sys.setswitchinterval(switch)

    def swap_in(engine: Engine, started: float) -> None:
        _install(engine, first=False)
        took = time.monotonic() - started
        sink("reloaded", path, f"{engine.policy.summary()} (read in {took:.2f} s)")
        for warning in exposure_warnings(path, engine.policy):
            sink("warning", path, warning)

    def failed(exc: Exception) -> None:
        sink("reload-failed", path, _reason(path, exc))

    _watcher = Reloader(
        "kea-fanvil-policy-watcher",
        build,
        swap_in,
        failed,
        current=loaded,
        sources=lambda engine: _sources(path, engine),
        interval=interval,
        # Reloading is background work: on a busy machine Kea's own threads come first.
        niceness=WATCHER_NICENESS,
    )
    _watcher.start()
