"""Tell phones to fetch their provisioning files now: an out-of-dialog SIP ``NOTIFY`` with
``Event: check-sync`` (what Asterisk's PJSIPNotify sends phones for a resync), one UDP
non-INVITE client transaction per phone, many in flight on one socket.

What a phone does with it is not known for Fanvil firmware (docs/resync.md): the event text,
the ``reboot`` parameter and the Request-URI's user part are therefore settings, not guesses.

Two layers, as for the PnP responder:

- :class:`Transactions` holds every transaction's state and makes every choice, with no socket
  and no clock (``now`` is passed in): RFC 3261 section 17.1.2.2's client transaction (timer E
  from T1 doubling up to T2, every T2 once a provisional response came, timer F = 64*T1 ends
  it), responses matched to their request by the top Via's branch and then Call-ID and CSeq
  (section 17.1.3), and new transactions started no faster than ``rate`` per second.
- :func:`send_notifies` runs it on one UDP socket. ICMP errors (port or host unreachable)
  come back through the socket's error queue (``IP_RECVERR``) with the destination they were
  for, so each ends the transactions to that destination (section 17.1.4: a transport error
  ends the transaction).

Every value that reaches a message is checked first: addresses are IPv4 literals (never
multicast, broadcast or unspecified), the event is an RFC 6665 event type (section 8.4, a
token without dots, then ``.template`` parts), the user part only unreserved characters, so
nothing from an inventory or a command line can add a line to the message.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import select
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from kea_fanvil.errors import PnpError, SipError
from kea_fanvil.fanvil.identify import normalize_mac
from kea_fanvil.netif import route_source
from kea_fanvil.version import __version__
from kea_fanvil.wire.sip import MAX_DATAGRAM, SipResponse, build_message, parse_message, parse_via

__all__ = [
    "DEFAULT_EVENT",
    "DEFAULT_RATE",
    "MAX_RATE",
    "PORT",
    "T1",
    "T2",
    "Outcome",
    "Prepared",
    "Result",
    "Settings",
    "Target",
    "Transactions",
    "check_address",
    "check_event",
    "check_user",
    "event_header",
    "notify_request",
    "prepare",
    "send_notifies",
]

PORT = 5060
T1 = 0.5  # RFC 3261 section 17.1.1.1: the round-trip estimate
T2 = 4.0  # section 17.1.2.2: the longest interval between two retransmissions
DEFAULT_EVENT = "check-sync"
DEFAULT_RATE = 20.0  # new transactions per second: a few hundred phones in seconds, no burst
MAX_RATE = 1000.0
IP_RECVERR = 11  # <linux/in.h>; Python's socket module does not name it

Address = tuple[str, int]
Result = Literal["answered", "timeout", "error"]

# RFC 6665 section 8.4 (RFC 3265 section 7.2): event-type = event-package *("." event-template),
# each a token-nodot.
_TOKEN_NODOT = r"[A-Za-z0-9\-!%*_+`'~]+"
_EVENT_TYPE = re.compile(rf"{_TOKEN_NODOT}(?:\.{_TOKEN_NODOT})*")
MAX_EVENT = 64
# RFC 3261 section 25.1 user = 1*(unreserved / escaped / user-unreserved), kept to unreserved
# with "=" and "+" (PnP's MAC=..., E.164 numbers): no escapes, no separator a phone might split at.
_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()=+]{1,64}")


def check_address(text: str) -> str:
    """``text`` as a unicast IPv4 address a phone may hold; ValueError saying why not."""
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError(f"{text[:60]!r} is not an IPv4 address") from None
    if address.is_multicast:
        raise ValueError(f"{address} is a multicast address, not a phone")
    if address.is_unspecified or address == ipaddress.IPv4Address("255.255.255.255"):
        raise ValueError(f"{address} is not the address of one host")
    if address in ipaddress.IPv4Network("240.0.0.0/4"):
        raise ValueError(f"{address} is a reserved address (240.0.0.0/4), not a phone")
    return str(address)


def check_event(text: str) -> str:
    """An RFC 6665 event type such as ``check-sync``; ValueError otherwise."""
    if len(text) > MAX_EVENT or _EVENT_TYPE.fullmatch(text) is None:
        raise ValueError(
            f"{text[:MAX_EVENT]!r} is not a SIP event package (RFC 6665 section 8.4: letters, "
            "digits and -!%*_+`'~, parts joined by '.'; at most 64 characters)"
        )
    return text


def check_user(text: str) -> str:
    """A Request-URI user part: unreserved characters only (RFC 3261 section 25.1)."""
    if _USER.fullmatch(text) is None:
        raise ValueError(
            f"{text[:64]!r} is not a SIP user part this sender writes (1 to 64 letters, "
            "digits and -_.!~*'()=+)"
        )
    return text


def event_header(event: str, reboot: bool | None) -> str:
    """``check-sync;reboot=false``; ``reboot`` None leaves the parameter out."""
    check_event(event)
    if reboot is None:
        return event
    return f"{event};reboot={'true' if reboot else 'false'}"


@dataclass(frozen=True)
class Target:
    """A phone to notify: its MAC (normalised) and where the inventory last saw it."""

    mac: str
    address: str
    port: int = PORT

    def __post_init__(self) -> None:
        # Checked here too, whoever made the target: these strings go into the message.
        object.__setattr__(self, "mac", normalize_mac(self.mac))
        object.__setattr__(self, "address", check_address(self.address))
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not 1..65535")


@dataclass(frozen=True)
class Settings:
    """What goes into each NOTIFY and how the transactions run (CLI: kea-fanvil notify)."""

    event: str = DEFAULT_EVENT
    reboot: bool | None = False  # ;reboot=false; None: no parameter
    user: str | None = None  # Request-URI user part; "$mac" becomes the 12 hex digits
    rate: float = DEFAULT_RATE
    t1: float = T1
    t2: float = T2
    timeout: float | None = None  # timer F; None: 64*T1 (section 17.1.2.2)

    def __post_init__(self) -> None:
        check_event(self.event)
        if self.user is not None:
            check_user(self.user.replace("$mac", "0c383e000000"))
        if not 0 < self.rate <= MAX_RATE:
            raise ValueError(f"rate {self.rate:g} is not above 0 and at most {MAX_RATE:g}/s")
        if not 0 < self.t1 <= 60:
            raise ValueError(f"T1 {self.t1:g} s is not above 0 and at most 60")
        if self.timeout is not None and not 0 < self.timeout <= 3600:
            raise ValueError(f"timeout {self.timeout:g} s is not above 0 and at most 3600")

    @property
    def timer_f(self) -> float:
        return self.timeout if self.timeout is not None else 64 * self.t1

    @property
    def longest_interval(self) -> float:
        return max(self.t2, self.t1)


def notify_request(
    target: Target, local: Address, settings: Settings, branch: str, call_id: str, tag: str
) -> bytes:
    """The NOTIFY for one phone, sent from ``local`` (what the phone sees as our address).

    Every header RFC 3261 section 8.1.1 requires of a request (To, From, CSeq, Call-ID,
    Max-Forwards, Via; Contact, which 8.1.1.8 wants in a request that could start a dialog).
    Out of any dialog (no SUBSCRIBE came first), as PBXs send check-sync: no To tag, CSeq 1,
    and ``Subscription-State: terminated``, which RFC 6665 section 8.2.3 makes mandatory in a
    NOTIFY, saying no subscription lives on. No body (Content-Length: 0).
    """
    if not branch.startswith("z9hG4bK"):  # RFC 3261 8.1.1.7: the magic cookie first
        raise ValueError(f"branch {branch!r} does not start with z9hG4bK")
    host = check_address(local[0])
    user = ""
    if settings.user is not None:
        user = check_user(settings.user.replace("$mac", target.mac.replace(":", ""))) + "@"
    uri = f"sip:{user}{target.address}:{target.port}"
    me = f"sip:kea-fanvil@{host}:{local[1]}"
    return build_message(
        f"NOTIFY {uri} SIP/2.0",
        [
            ("Via", f"SIP/2.0/UDP {host}:{local[1]};branch={branch};rport"),
            ("Max-Forwards", "70"),  # RFC 3261 8.1.1.6
            ("From", f"<{me}>;tag={tag}"),
            ("To", f"<{uri}>"),
            ("Call-ID", call_id),
            ("CSeq", "1 NOTIFY"),
            ("Contact", f"<{me}>"),
            ("Event", event_header(settings.event, settings.reboot)),
            ("Subscription-State", "terminated"),
            ("User-Agent", f"kea-fanvil/{__version__}"),
        ],
    )


@dataclass(frozen=True)
class Prepared:
    target: Target
    data: bytes
    branch: str
    call_id: str


def prepare(target: Target, local: Address, settings: Settings) -> Prepared:
    """The request for ``target`` with fresh identifiers (RFC 3261 8.1.1.4, 8.1.1.7)."""
    branch = "z9hG4bK" + secrets.token_hex(8)
    call_id = f"{secrets.token_hex(10)}@{local[0]}"
    data = notify_request(target, local, settings, branch, call_id, secrets.token_hex(6))
    return Prepared(target, data, branch, call_id)


@dataclass(frozen=True)
class Outcome:
    """How one phone's transaction ended."""

    target: Target
    result: Result
    status: int | None = None  # the final response's code (result "answered")
    reason: str = ""  # its reason phrase, or what went wrong
    sent: int = 0  # transmissions, the first included
    after: float | None = None  # seconds from the first transmission to the end

    @property
    def ok(self) -> bool:
        return self.result == "answered" and self.status is not None and 200 <= self.status < 300


