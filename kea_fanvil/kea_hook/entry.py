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
import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kea_fanvil.engine import Engine, RawDecision, Request
from kea_fanvil.errors import InventoryError, KeaFanvilError
from kea_fanvil.fanvil.identify import mac_bytes
from kea_fanvil.kea_hook import commands
from kea_fanvil.kea_hook.inventory import (
    DEFAULT_DB,
    InventoryWriter,
    Source,
    TableNames,
    read_models,
)
from kea_fanvil.kea_hook.inventory_pg import shown_uri
from kea_fanvil.policy.loader import load_policy, source_files
from kea_fanvil.policy.secrets import exposure_warnings
from kea_fanvil.redact import mask
from kea_fanvil.reloader import Reloader
from kea_fanvil.version import __version__

__all__ = [
    "NAMES_KEPT",
    "RELOAD_SWITCH_INTERVAL",
    "START_GRACE",
    "WATCHER_NICENESS",
    "Evaluate",
    "LogSink",
    "Publish",
    "command",
    "decide",
    "load",
    "pause",
    "resume",
    "start",
    "stop",
]

# (kind, path, text); kinds: "reloaded", "reload-failed", "warning" (path: the policy's),
# "inventory-error" (path: the database's), "count" (path: a statistic's name, text: a number).
RELOAD_SWITCH_INTERVAL = 0.0001  # seconds; see _start_watcher
WATCHER_NICENESS = 10  # added to the watcher thread's nice value (Linux: per thread)
START_GRACE = 5.0  # seconds after load(threads=False) at which the threads start regardless
NAMES_KEPT = 4  # tables whose names the inventory can still read records of (see _hand_over)
LogSink = Callable[[str, str, str], None]
# Hands a decision table and its generation to the hook, which parses it and swaps it in;
# raises if it refuses it.
Publish = Callable[[bytes, int], None]
# The hook's own evaluation of the table in force, for fanvil-decide: (mac, option 60, option
# 55, giaddr, yiaddr as integers) -> None, or (generation, matched, url, boot, site, options as
# ((code, data), ...), BOOTP file field or None).
Evaluate = Callable[
    [bytes, bytes | None, bytes | None, int, int],
    tuple[int, int, int, int, int, tuple[tuple[int, bytes], ...], bytes | None] | None,
]


@dataclass(frozen=True)
class _Loaded:
    """A policy in force: what the watcher and a later load() need of it."""

    sources: list[Path]  # the policy file and its devices_file, watched for changes
    summary: str
    # The Python path's engine. The table path keeps only the table's bytes and names: once
    # the hook has the table, the policy's Python objects (about 110 MiB for 100,000 devices)
    # are let go.
    engine: Engine | None
    table: bytes | None
    names: TableNames | None
    warnings: tuple[str, ...]  # exposure warnings about the policy file (passwords readable)
    # For fanvil-status: what the policy holds, and which version of its files it is.
    counts: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""  # sha256 over the source files' contents
    loaded_at: float = 0.0  # time.time() when it was read


@dataclass
class _Stats:
    """What fanvil-status tells about this process's policy loads."""

    policy_path: str = ""
    reloads: int = 0
    reload_failures: int = 0
    last_failure: str = ""
    threads_started: bool = False
    reload_interval: float = 0.0
    inventory_path: str | None = None  # None: the inventory is off
    critical_sections: int = 0  # pauses for Kea's reconfigurations, in this process


_engine: Engine | None = None  # what decide() answers with (the Python path only)
_current: _Loaded | None = None
_publish: Publish | None = None
_watcher: Reloader[_Loaded] | None = None
_writer: InventoryWriter | None = None
_generation = 0
_names: dict[int, TableNames] = {}
_stats = _Stats()
_evaluate: Evaluate | None = None
# load(threads=False): the watcher and the writer wait for start() (Kea's dhcp4_srv_configured).
_deferred: Callable[[], None] | None = None
_sink: LogSink = lambda kind, path, text: None  # noqa: E731 (replaced by each load())
_reload_lock = threading.Lock()  # fanvil-policy-reload without a watcher: one at a time
_start_lock = threading.Lock()
_start_timer: threading.Timer | None = None


