"""The PnP responder's decisions and state, without sockets: a datagram and a time in, the
datagrams to send out. The wire, signals and reloads are in integration/test_pnp_wire.py;
one smoke test here runs the real service on the loopback."""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kea_fanvil import Engine, parse_policy
from kea_fanvil.cli.app import main
from kea_fanvil.errors import PnpError, PolicyError, SipError
from kea_fanvil.pnp import service
from kea_fanvil.pnp.client import UriForm, interface_address, pnp_probe, subscribe_request
from kea_fanvil.pnp.responder import (
    OUTCOMES,
    T1,
    T2,
    TRANSACTION_LIFETIME,
    Limits,
    Outgoing,
    Responder,
    mac_from_user,
    parse_subscribe,
)
from kea_fanvil.ratelimit import RateLimiter, ThrottledLog
from kea_fanvil.wire.sip import SipRequest, SipResponse, parse_message, parse_via

POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
sites:
  - name: branch
    subnet: 198.18.64.0/18
    url: "http://branch.example.com/$mac.cfg"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    name: reception
    url: "https://admin:s3cret@prov.example.com/desk-12/"
"""
DEFAULT_URL = "http://prov.example.com/fanvil/$mac.cfg"
SITE_URL = "http://branch.example.com/$mac.cfg"
DEVICE_URL = "https://admin:s3cret@prov.example.com/desk-12/"
PHONE = ("198.18.0.2", 5060)
BRANCH_PHONE = ("198.18.64.2", 5060)
LOCAL = ("198.18.0.1", 40000)


def _engine(text: str = POLICY) -> Engine:
    return Engine(parse_policy(text))


class Harness:
    """A responder with a recorded log and our address fixed."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.lines: list[tuple[int, str]] = []
        self.responder = Responder(
            _engine(),
            lambda peer: LOCAL,
            lambda level, text: self.lines.append((level, text)),
            limits or Limits(rate=1000, burst=1000),
        )

    def send(
        self, data: bytes, source: tuple[str, int] = PHONE, now: float = 0.0
    ) -> list[Outgoing]:
        return self.responder.on_request(data, source, now)

    @property
    def stats(self) -> Counter[str]:
        return Counter(self.responder.stats)

    def log_text(self) -> str:
        return "\n".join(text for _, text in self.lines)


def _subscribe(
    mac: str = "0c:38:3e:00:00:01",
    source: tuple[str, int] = PHONE,
    vendor: str = "Fanvil",
    model: str = "C62",
    call_id: str | None = None,
    uri_form: UriForm = "MAC=",
) -> bytes:
    return subscribe_request(
        source, mac, vendor, model, "2.4.1", uri_form=uri_form, call_id=call_id
    )


def _parse_request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


# --- what a phone asks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user",
    [
        "MAC=0c383e113af8",  # FIELD-NOTES
        "MAC%3A0c383e113af8",  # snom-style, escaped
        "MAC%3a0c383e113af8",
        "MAC:0c383e113af8",
        "MAC0c383e113af8",  # Yealink, MikoPBX's test client
        "mac=0C383E113AF8",
        "MAC=0c:38:3e:11:3a:f8",
        "MAC%3D0c383e113af8",
    ],
)
def test_mac_from_every_form_seen(user: str) -> None:
    assert mac_from_user(user) == "0c:38:3e:11:3a:f8"


@pytest.mark.parametrize(
    "user",
    [
        None,
        "",
        "0c383e113af8",
        "MAC=",
        "MAC=0c383e113af",
        "MAC=zz383e113af8",
        "MAC%3",
        "MAC%250c383e113af8",
    ],
)
def test_other_users_are_bad_mac(user: str | None) -> None:
    with pytest.raises(SipError) as caught:
        mac_from_user(user)
    assert caught.value.kind == "bad-mac"


@pytest.mark.parametrize("form", ["MAC=", "MAC%3A", "MAC:"])
def test_the_probe_subscribe_is_what_the_responder_reads(form: UriForm) -> None:
    sub = parse_subscribe(_parse_request(_subscribe("0c:38:3e:11:3a:f8", uri_form=form)))
    assert sub.mac == "0c:38:3e:11:3a:f8"
    assert sub.is_device_profile
    assert sub.vendor_class == b"Fanvil C62 2.4.1"
    assert (sub.contact.host, sub.contact.port) == PHONE
    assert sub.via.params.get("rport", "absent") is None