@dataclass
class _Transaction:
    prepared: Prepared
    start_at: float  # when the rate limit lets it start
    started: float | None = None
    next_at: float = 0.0  # timer E
    interval: float = 0.0
    deadline: float = 0.0  # timer F
    sent: int = 0
    provisional: bool = False  # section 17.1.2.2 "Proceeding"


@dataclass
class Transactions:
    """Every phone's NOTIFY transaction; no socket, no clock. See the module docstring."""

    requests: Sequence[Prepared]
    settings: Settings
    start: float
    stray: int = 0  # datagrams that answer none of our transactions
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # by branch

    def __post_init__(self) -> None:
        gap = 1.0 / self.settings.rate
        self._waiting = [_Transaction(p, self.start + i * gap) for i, p in enumerate(self.requests)]
        self._waiting.reverse()  # popped from the end: the first request first
        self._live: dict[str, _Transaction] = {}

    @property
    def finished(self) -> bool:
        return not self._waiting and not self._live

    def due(self, now: float) -> list[tuple[Prepared, Address]]:
        """What to send now: new transactions the rate allows, and retransmissions (timer E).
        Transactions past timer F end as timeouts."""
        out: list[tuple[Prepared, Address]] = []
        while self._waiting and self._waiting[-1].start_at <= now:
            tx = self._waiting.pop()
            tx.started, tx.interval = now, self.settings.t1
            tx.next_at, tx.deadline = now + tx.interval, now + self.settings.timer_f
            self._live[tx.prepared.branch] = tx
            tx.sent += 1
            out.append((tx.prepared, _address(tx.prepared.target)))
        for branch, tx in list(self._live.items()):
            if now >= tx.deadline:
                self._end(branch, "timeout", now, reason="no final response before timer F")
            elif now >= tx.next_at:
                tx.sent += 1
                out.append((tx.prepared, _address(tx.prepared.target)))
                # Trying: double up to T2; Proceeding: every T2 (section 17.1.2.2).
                longest = self.settings.longest_interval
                tx.interval = longest if tx.provisional else min(2 * tx.interval, longest)
                tx.next_at = now + tx.interval
        return out

    def next_wake(self) -> float | None:
        times = [min(tx.next_at, tx.deadline) for tx in self._live.values()]
        if self._waiting:
            times.append(self._waiting[-1].start_at)
        return min(times) if times else None

    def on_datagram(self, data: bytes, now: float) -> None:
        """A datagram on our socket: a response to one of ours, or counted as stray."""
        try:
            message = parse_message(data)
            branch = parse_via(message.values("via")[0]).params.get("branch") or ""
        except (SipError, IndexError):
            self.stray += 1
            return
        tx = self._live.get(branch)
        if (
            not isinstance(message, SipResponse)
            or tx is None
            or message.call_id != tx.prepared.call_id
            or message.cseq != (1, "NOTIFY")
        ):
            # Includes late copies of a final response (timer K's job in section 17.1.2.2).
            self.stray += 1
            return
        if message.status < 200:
            tx.provisional = True
            return
        self._end(branch, "answered", now, message.status, message.reason)

    def on_error(self, destination: Address, reason: str, now: float) -> None:
        """An ICMP error (or a failed send) for ``destination``: every transaction to it ends."""
        for branch, tx in list(self._live.items()):
            if _address(tx.prepared.target) == destination:
                self._end(branch, "error", now, reason=reason)

    def _end(
        self, branch: str, result: Result, now: float, status: int | None = None, reason: str = ""
    ) -> None:
        tx = self._live.pop(branch)
        after = None if tx.started is None else now - tx.started
        self.outcomes[branch] = Outcome(tx.prepared.target, result, status, reason, tx.sent, after)

    def results(self) -> list[Outcome]:
        """One outcome per request, in the order given (only once :attr:`finished`)."""
        return [self.outcomes[p.branch] for p in self.requests]