def load(
    policy_path: str,
    reload_interval: float = 0.0,
    log: LogSink | None = None,
    inventory: str | None = "",
    publish: Publish | None = None,
    drain: Source | None = None,
    evaluate: Evaluate | None = None,
    threads: bool = True,
    server_name: str = "",
) -> tuple[str, str]:
    """Load the policy for the hook; never raises (see the module docstring).

    ``inventory`` is the SQLite file or PostgreSQL URI recording the phones seen ("" for none,
    None for :data:`kea_fanvil.kea_hook.inventory.DEFAULT_DB`); ``server_name`` is this
    server's name in a shared (PostgreSQL) inventory, by default the host name. ``publish``,
    ``drain`` and ``evaluate``: the C++ packet path's table hand-over, inventory buffer and
    table evaluation (see the module docstring). ``threads`` False: the file watcher and the
    inventory writer start only when :func:`start` is called (the hook does in Kea's
    dhcp4_srv_configured, as Kea's own hooks start their threads).
    """
    global _publish, _evaluate, _deferred
    stop()
    _publish = publish
    _evaluate = evaluate
    global _sink
    _stats.policy_path = policy_path
    _stats.threads_started = False
    _stats.reload_interval = reload_interval
    _stats.inventory_path = None if inventory == "" else (inventory or DEFAULT_DB)
    sink = _sink = log or _ignore
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

    def start_threads() -> None:
        if reload_interval > 0:
            _start_watcher(policy_path, reload_interval, sink, watched)
        if inventory != "":
            _start_inventory(inventory or DEFAULT_DB, sink, drain, server_name)
        _stats.threads_started = True

    if threads:
        start_threads()
    else:
        _deferred = start_threads
        # Kea calls dhcp4_srv_configured right after the configuration that loaded the
        # library is in force; Kea 2.2's libreload (removed in 2.6: ChangeLog 2242) reloads
        # the libraries alone and calls nothing, so the threads also start by themselves a
        # little later. (A configuration that is then rejected unloads the library: stop()
        # cancels this.)
        global _start_timer
        _start_timer = threading.Timer(START_GRACE, start)
        _start_timer.daemon = True
        _start_timer.start()
    return outcome


def start() -> None:
    """Start the threads a load(threads=False) left waiting; once per load."""
    global _deferred
    with _start_lock:
        begin, _deferred = _deferred, None
        if begin is not None:
            begin()


def pause() -> None:
    """Kea enters a critical section (it is about to reconfigure): finish the reload and the
    inventory batch in progress, and start no other until resume()."""
    _stats.critical_sections += 1
    for thread in (_watcher, _writer):
        if thread is not None:
            thread.pause()


def resume() -> None:
    for thread in (_watcher, _writer):
        if thread is not None:
            thread.resume()


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


def command(name: str, arguments: str) -> tuple[int, str, str]:
    """A control command (see :mod:`kea_fanvil.kea_hook.commands`); never raises.

    ``arguments``: the command's arguments as JSON ("" for none). Returns Kea's answer as
    (result, text, arguments as JSON or "")."""
    try:
        args = json.loads(arguments) if arguments else {}
        if not isinstance(args, dict):
            result, text, body = commands.ERROR, f"{name}: arguments must be a map", None
        else:
            result, text, body = _dispatch(name, args)
    except Exception as exc:  # a command must answer, whatever happened
        result, text, body = commands.ERROR, f"{name}: unexpected {type(exc).__name__}: {exc}", None
    return result, mask(text), "" if body is None else json.dumps(body)


