"""``kea-fanvil pnp serve``: the PnP responder as a long-lived service.

Sockets, signals and one loop around :class:`kea_fanvil.pnp.responder.Responder`, which makes every
decision. One thread does all the work; a second one only loads a new policy on SIGHUP, so
that phones are answered while a large policy loads, and hands it over through a queue.

- SIGTERM, SIGINT: stop, exit 0, a final counters line;
- SIGHUP: reload the policy; a broken file leaves the previous one in force (the idea of
  ``hook_entry``'s watcher) and each problem is logged as file:line:column;
- SIGUSR1: log the counters and write ``--stats-file``.

Signals arrive through :func:`signal.set_wakeup_fd`, so a signal wakes the loop at once
instead of waiting for the next datagram or timer.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import queue
import selectors
import signal
import socket
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from kea_fanvil import safe_files
from kea_fanvil.engine import Engine
from kea_fanvil.errors import PnpError, PolicyError
from kea_fanvil.netif import route_source
from kea_fanvil.pnp.responder import GROUP, PORT, Limits, LogSink, Outgoing, Responder
from kea_fanvil.policy.loader import load_policy
from kea_fanvil.policy.secrets import exposure_warnings
from kea_fanvil.redact import mask
from kea_fanvil.reloader import Reloader
from kea_fanvil.wire.sip import MAX_DATAGRAM

__all__ = ["open_group_socket", "serve"]

SOCKET_BUFFER = 4 << 20  # bytes: room for a burst of phones booting after a power cut
BATCH = 256  # datagrams read per wake-up before timers get their turn

_Handover = queue.SimpleQueue[Engine | Exception]  # from the reload thread to the loop


def _buffer(sock: socket.socket) -> None:
    # SO_RCVBUFFORCE (root, or CAP_NET_ADMIN) passes net.core.rmem_max; otherwise take what
    # SO_RCVBUF grants.
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, SOCKET_BUFFER)  # SO_RCVBUFFORCE
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)


def open_group_socket(group: str, port: int, interfaces: Sequence[str]) -> socket.socket:
    """A UDP socket receiving what is sent to group:port, joined on each interface.

    Bound to the group address, not to 0.0.0.0: unicast SIP on this host (a PBX on port 5060)
    never reaches us, and SO_REUSEADDR lets another PnP listener share the group.
    A unicast ``group`` is bound as it is, for phones whose PnP server is set to this host.
    """
    try:
        address = ipaddress.IPv4Address(group)
    except ValueError:
        raise PnpError(f"{group!r} is not an IPv4 address") from None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _buffer(sock)
        sock.bind((group, port))
        if address.is_multicast:
            for iface in interfaces or [""]:
                index = socket.if_nametoindex(iface) if iface else 0  # 0: the kernel's choice
                mreqn = struct.pack("=4s4si", address.packed, bytes(4), index)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        where = f" on {', '.join(interfaces)}" if interfaces else ""
        raise PnpError(f"cannot listen on {group}:{port}{where}: {exc.strerror or exc}") from None
    return sock


def _send(sock: socket.socket, responder: Responder, out: list[Outgoing], now: float) -> None:
    for data, to in out:
        try:
            sock.sendto(data, to)
        except OSError as exc:
            responder.report_socket_error(to, exc, now)


def _write_stats(path: Path | None, responder: Responder, log: LogSink) -> None:
    if path is None:
        return
    try:
        # Atomic: readers never see half a file.
        data = json.dumps({"time": time.time(), **responder.stats_dict()}).encode()
        safe_files.write_atomic(path, data)
    except OSError as exc:  # the counters are in the log anyway: keep serving
        log(logging.WARNING, f"cannot write {path}: {exc.strerror or exc}")


def _reloader(path: Path, wake: socket.socket) -> tuple[Reloader[Engine], _Handover]:
    """Loads a new policy in a thread, so that phones are answered while a large one loads;
    the loop takes the outcome from the queue (``wake`` rouses it) and puts it in force, since
    only the loop's thread touches the responder."""
    results: _Handover = queue.SimpleQueue()

    def hand_over(result: Engine | Exception) -> None:
        results.put(result)  # a failure is reported by the loop; the old policy stays
        with contextlib.suppress(OSError):
            wake.send(b"\0")

    reloader = Reloader(
        "pnp-policy-reload",
        lambda: Engine(load_policy(path)),
        lambda engine, started: hand_over(engine),
        hand_over,
    )
    return reloader, results