def _address(target: Target) -> Address:
    return target.address, target.port


# --- the socket -----------------------------------------------------------------------------------


def _open(bind: Address) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # Without it an unconnected UDP socket never hears of ICMP errors.
        sock.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
        sock.bind(bind)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise PnpError(f"cannot send from {bind[0]}:{bind[1]}: {exc.strerror or exc}") from None
    return sock


_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err, <linux/errqueue.h>


def _read_errors(sock: socket.socket) -> list[tuple[Address, str]]:
    """ICMP errors queued on ``sock``: (the destination they were for, why)."""
    found: list[tuple[Address, str]] = []
    while True:
        try:
            _, ancillary, _, destination = sock.recvmsg(MAX_DATAGRAM, 512, socket.MSG_ERRQUEUE)
        except (BlockingIOError, InterruptedError):
            return found
        for level, kind, data in ancillary:
            if level == socket.SOL_IP and kind == IP_RECVERR and len(data) >= 16:
                errno = _EXTENDED_ERR.unpack_from(data)[0]
                found.append(((destination[0], destination[1]), os.strerror(errno)))


def _send(sock: socket.socket, data: bytes, to: Address) -> None:
    """sendto, not failed by an ICMP error meant for an earlier datagram to another phone.

    The kernel keeps the last ICMP error as the socket's pending error as well as in the
    error queue, and fails the next send with it (without sending): clear it first. An error
    that arrives in between fails the send once; a real one (no route) fails every time.
    """
    for attempt in range(3):
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        try:
            sock.sendto(data, to)
            return
        except (BlockingIOError, InterruptedError):
            raise
        except OSError:
            if attempt == 2:
                raise