def test_a_subscribe_without_vendor_has_no_vendor_class() -> None:
    sub = parse_subscribe(_parse_request(_subscribe(vendor="", model="")))
    assert sub.vendor_class == b"2.4.1"
    data = _subscribe().replace(b';vendor="Fanvil";model="C62";version="2.4.1"', b"")
    assert parse_subscribe(_parse_request(data)).vendor_class is None


@pytest.mark.parametrize(
    ("edit", "kind"),
    [
        ((b"Event: ", b"X-Event: "), "bad-event"),
        ((b"Contact: ", b"X-Contact: "), "bad-contact"),
        ((b"Contact: <sip:", b"Contact: <http:"), "bad-contact"),
        ((b"SIP/2.0/UDP ", b"SIP/2.0/TCP "), "bad-via"),
        ((b"SUBSCRIBE sip:MAC=", b"SUBSCRIBE sip:PHONE="), "bad-mac"),
        ((b"From: <sip:", b"From: <tel:"), "bad-uri"),
    ],
)
def test_broken_subscribes_name_what_is_wrong(edit: tuple[bytes, bytes], kind: str) -> None:
    data = _subscribe().replace(*edit, 1)
    with pytest.raises(SipError) as caught:
        parse_subscribe(_parse_request(data))
    assert caught.value.kind == kind


# --- answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mac", "source", "url", "where"),
    [
        ("0c:38:3e:11:3a:f8", PHONE, DEVICE_URL, "device reception"),
        ("0c:38:3e:00:00:01", BRANCH_PHONE, SITE_URL, "site branch"),
        ("0c:38:3e:00:00:01", PHONE, DEFAULT_URL, "default"),
    ],
)
def test_a_phone_gets_200_then_a_notify_with_its_url(
    mac: str, source: tuple[str, int], url: str, where: str
) -> None:
    h = Harness()
    request = _subscribe(mac, source)
    out = h.send(request, source)
    assert [to for _, to in out] == [source, source]  # rport: the source port; Contact: the same
    ok, notify = parse_message(out[0][0]), parse_message(out[1][0])
    sub = _parse_request(request)
    assert isinstance(ok, SipResponse) and (ok.status, ok.reason) == (200, "OK")
    assert ok.call_id == sub.call_id and ok.cseq == (1, "SUBSCRIBE")
    assert ok.get("from") == sub.get("from")
    assert (ok.get("to") or "").startswith(f"{sub.get('to')};tag=")
    assert ok.get("expires") == "0"
    top = parse_via(ok.values("via")[0])
    assert top.params["received"] == source[0] and top.params["rport"] == str(source[1])
    assert top.params["branch"] == parse_via(sub.values("via")[0]).params["branch"]
    assert isinstance(notify, SipRequest) and notify.method == "NOTIFY"
    assert notify.uri == f"sip:MAC={mac.replace(':', '')}@{source[0]}:{source[1]}"
    assert notify.body == url.encode()  # as the policy has it: $mac is the phone's to expand
    assert notify.get("content-type") == "application/url"
    assert notify.get("subscription-state") == "terminated;reason=timeout"
    assert notify.get("event") == sub.get("event")
    assert notify.call_id == sub.call_id and notify.cseq == (1, "NOTIFY")
    assert notify.get("from") == ok.get("to") and notify.get("to") == sub.get("from")
    assert parse_via(notify.values("via")[0]).host == LOCAL[0]
    assert h.stats["answered"] == 1 and h.stats["decisions"] == 1
    assert f"answered {mac} at {source[0]} (Fanvil C62 2.4.1)" in h.log_text()
    assert where in h.log_text()


def test_passwords_reach_the_phone_but_never_the_log() -> None:
    h = Harness()
    out = h.send(_subscribe("0c:38:3e:11:3a:f8"))
    assert b"admin:s3cret@" in out[1][0]
    assert "s3cret" not in h.log_text() and "admin:****@" in h.log_text()


def test_without_rport_the_200_goes_to_the_via_port() -> None:
    h = Harness()
    data = _subscribe().replace(b";rport", b"")
    via_port = parse_via(_parse_request(data).values("via")[0]).port
    out = h.send(data, (PHONE[0], 33333))
    assert out[0][1] == (PHONE[0], via_port)


def test_other_vendors_get_nothing_and_are_counted() -> None:
    h = Harness()
    yealink = _subscribe("00:15:65:00:00:01", vendor="Yealink", model="T21P")
    assert h.send(yealink) == []
    assert h.send(yealink, now=1.0) == []  # a retransmission: silence again, no new decision
    assert h.stats["not_ours"] == 1 and h.stats["retransmission"] == 1
    assert h.stats["decisions"] == 1
    assert "00:15:65:00:00:01 at 198.18.0.2 (Yealink T21P 2.4.1): not a phone" in h.log_text()