def _dispatch(name: str, args: dict[str, Any]) -> commands.Answer:
    if name == "fanvil-decide":
        return commands.decide_answer(args, _decide_for_command)
    if name == "fanvil-devices-get":
        return commands.devices_answer(args, _stats.inventory_path)
    if args:
        return commands.ERROR, f"{name}: takes no arguments", None
    if name == "fanvil-status":
        return commands.SUCCESS, "kea-fanvil hook status", _status()
    if name == "fanvil-policy-reload":
        return _reload_now()
    return commands.ERROR, f"unknown command {name!r} (known: {', '.join(commands.COMMANDS)})", None


def _decide_for_command(request: commands.DecideRequest) -> commands.Decided | None:
    mac = mac_bytes(request.mac)
    evaluate, engine = _evaluate, _engine
    if _publish is not None and evaluate is not None:
        found = evaluate(mac, request.vendor_class, request.prl, request.giaddr, request.yiaddr)
        if found is None:
            return None
        generation, matched, url, boot, site, options, file_field = found
        names = _names.get(generation)
        explained = names.explain(matched, url, boot, site) if names is not None else None
        if explained is None:
            raise RuntimeError(f"the hook's table {generation} has no names here")
        matched_by, url_text, boot_file, site_name = explained
        return commands.Decided(
            matched_by,
            url_text,
            site_name or None,
            boot_file or None,
            options,
            file_field,
            "table",
        )
    if engine is None:
        raise RuntimeError("no policy is loaded")
    giaddr, yiaddr = request.giaddr.to_bytes(4, "big"), request.yiaddr.to_bytes(4, "big")
    decision = engine.decide(Request(mac, request.vendor_class, request.prl, giaddr, yiaddr))
    raw = engine.decide_raw(mac, request.vendor_class, request.prl, giaddr, yiaddr)
    if decision.matched_by is None or raw is None:
        return None
    return commands.Decided(
        decision.matched_by,
        mask(decision.url or ""),
        decision.site,
        decision.boot_file,
        raw[0],
        raw[1],
        "python",
    )


def _status() -> dict[str, Any]:
    loaded = _current
    writer = _writer
    policy: dict[str, Any] = {"file": _stats.policy_path, "loaded": loaded is not None}
    if loaded is not None:
        policy.update(
            {
                "summary": loaded.summary,
                "fingerprint": f"sha256:{loaded.fingerprint}",
                "loaded-since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(loaded.loaded_at)),
                "loaded-at": loaded.loaded_at,
                "counts": loaded.counts,
                "files": [str(path) for path in loaded.sources],
            }
        )
    if writer is not None:
        inventory: dict[str, Any] = writer.status()
    elif _stats.inventory_path is not None:
        inventory = {"path": shown_uri(_stats.inventory_path), "state": "not started"}
    else:
        inventory = {"state": "off"}
    if _stats.inventory_path is not None:
        # For dashboards (kea-fanvil metrics): the phones by model and firmware.
        try:
            models = read_models(_stats.inventory_path)
            inventory["models"] = [
                {"model": model, "firmware": firmware, "phones": phones}
                for model, firmware, phones in models
            ]
        except InventoryError as exc:
            inventory["models-error"] = shown_uri(str(exc))
    return {
        "policy": policy,
        "decisions": "table" if _publish is not None else "python",
        "table-generation": _generation if _publish is not None else None,
        "reloads": _stats.reloads,
        "reload-failures": _stats.reload_failures,
        "last-reload-failure": _stats.last_failure or None,
        "watcher": "off"
        if _stats.reload_interval <= 0
        else ("running" if _watcher is not None else "not started"),
        "reload-interval": _stats.reload_interval,
        "critical-sections": _stats.critical_sections,
        "inventory": inventory,
        "versions": {"kea-fanvil": __version__, "python": sys.version.split()[0]},
    }


