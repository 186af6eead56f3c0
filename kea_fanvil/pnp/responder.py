"""The PnP responder: tell phones with static addresses their provisioning URL over SIP.

A Fanvil phone with PnP enabled (spec 2.2, 4.3) multicasts, at boot, a SIP SUBSCRIBE to
224.0.1.75:5060 (FIELD-NOTES, "PnP")::

    SUBSCRIBE sip:MAC=0c383e113af8@224.0.1.75 SIP/2.0
    Event: ua-profile;profile-type="device";vendor="Fanvil";model="C62";version="2.4.1"
    Accept: application/url
    Expires: 0

and waits for a NOTIFY whose body is the URL. Phones that are ours under the policy (the same
engine as DHCP: the device, the site holding the phone's source address, the default) get
``200 OK`` and then the NOTIFY, sent to their Contact; everyone else gets silence, so that
another PnP server on the network can answer them.

Three layers, each testable alone:

- :class:`Responder` holds the state and makes every choice, without sockets or clocks: a
  datagram (and the time) in, datagrams to send out. Retransmitted SUBSCRIBEs (same Call-ID,
  CSeq and source) get the cached bytes again, never a second decision; a NOTIFY is resent on
  RFC 3261 timer E until the phone answers it; a token bucket per source address limits what
  one host can make us do; problems are logged once per kind per interval, and counted.
- :func:`kea_fanvil.pnp.service.serve` is the service around it: sockets, signals and a loop.
- :func:`kea_fanvil.pnp.client.pnp_probe` is the phone's side, for ``kea-fanvil pnp probe``
  and the tests.
"""

from __future__ import annotations

import logging
import re
import secrets
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from kea_fanvil.engine import Engine, Request
from kea_fanvil.errors import PnpError, SipError
from kea_fanvil.fanvil.identify import mac_bytes, normalize_mac
from kea_fanvil.ratelimit import LogSink, RateLimiter, ThrottledLog
from kea_fanvil.redact import mask
from kea_fanvil.version import __version__
from kea_fanvil.wire.sip import (
    Event,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
    build_message,
    format_via,
    parse_event,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
)

__all__ = [
    "GROUP",
    "OUTCOMES",
    "PORT",
    "Limits",
    "LogSink",
    "Outgoing",
    "PnpError",
    "Responder",
    "Subscribe",
    "mac_from_user",
    "parse_subscribe",
    "response_destination",
]

GROUP = "224.0.1.75"  # spec 2.2's "PnP Server" default (IANA: SIP multicast, RFC 3261 10.2.6)
PORT = 5060
# RFC 3261 section 17.1.2.2 (timer E: T1 doubling up to T2, until timer F = 64*T1) and 17.2.2
# (timer J: a non-INVITE server transaction absorbs retransmissions for 64*T1).
T1 = 0.5
T2 = 4.0
TRANSACTION_LIFETIME = 64 * T1
# Bounds on what a flood (spoofed sources included) can make us hold in memory.
MAX_TRANSACTIONS = 10_000
MAX_PENDING_NOTIFIES = 4_096

Address = tuple[str, int]
Outgoing = tuple[bytes, Address]
LocalAddress = Callable[[str], Address]  # our (address, port) as the given peer sees us

# Every datagram on the group socket ends in exactly one of these (tests check the sum).
OUTCOMES = (
    "rate_limited",  # over its source's token bucket: dropped unread
    "malformed",  # not SIP this parser accepts (counted per kind too)
    "not_subscribe",  # another request method, or a response
    "other_event",  # a SUBSCRIBE for another event package or profile type
    "contact_mismatch",  # Contact names another host than the sender: refused
    "not_ours",  # the policy does not match the phone
    "answered",  # 200 OK and NOTIFY for a new SUBSCRIBE
    "retransmission",  # a SUBSCRIBE seen before: the same answer (or silence) again
)
OTHER_STATS = (
    "decisions",
    "notify_sent",
    "notify_resent",
    "notify_confirmed",  # the phone answered the NOTIFY with a final response
    "notify_unconfirmed",  # no answer before timer F
    "stray_replies",  # datagrams to our reply port that answer no NOTIFY of ours
    "send_errors",
    "reloads",
    "reload_failures",
)


@dataclass(frozen=True)
class Limits:
    """Per-source rate limit and log throttling (CLI: --rate, --burst, --log-interval)."""

    rate: float = 2.0  # datagrams per second per source address, refilled continuously
    burst: int = 10  # a phone's boot: one SUBSCRIBE and a few retransmissions (timer E)
    log_interval: float = 60.0  # seconds between two log lines of the same kind


# --- what a phone asks --------------------------------------------------------------------------