def test_a_retransmission_gets_the_same_bytes_without_a_decision() -> None:
    h = Harness()
    request = _subscribe()
    first = h.send(request)
    again = h.send(request, now=0.4)
    assert again == first  # the 200 OK and, the NOTIFY still unanswered, the NOTIFY
    assert h.stats["decisions"] == 1 and h.stats["retransmission"] == 1
    h.responder.on_reply(_ok_for(first[1][0]), LOCAL, 0.45)
    assert h.send(request, now=0.5) == first[:1]  # NOTIFY answered: only the 200 OK
    assert h.stats["decisions"] == 1 and h.stats["notify_confirmed"] == 1


def test_a_new_cseq_or_call_id_is_a_new_decision() -> None:
    h = Harness()
    request = _subscribe(call_id="abc@198.18.0.2")
    h.send(request)
    h.send(request.replace(b"CSeq: 1 SUBSCRIBE", b"CSeq: 2 SUBSCRIBE"))
    h.send(request.replace(b"abc@", b"abd@"))
    h.send(request, now=TRANSACTION_LIFETIME + 1)  # timer J over: forgotten
    assert h.stats["decisions"] == 3
    h.responder.tick(TRANSACTION_LIFETIME + 1)
    h.send(request, now=TRANSACTION_LIFETIME + 2)
    assert h.stats["decisions"] == 4 and h.stats["answered"] == 4


def _ok_for(notify_bytes: bytes, status: str = "200 OK") -> bytes:
    notify = _parse_request(notify_bytes)
    lines = [f"SIP/2.0 {status}"] + [f"Via: {v}" for v in notify.values("via")]
    lines += [f"{n}: {notify.get(n.lower())}" for n in ("From", "To", "Call-ID", "CSeq")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_an_unanswered_notify_is_resent_on_timer_e_until_timer_f() -> None:
    h = Harness()
    out = h.send(_subscribe())
    sent_at = []
    now = 0.0
    while now < 40:
        now = round(now + 0.05, 2)
        for data, to in h.responder.tick(now):
            assert data == out[1][0] and to == out[1][1]
            sent_at.append(now)
    # T1, doubling to T2, until 64*T1 (RFC 3261 17.1.2.2).
    assert sent_at[:5] == [T1, 3 * T1, 7 * T1, 15 * T1, 15 * T1 + T2]
    assert sent_at[-1] < 64 * T1
    assert h.stats["notify_unconfirmed"] == 1
    assert "never answered its NOTIFY" in h.log_text()
    assert h.responder.next_deadline() is None


def test_answered_or_refused_notifies_stop_and_strays_are_counted() -> None:
    h = Harness()
    first = h.send(_subscribe())
    second = h.send(_subscribe("0c:38:3e:00:00:02"))
    h.responder.on_reply(_ok_for(first[1][0], "180 Ringing"), PHONE, 0.1)
    h.responder.on_reply(_ok_for(first[1][0]), PHONE, 0.2)
    h.responder.on_reply(_ok_for(second[1][0], "489 Bad Event"), PHONE, 0.2)
    h.responder.on_reply(_ok_for(second[1][0]), PHONE, 0.3)  # already done: stray
    h.responder.on_reply(b"garbage", PHONE, 0.3)
    assert h.responder.tick(10.0) == []
    assert h.stats["notify_confirmed"] == 2 and h.stats["stray_replies"] == 2
    assert "refused its NOTIFY: 489 Bad Event" in h.log_text()


def test_a_contact_elsewhere_is_refused() -> None:
    h = Harness()
    data = _subscribe().replace(b"@198.18.0.2:5060>", b"@192.0.2.99:5060>")
    assert h.send(data) == []
    assert h.stats["contact_mismatch"] == 1 and h.stats["decisions"] == 0
    assert "Contact names 192.0.2.99, not the sender" in h.log_text()


def test_other_methods_and_events_are_ignored() -> None:
    h = Harness()
    options = _subscribe().replace(b"SUBSCRIBE", b"OPTIONS")
    assert h.send(options) == []
    assert h.send(_ok_for(_subscribe().replace(b"SUBSCRIBE", b"NOTIFY"))) == []
    assert h.send(_subscribe().replace(b"ua-profile;", b"presence;")) == []
    assert h.send(_subscribe().replace(b'profile-type="device"', b'profile-type="user"')) == []
    assert (h.stats["not_subscribe"], h.stats["other_event"]) == (2, 2)
    assert h.lines == []


def test_the_source_rate_limit() -> None:
    h = Harness(Limits(rate=2, burst=10))
    answered = [bool(h.send(_subscribe(f"0c:38:3e:00:00:{i:02x}"), now=0.0)) for i in range(30)]
    assert answered == [True] * 10 + [False] * 20
    assert h.stats["rate_limited"] == 20
    other = _subscribe("0c:38:3e:00:01:00", BRANCH_PHONE)
    assert h.send(other, BRANCH_PHONE, now=0.0)  # another source has its own bucket
    assert not h.send(_subscribe("0c:38:3e:00:01:01"), now=0.4)  # 0.8 token: not yet
    assert h.send(_subscribe("0c:38:3e:00:01:02"), now=0.6)  # 1.2 tokens
    rate_lines = [t for _, t in h.lines if "dropping the excess" in t]
    assert len(rate_lines) == 1


def test_the_rate_limiter_forgets_the_oldest_source_when_full() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_sources=3)
    for source in ("a", "b", "c", "d"):
        assert limiter.allow(source, 0.0)
    assert limiter.allow("a", 0.0)  # forgotten, so a full bucket again
    assert not limiter.allow("d", 0.0)