def _reload_now() -> commands.Answer:
    """fanvil-policy-reload: under the watcher's rules (one build at a time; a broken file
    keeps the policy in force), in the calling thread."""
    started = time.monotonic()
    watcher = _watcher
    if watcher is not None:
        failure = watcher.build_now()
    else:
        with _reload_lock:
            try:
                loaded = _build(_stats.policy_path)
            except Exception as exc:
                failure = exc
                _note_failure(_stats.policy_path, exc)
            else:
                failure = None
                _swap_in(_stats.policy_path, loaded, started)
    if failure is not None:
        why = _reason(_stats.policy_path, failure)
        return commands.ERROR, f"{why}; the policy loaded earlier stays in force", None
    current = _current
    summary = current.summary if current is not None else ""
    took = time.monotonic() - started
    return commands.SUCCESS, f"policy reloaded: {summary} (read in {took:.2f} s)", _status()


def stop() -> None:
    """Stop the file watcher (waiting for a reload in progress to finish) and the inventory
    writer (after it wrote what it holds)."""
    global _watcher, _writer, _deferred, _start_timer
    with _start_lock:
        _deferred = None
    timer, _start_timer = _start_timer, None
    if timer is not None:
        timer.cancel()
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
    policy = engine.policy
    sources = source_files(policy_path, policy)
    loaded = _Loaded(
        sources=sources,
        summary=policy.summary(),
        engine=None if table_path else engine,
        **_compiled(engine if table_path else None),
        warnings=tuple(exposure_warnings(policy_path, policy)),
        counts={
            "devices": len(policy.devices),
            "sites": len(policy.sites),
            "vendor-class-prefixes": len(policy.match.vendor_class_prefixes),
            "mac-prefixes": len(policy.match.mac_prefixes()),
        },
        fingerprint=_fingerprint(sources),
        loaded_at=time.time(),
    )
    _hand_over(loaded)
    return loaded


def _compiled(engine: Engine | None) -> dict[str, Any]:
    """_Loaded's table and names, from ``engine``'s table (none without an engine)."""
    if engine is None:
        return {"table": None, "names": None}
    compiled = engine.compile()
    return {"table": compiled.data, "names": TableNames(compiled)}


def _fingerprint(sources: list[Path]) -> str:
    """sha256 over the files a policy was read from, as they are now (just read)."""
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0missing")
    return digest.hexdigest()


def _adapt(loaded: _Loaded) -> _Loaded:
    """``loaded`` for the packet path this load() was given (a config change may switch it)."""
    if _publish is not None and loaded.table is None:
        assert loaded.engine is not None
        return replace(loaded, engine=None, **_compiled(loaded.engine))
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
    if publish is None or loaded.table is None or loaded.names is None:
        return
    generation = (_generation + 1) % 2**32
    # Registered before the hook can make a record with this number. Kept for the last few
    # tables: records decided from the previous one may still wait in the hook's buffer.
    _names[generation] = loaded.names
    for old in [g for g in _names if g != generation][: max(0, len(_names) - NAMES_KEPT)]:
        del _names[old]
    publish(loaded.table, generation)
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


def _swap_in(path: str, loaded: _Loaded, started: float) -> None:
    _install(loaded, first=False)
    _stats.reloads += 1
    took = time.monotonic() - started
    _sink("reloaded", path, f"{loaded.summary} (read in {took:.2f} s)")
    for warning in loaded.warnings:
        _sink("warning", path, warning)


def _note_failure(path: str, exc: Exception) -> None:
    why = _reason(path, exc)
    _stats.reload_failures += 1
    _stats.last_failure = why
    _sink("reload-failed", path, why)


def _sources(policy_path: str, loaded: _Loaded | None) -> list[Path]:
    return [Path(policy_path)] if loaded is None else loaded.sources


def _start_inventory(path: str, sink: LogSink, drain: Source | None, server: str) -> None:
    global _writer

    def report(kind: str, detail: str, text: str) -> None:
        sink("inventory-error" if kind == "error" else kind, detail, text)

    _writer = InventoryWriter(
        path, report, source=drain, names=_names.get if drain else None, server=server
    )
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
        _swap_in(path, loaded, started)

    def failed(exc: Exception) -> None:
        _note_failure(path, exc)

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