def send_notifies(
    targets: Sequence[Target],
    settings: Settings,
    bind: Address = ("0.0.0.0", 0),
    clock: Callable[[], float] = time.monotonic,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> tuple[list[Outcome], int]:
    """Send each target its NOTIFY from one socket bound to ``bind``; (outcomes in the
    targets' order, stray datagrams). PnpError when the socket cannot be opened.

    ``on_outcome`` hears of each transaction as it ends (for a live report).
    """
    sock = _open(bind)
    with sock:
        port = sock.getsockname()[1]
        local: dict[str, str] = {}
        requests: list[Prepared] = []
        outcomes: list[Outcome | None] = []  # by target; None: its transaction decides
        for target in targets:
            try:
                source = bind[0] if bind[0] != "0.0.0.0" else local.get(target.address)
                if source is None:
                    source = local[target.address] = route_source(target.address)
                requests.append(prepare(target, (source, port), settings))
                outcomes.append(None)
            except OSError as exc:  # no route: nothing to send from
                failed = Outcome(target, "error", reason=exc.strerror or str(exc))
                outcomes.append(failed)
                if on_outcome is not None:
                    on_outcome(failed)
        core = Transactions(requests, settings, clock())
        reported: set[str] = set()

        def report() -> None:
            if on_outcome is not None:
                for branch, outcome in core.outcomes.items():
                    if branch not in reported:
                        reported.add(branch)
                        on_outcome(outcome)

        while not core.finished:
            now = clock()
            for prepared, to in core.due(now):
                try:
                    _send(sock, prepared.data, to)
                except BlockingIOError:
                    pass  # a full send buffer: timer E sends it again
                except OSError as exc:
                    core.on_error(to, exc.strerror or str(exc), now)
            report()
            wake = core.next_wake()
            if wake is None:
                continue
            ready, _, _ = select.select([sock], [], [], max(0.0, wake - clock()))
            if not ready:
                continue
            now = clock()
            for destination, reason in _read_errors(sock):
                core.on_error(destination, reason, now)
            while True:
                try:
                    data = sock.recv(MAX_DATAGRAM + 1)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    continue  # the error just read from the queue, reported once more
                core.on_datagram(data, now)
            report()
        done = iter(core.results())
        return [o if o is not None else next(done) for o in outcomes], core.stray