def test_malformed_sip_is_logged_once_per_kind_per_interval() -> None:
    h = Harness(Limits(rate=1000, burst=1000, log_interval=60))
    for i in range(100):
        assert h.send(b"garbage %d" % i, now=i * 0.1) == []
        assert h.send(b"\r\n\r\n", now=i * 0.1) == []
    assert h.stats["malformed"] == 200
    assert dict(h.responder.malformed) == {"bad-start-line": 100, "empty": 100}
    assert len(h.lines) == 2
    h.responder.tick(61.0)
    assert len(h.lines) == 4
    assert "99 more malformed:bad-start-line in the last 60 s" in h.log_text()
    h.send(b"garbage", now=62.0)  # a new interval: logged again
    assert len(h.lines) == 5


def test_throttled_log_mentions_what_it_held_back() -> None:
    lines: list[str] = []
    log = ThrottledLog(lambda level, text: lines.append(text), 10)
    for t in (0, 1, 2, 11):
        log.report("k", logging.WARNING, f"at {t}", t)
    assert lines == ["at 0", "at 11 (and 2 more like it before)"]


def test_throttled_log_can_hold_back_without_counting() -> None:
    lines: list[str] = []
    log = ThrottledLog(lambda level, text: lines.append(text), 10, count_held=False)
    for t in (0, 1, 2, 11):
        log.report("k", logging.ERROR, "the same", t)
    log.flush(30)
    assert lines == ["the same", "the same"]


def test_the_service_reloads_in_a_thread_and_hands_over_through_the_queue(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("prov.example.com/fanvil", "new.example.com"))
    wake_r, wake_w = socket.socketpair()
    reloader, results = service._reloader(policy, wake_w)
    try:
        reloader.request()
        engine = results.get(timeout=10)
        assert isinstance(engine, Engine)
        assert engine.policy.summary().endswith("default URL http://new.example.com/$mac.cfg")
        assert wake_r.recv(16) == b"\0"  # the loop is woken, not left to its next timer
        assert any(t.name == "pnp-policy-reload" for t in threading.enumerate())
        policy.write_text("version: 1\n")
        reloader.request()
        failure = results.get(timeout=10)
        assert isinstance(failure, PolicyError)
        assert wake_r.recv(16) == b"\0"
    finally:
        reloader.stop()
        wake_r.close()
        wake_w.close()


def test_a_policy_swap_changes_new_answers_only() -> None:
    h = Harness()
    request = _subscribe()
    first = h.send(request)
    h.responder.engine = _engine(POLICY.replace("prov.example.com/fanvil", "new.example.com"))
    assert h.send(request, now=0.1) == first  # a retransmission keeps its answer
    fresh = h.send(_subscribe("0c:38:3e:00:00:09"), now=0.2)
    assert parse_message(fresh[1][0]).body == b"http://new.example.com/$mac.cfg"


def test_no_route_to_the_phone_is_counted_not_raised() -> None:
    def no_route(peer: str) -> tuple[str, int]:
        raise OSError(101, "Network is unreachable")

    lines: list[str] = []
    responder = Responder(_engine(), no_route, lambda level, text: lines.append(text))
    assert responder.on_request(_subscribe(), PHONE, 0.0) == []
    assert responder.stats["send_errors"] == 1 and "no route to 198.18.0.2" in lines[0]