def _reload_done(
    result: Engine | Exception, responder: Responder, path: Path, log: LogSink
) -> None:
    if isinstance(result, Engine):
        responder.engine = result
        responder.stats["reloads"] += 1
        log(logging.INFO, f"policy reloaded: {result.policy.summary()}")
        for warning in exposure_warnings(path, result.policy):
            log(logging.WARNING, warning)
        return
    responder.stats["reload_failures"] += 1
    if isinstance(result, PolicyError):
        lines = [p.render(str(path)) for p in result.problems]
    else:
        lines = [mask(f"{path}: {type(result).__name__}: {result}")]
    count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
    log(logging.ERROR, f"policy reload failed; still serving the previous policy ({count}):")
    for line in lines:
        log(logging.ERROR, f"  {line}")


def serve(
    policy_path: Path,
    engine: Engine,
    interfaces: Sequence[str] = (),
    group: str = GROUP,
    port: int = PORT,
    limits: Limits | None = None,
    stats_file: Path | None = None,
    log: LogSink | None = None,
) -> int:
    """Answer phones until SIGTERM or SIGINT; return the exit status (0).

    SIGHUP reloads ``policy_path`` (a broken file leaves ``engine`` in force and is logged with
    file:line for each problem); SIGUSR1 logs the counters (and writes ``stats_file``).
    Must run in the main thread (signal handlers).
    """
    sink = log or (lambda level, text: logging.getLogger("kea_fanvil.pnp").log(level, text))
    listen = open_group_socket(group, port, interfaces)
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("0.0.0.0", 0))
    reply.setblocking(False)
    _buffer(reply)
    reply_port: int = reply.getsockname()[1]
    responder = Responder(
        engine, lambda peer: (route_source(peer), reply_port), sink, limits or Limits()
    )
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    flags: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        flags.append(signum)

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
    previous = {s: signal.signal(s, on_signal) for s in handled}
    previous_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    reloader, reloads = _reloader(policy_path, wake_w)
    selector = selectors.DefaultSelector()
    selector.register(listen, selectors.EVENT_READ, "listen")
    selector.register(reply, selectors.EVENT_READ, "reply")
    selector.register(wake_r, selectors.EVENT_READ, "wake")
    shown = ", ".join(interfaces) if interfaces else "the default interface"
    sink(
        logging.INFO,
        f"listening on {group}:{port} ({shown}), replies from port {reply_port}; policy "
        f"{policy_path}: {engine.policy.summary()}; rate limit {responder.limits.rate:g}/s per "
        f"source, burst {responder.limits.burst}",
    )
    stopping: str | None = None
    try:
        while stopping is None:
            deadline = responder.next_deadline()
            now = time.monotonic()
            timeout = None if deadline is None else max(0.0, deadline - now)
            for key, _ in selector.select(timeout):
                now = time.monotonic()
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        wake_r.recv(4096)
                    continue
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                for _ in range(BATCH):
                    try:
                        data, source = sock.recvfrom(MAX_DATAGRAM + 1)
                    except BlockingIOError:
                        break
                    except OSError as exc:  # the kernel's word on an earlier datagram
                        responder.report_socket_error(None, exc, now)
                        break
                    if key.data == "listen":
                        _send(reply, responder, responder.on_request(data, source, now), now)
                    else:
                        responder.on_reply(data, source, now)
            while flags:
                signum = flags.pop(0)
                if signum in (signal.SIGTERM, signal.SIGINT):
                    stopping = signal.Signals(signum).name
                elif signum == signal.SIGHUP:
                    sink(logging.INFO, f"SIGHUP: reloading {policy_path}")
                    reloader.request()  # one during a load: loaded once more after it
                elif signum == signal.SIGUSR1:
                    _write_stats(stats_file, responder, sink)  # first: readers wait for the line
                    sink(logging.INFO, responder.stats_line())
            with contextlib.suppress(queue.Empty):
                while True:
                    _reload_done(reloads.get_nowait(), responder, policy_path, sink)
            now = time.monotonic()
            _send(reply, responder, responder.tick(now), now)
    finally:
        reloader.stop(wait=False)  # a load in progress must not hold up the exit
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        selector.close()
        for s in (listen, reply, wake_r, wake_w):
            s.close()
    _write_stats(stats_file, responder, sink)
    sink(logging.INFO, f"stopping on {stopping}; final {responder.stats_line()}")
    return 0