# The user part of the Request-URI, after %-decoding, in the forms seen in the field:
#   MAC=0c383e113af8   (FIELD-NOTES; Fanvil)
#   MAC:0c383e113af8   (sent as MAC%3A0c383e113af8 or MAC%3a..., snom; or raw)
#   MAC0c383e113af8    (Yealink, in MikoPBX's test client)
_MAC_USER = re.compile(r"MAC[=:]?(.+)", re.IGNORECASE)
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class Subscribe:
    """A SUBSCRIBE, checked for what an answer needs."""

    request: SipRequest
    mac: str  # 0c:38:3e:11:3a:f8
    event: Event
    via: Via  # the top one
    contact: SipUri

    @property
    def is_device_profile(self) -> bool:
        """A ``ua-profile`` subscription for the device's profile: the one PnP answers."""
        return (
            self.event.package == "ua-profile"
            and (self.event.params.get("profile-type") or "").lower() == "device"
        )

    def param(self, name: str) -> str:
        return self.event.params.get(name) or ""

    @property
    def vendor_class(self) -> bytes | None:
        """The Event's vendor, model and version in option 60's form ("Fanvil C62 2.4.1"), so
        that the policy's vendor-class prefixes match PnP and DHCP alike."""
        text = " ".join(
            p for p in (self.param("vendor"), self.param("model"), self.param("version")) if p
        )
        return text.encode("utf-8") if text else None


def mac_from_user(user: str | None) -> str:
    """The phone's MAC from the Request-URI's user part; SipError("bad-mac") otherwise."""
    if not user:
        raise SipError("bad-mac", "the Request-URI has no user part (expected MAC=...)")
    text = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), user)
    match = _MAC_USER.fullmatch(text)
    if "%" in text or match is None:
        raise SipError("bad-mac", f"the Request-URI user {user[:40]!r} is not MAC=<mac>")
    try:
        return normalize_mac(match[1])
    except ValueError:
        raise SipError("bad-mac", f"{match[1][:40]!r} is not a MAC address") from None


def parse_subscribe(request: SipRequest) -> Subscribe:
    """Check a SUBSCRIBE for what PnP needs; raise SipError for what is missing or broken."""
    event = request.get("event")
    if event is None:
        raise SipError("bad-event", "a SUBSCRIBE without Event")
    contact = request.get("contact")
    if contact is None:
        raise SipError("bad-contact", "a SUBSCRIBE without Contact: nowhere to NOTIFY")
    try:
        contact_uri = parse_uri(parse_name_addr(contact).uri)
    except SipError as exc:
        raise SipError("bad-contact", str(exc)) from None
    via = parse_via(request.values("via")[0])
    if via.transport != "UDP":
        raise SipError("bad-via", f"transport {via.transport} (only UDP is served)")
    parse_name_addr(request.get("from") or "")
    parse_name_addr(request.get("to") or "")
    return Subscribe(
        request, mac_from_user(parse_uri(request.uri).user), parse_event(event), via, contact_uri
    )


def response_destination(via: Via, source: Address) -> Address:
    """Where a response to a UDP request goes: RFC 3261 section 18.2.2 (the source address)
    with RFC 3581 (the source port when the client asked with ``rport``)."""
    if "rport" in via.params:
        return source
    return source[0], via.port or PORT


def _with_tag(value: str, tag: str) -> str:
    return value if "tag" in parse_name_addr(value).params else f"{value};tag={tag}"


# --- state ---------------------------------------------------------------------------------------


@dataclass
class _Notify:
    data: bytes
    to: Address
    mac: str
    deadline: float  # timer F
    next_at: float
    interval: float = T1


@dataclass
class _Transaction:
    created: float
    answer: tuple[Outgoing, ...]  # 200 OK (and NOTIFY); () when the phone is not ours
    notify_branch: str | None = None