def test_the_stats_line_and_dict() -> None:
    h = Harness()
    h.send(_subscribe())
    h.send(b"x")
    line = h.responder.stats_line()
    assert line.startswith("stats: received=2 rate_limited=0 malformed=1 ")
    assert "answered=1" in line and line.endswith("malformed.bad-start-line=1")
    assert h.responder.stats_dict()["malformed"] == {"bad-start-line": 1}


DATAGRAMS = st.one_of(
    st.builds(
        _subscribe,
        mac=st.sampled_from(["0c:38:3e:11:3a:f8", "0c:38:3e:00:00:01", "00:15:65:00:00:01"]),
        source=st.sampled_from([PHONE, BRANCH_PHONE]),
        call_id=st.sampled_from(["a@x", "b@x", None]),
    ),
    st.binary(max_size=300),
    st.sampled_from([b"\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(DATAGRAMS, st.sampled_from([PHONE, BRANCH_PHONE]), st.floats(0, 2)),
        max_size=40,
    )
)
def test_every_datagram_has_exactly_one_outcome(
    events: list[tuple[bytes, tuple[str, int], float]],
) -> None:
    h = Harness(Limits(rate=5, burst=8, log_interval=1))
    now = 0.0
    for data, source, step in events:
        now += step
        for out, to in h.send(data, source, now) + h.responder.tick(now):
            assert to[0] in (PHONE[0], BRANCH_PHONE[0])
            parse_message(out)
    stats = h.stats
    assert sum(stats.get(o, 0) for o in OUTCOMES) == stats.get("received", 0) == len(events)
    assert stats.get("decisions", 0) == stats.get("answered", 0) + stats.get("not_ours", 0)


# --- the service and the probe, on the loopback --------------------------------------------------


def test_interface_address_names_a_missing_interface() -> None:
    assert interface_address("lo") == "127.0.0.1"
    with pytest.raises(PnpError, match="'kf-none0': no IPv4 address"):
        interface_address("kf-none0")
    with pytest.raises(PnpError):
        pnp_probe("kf-none0", "0c:38:3e:00:00:01", timeout=0.1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_on_the_loopback_answers_the_probe_and_stops_on_sigterm(tmp_path: Path) -> None:
    # A unicast "group" needs no multicast routing, so this runs anywhere, without root.
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    port = _free_port()
    log = tmp_path / "pnp.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "kea_fanvil", "pnp", "serve", str(policy)),
                *("--group", "127.0.0.1", "--port", str(port)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while "listening on 127.0.0.1" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        # linger: time for our 200 OK to the NOTIFY to reach the responder before SIGTERM.
        result = pnp_probe(
            "127.0.0.1", "0c:38:3e:00:00:01", group="127.0.0.1", port=port, linger=0.3
        )
        assert (result.status, result.url) == (200, DEFAULT_URL)
        assert result.content_type == "application/url"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    text = log.read_text()
    assert "stopping on SIGTERM; final stats: received=1 " in text
    assert "answered=1" in text and "notify_confirmed=1" in text


def test_the_cli_explains_and_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    help_text = runner.invoke(main, ["pnp", "serve", "--help"]).output
    for words in ("SIGHUP", "SIGTERM", "application/url", "--rate", "224.0.1.75"):
        assert words in help_text
    bad = runner.invoke(main, ["pnp", "probe", "lo", "--mac", "nope"])
    assert bad.exit_code == 2 and "is not a MAC address" in bad.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\n")
    result = runner.invoke(main, ["pnp", "serve", str(broken)])
    assert result.exit_code == 1 and "provisioning" in result.output


def test_serve_reports_a_port_it_cannot_take(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))  # without SO_REUSEADDR: nobody may share it
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["pnp", "serve", str(policy), "--group", "127.0.0.1", "--port", str(port)]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output


UNIT = Path(__file__).resolve().parent.parent / "dhcp-configs" / "kea-fanvil-pnp.service"


def test_the_systemd_unit_serves_reloads_and_verifies(tmp_path: Path) -> None:
    text = UNIT.read_text()
    assert "kea-fanvil pnp serve /etc/kea/fanvil-policy.yaml" in text
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    verifier = shutil.which("systemd-analyze")
    if verifier is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this checkout's kea-fanvil.
    here = Path(sys.executable).with_name("kea-fanvil")
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/opt/kea-fanvil/.venv/bin/kea-fanvil", str(here)))
    done = subprocess.run([verifier, "verify", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