@dataclass
class Responder:
    """The responder's state and decisions; no sockets, no clock (``now`` is passed in)."""

    engine: Engine
    local_address: LocalAddress
    log: LogSink
    limits: Limits = field(default_factory=Limits)
    stats: Counter[str] = field(default_factory=Counter)
    malformed: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._limiter = RateLimiter(self.limits.rate, self.limits.burst)
        self._throttle = ThrottledLog(self.log, self.limits.log_interval)
        self._transactions: dict[tuple[str, int, str], _Transaction] = {}
        self._pending: dict[str, _Notify] = {}  # by our NOTIFY's Via branch

    # The group socket: SUBSCRIBEs from phones.
    def on_request(self, data: bytes, source: Address, now: float) -> list[Outgoing]:
        self.stats["received"] += 1
        if not self._limiter.allow(source[0], now):
            return self._count(
                "rate_limited",
                f"{source[0]}: more than {self.limits.burst} datagrams at once or "
                f"{self.limits.rate:g}/s; dropping the excess",
                now,
            )
        try:
            message = parse_message(data)
            if not isinstance(message, SipRequest) or message.method != "SUBSCRIBE":
                return self._count("not_subscribe", "", now)
            key = (message.call_id, message.cseq[0], source[0])
            done = self._transactions.get(key)
            if done is not None:
                return self._again(done)
            sub = parse_subscribe(message)
        except SipError as exc:
            self.malformed[exc.kind] += 1
            where = f"{source[0]}:{source[1]}"
            return self._count(
                "malformed", f"malformed SIP from {where} ({exc.kind}): {exc}", now, exc.kind
            )
        if not sub.is_device_profile:
            return self._count("other_event", "", now)
        if sub.contact.host != source[0]:
            # Answering would let anyone aim our NOTIFYs (and the URL in them) at a third host.
            return self._count(
                "contact_mismatch",
                f"{sub.mac} at {source[0]}: Contact names {sub.contact.host}, not the sender; "
                "ignored",
                now,
            )
        return self._decide(sub, key, source, now)

    def _count(
        self, outcome: str, text: str, now: float, kind: str = "", level: int = logging.WARNING
    ) -> list[Outgoing]:
        """Count a datagram that gets no answer; log it, throttled by outcome and kind."""
        self.stats[outcome] += 1
        if text:
            self._throttle.report(f"{outcome}:{kind}" if kind else outcome, level, mask(text), now)
        return []

    def _again(self, done: _Transaction) -> list[Outgoing]:
        self.stats["retransmission"] += 1
        out = list(done.answer[:1])
        pending = self._pending.get(done.notify_branch or "")
        if pending is not None:
            # The phone may have missed the NOTIFY as well as the 200 OK.
            self.stats["notify_resent"] += 1
            out.append((pending.data, pending.to))
        return out

    def _decide(
        self, sub: Subscribe, key: tuple[str, int, str], source: Address, now: float
    ) -> list[Outgoing]:
        self.stats["decisions"] += 1
        request = Request(
            mac=mac_bytes(sub.mac),
            vendor_class=sub.vendor_class,
            yiaddr=socket.inet_aton(source[0]),  # the site is the one holding the phone
        )
        decision = self.engine.decide(request)
        vendor = (sub.vendor_class or b"no vendor").decode("utf-8", "replace")
        if decision.url is None:
            self._remember(key, _Transaction(now, ()))
            return self._count(
                "not_ours",
                f"{sub.mac} at {source[0]} ({vendor}): not a phone this policy matches; no answer",
                now,
                level=logging.INFO,
            )
        try:
            local = self.local_address(source[0])
        except OSError as exc:
            self.stats["send_errors"] += 1
            self._throttle.report(
                "no-route", logging.WARNING, f"no route to {source[0]}: {exc}", now
            )
            return []
        ok, notify, branch = self._answer(sub, source, local, decision.url)
        notify_to = (sub.contact.host, sub.contact.port or PORT)
        answer = ((ok, response_destination(sub.via, source)), (notify, notify_to))
        self._remember(key, _Transaction(now, answer, branch))
        # Timer E's first retransmission after T1, timer F's end after 64*T1.
        self._track(branch, _Notify(notify, notify_to, sub.mac, now + 64 * T1, now + T1))
        self.stats["answered"] += 1
        self.stats["notify_sent"] += 1
        where = f"site {decision.site}" if decision.site else "default"
        if decision.device:
            where = f"device {decision.device}"
        self.log(
            logging.INFO,
            mask(
                f"answered {sub.mac} at {source[0]} ({vendor}): matched by "
                f"{decision.matched_by}, {where} URL {decision.url}"
            ),
        )
        return list(answer)

    def _answer(
        self, sub: Subscribe, source: Address, local: Address, url: str
    ) -> tuple[bytes, bytes, str]:
        request = sub.request
        tag = secrets.token_hex(6)
        # RFC 3261 18.2.1 / RFC 3581: tell the phone the address and port we saw it from.
        top = dict(sub.via.params)
        top["received"] = source[0]
        if "rport" in top:
            top["rport"] = str(source[1])
        vias = [format_via(Via(sub.via.transport, sub.via.host, sub.via.port, top))]
        vias += request.values("via")[1:]
        to = _with_tag(request.get("to") or "", tag)
        contact = f"<sip:{local[0]}:{local[1]}>"
        cseq, method = request.cseq
        ok = build_message(
            "SIP/2.0 200 OK",
            [
                *(("Via", v) for v in vias),
                ("From", request.get("from") or ""),
                ("To", to),
                ("Call-ID", request.call_id),
                ("CSeq", f"{cseq} {method}"),
                ("Contact", contact),
                ("Expires", "0"),
                ("Server", f"kea-fanvil/{__version__}"),
            ],
        )
        branch = "z9hG4bK" + secrets.token_hex(8)  # RFC 3261 8.1.1.7: the magic cookie first
        notify = build_message(
            f"NOTIFY {parse_name_addr(request.get('contact') or '').uri} SIP/2.0",
            [
                ("Via", f"SIP/2.0/UDP {local[0]}:{local[1]};branch={branch};rport"),
                ("Max-Forwards", "70"),
                ("From", to),  # the notifier is the SUBSCRIBE's target (RFC 6665 4.2.2)
                ("To", request.get("from") or ""),
                ("Call-ID", request.call_id),
                ("CSeq", "1 NOTIFY"),
                ("Contact", contact),
                ("Event", request.get("event") or ""),  # the same package and id (RFC 6665)
                ("Subscription-State", "terminated;reason=timeout"),  # a one-shot fetch
                ("Content-Type", "application/url"),
                ("User-Agent", f"kea-fanvil/{__version__}"),
            ],
            # As the policy has it: $mac and $input are for the phone to expand (spec 4.3).
            url.encode("utf-8"),
        )
        return ok, notify, branch

    def _remember(self, key: tuple[str, int, str], transaction: _Transaction) -> None:
        if len(self._transactions) >= MAX_TRANSACTIONS:
            del self._transactions[next(iter(self._transactions))]
        self._transactions[key] = transaction

    def _track(self, branch: str, notify: _Notify) -> None:
        if len(self._pending) >= MAX_PENDING_NOTIFIES:
            oldest = next(iter(self._pending))
            self._give_up(self._pending.pop(oldest), notify.next_at)
        self._pending[branch] = notify

    def _give_up(self, notify: _Notify, now: float) -> None:
        self.stats["notify_unconfirmed"] += 1
        self._throttle.report(
            "notify-unanswered",
            logging.WARNING,
            f"{notify.mac} at {notify.to[0]}:{notify.to[1]} never answered its NOTIFY",
            now,
        )

    # The reply socket: the phones' answers to our NOTIFYs.
    def on_reply(self, data: bytes, source: Address, now: float) -> None:
        try:
            message = parse_message(data)
            branch = parse_via(message.values("via")[0]).params.get("branch") or ""
        except SipError:
            message, branch = None, ""
        pending = self._pending.get(branch)
        if not isinstance(message, SipResponse) or message.cseq[1] != "NOTIFY" or pending is None:
            self.stats["stray_replies"] += 1
            return
        if message.status < 200:
            pending.interval = T2  # RFC 3261 17.1.2.2: provisional, keep going at T2
            return
        del self._pending[branch]
        self.stats["notify_confirmed"] += 1
        if message.status >= 300:
            self._throttle.report(
                "notify-refused",
                logging.WARNING,
                f"{pending.mac} at {source[0]} refused its NOTIFY: {message.status} "
                f"{message.reason}",
                now,
            )

    def tick(self, now: float) -> list[Outgoing]:
        """Retransmit due NOTIFYs, give up on those past timer F, forget old transactions."""
        out: list[Outgoing] = []
        for branch, notify in list(self._pending.items()):
            if now >= notify.deadline:
                del self._pending[branch]
                self._give_up(notify, now)
            elif now >= notify.next_at:
                out.append((notify.data, notify.to))
                self.stats["notify_resent"] += 1
                notify.interval = min(2 * notify.interval, T2)
                notify.next_at = now + notify.interval
        while self._transactions:
            key, oldest = next(iter(self._transactions.items()))
            if now - oldest.created < TRANSACTION_LIFETIME:
                break
            del self._transactions[key]
        self._throttle.flush(now)
        return out

    def next_deadline(self) -> float | None:
        times = [min(n.next_at, n.deadline) for n in self._pending.values()]
        if self._transactions:
            times.append(next(iter(self._transactions.values())).created + TRANSACTION_LIFETIME)
        return min(times) if times else None

    def report_socket_error(self, to: Address | None, exc: OSError, now: float) -> None:
        """A failed send to ``to`` (or, with None, a failed receive): counted, throttled."""
        self.stats["send_errors"] += 1
        what = f"cannot send to {to[0]}:{to[1]}" if to else "cannot receive"
        self._throttle.report("socket-error", logging.WARNING, f"{what}: {exc}", now)

    def stats_line(self) -> str:
        counts = [f"{name}={self.stats[name]}" for name in ("received", *OUTCOMES, *OTHER_STATS)]
        counts += [f"malformed.{kind}={n}" for kind, n in sorted(self.malformed.items())]
        return "stats: " + " ".join(counts)

    def stats_dict(self) -> dict[str, object]:
        return {
            "counters": {n: self.stats[n] for n in ("received", *OUTCOMES, *OTHER_STATS)},
            "malformed": dict(sorted(self.malformed.items())),
        }
