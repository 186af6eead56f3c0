"""Resync by SIP NOTIFY (kea_fanvil.pnp.notify, kea_fanvil.cli.resync, `kea-fanvil notify`,
`files build --notify`): the message bytes, RFC 3261's client transaction with a fake clock
and on the loopback, the checks on every string, and which phones a build concerns.
SIPp playing phones in a namespace: integration/test_notify_wire.py."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kea_fanvil import parse_policy
from kea_fanvil.cli import resync
from kea_fanvil.cli.app import main
from kea_fanvil.files import changes as files_changes
from kea_fanvil.files.build import build
from kea_fanvil.kea_hook.inventory import InventoryWriter, Phone
from kea_fanvil.pnp.notify import (
    Settings,
    Target,
    Transactions,
    check_address,
    check_event,
    event_header,
    notify_request,
    prepare,
    send_notifies,
)
from kea_fanvil.version import __version__
from kea_fanvil.wire.sip import SipRequest, build_message, parse_message, parse_via

DESK = "0c:38:3e:11:3a:f8"


def test_the_request_bytes() -> None:
    target = Target(DESK, "198.18.0.11")
    data = notify_request(
        target, ("198.18.0.1", 40000), Settings(), "z9hG4bK0123abcd", "c0ffee@198.18.0.1", "7a9"
    )
    assert (
        data
        == (
            "NOTIFY sip:198.18.0.11:5060 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 198.18.0.1:40000;branch=z9hG4bK0123abcd;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:kea-fanvil@198.18.0.1:40000>;tag=7a9\r\n"
            "To: <sip:198.18.0.11:5060>\r\n"
            "Call-ID: c0ffee@198.18.0.1\r\n"
            "CSeq: 1 NOTIFY\r\n"
            "Contact: <sip:kea-fanvil@198.18.0.1:40000>\r\n"
            "Event: check-sync;reboot=false\r\n"
            "Subscription-State: terminated\r\n"
            f"User-Agent: kea-fanvil/{__version__}\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )
    # Our own parser reads it as a valid request (section 8.1.1's headers, CSeq method).
    message = parse_message(data)
    assert isinstance(message, SipRequest) and message.method == "NOTIFY"
    assert message.body == b""


def test_fresh_identifiers_and_the_user_part() -> None:
    settings = Settings(user="MAC=$mac", reboot=True)
    one = prepare(Target(DESK, "198.18.0.11", 5062), ("198.18.0.1", 5060), settings)
    two = prepare(Target(DESK, "198.18.0.11", 5062), ("198.18.0.1", 5060), settings)
    assert one.branch.startswith("z9hG4bK") and len(one.branch) == 7 + 16
    assert one.branch != two.branch and one.call_id != two.call_id
    message = parse_message(one.data)
    assert isinstance(message, SipRequest)
    assert message.uri == "sip:MAC=0c383e113af8@198.18.0.11:5062"
    assert message.get("event") == "check-sync;reboot=true"
    assert parse_via(message.values("via")[0]).params["branch"] == one.branch
    with pytest.raises(ValueError, match="z9hG4bK"):
        notify_request(Target(DESK, "198.18.0.11"), ("198.18.0.1", 1), Settings(), "x", "c", "t")


def test_event_header_forms() -> None:
    assert event_header("check-sync", False) == "check-sync;reboot=false"
    assert event_header("check-sync", True) == "check-sync;reboot=true"
    assert event_header("check-sync", None) == "check-sync"
    assert check_event("ua-profile.template") == "ua-profile.template"


@pytest.mark.parametrize(
    "event",
    [
        "check-sync\r\nVia: SIP/2.0/UDP evil",
        "check-sync\n",
        "check sync",
        "check-sync;reboot=true",  # parameters come from --reboot, never through the text
        "",
        ".check",
        "a" * 65,
        "check-sync\x00",
    ],
)
def test_an_event_that_is_no_event_token_is_refused(event: str) -> None:
    with pytest.raises(ValueError, match="not a SIP event package"):
        check_event(event)
    with pytest.raises(ValueError):
        Settings(event=event)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("198.18.0.11\r\nVia: SIP/2.0/UDP 203.0.113.9", "not an IPv4 address"),
        ("224.0.1.75", "multicast"),
        ("239.255.255.250", "multicast"),
        ("255.255.255.255", "not the address of one host"),
        ("0.0.0.0", "not the address of one host"),
        ("240.0.0.1", "reserved"),
        ("::1", "not an IPv4 address"),
        ("phone.example.com", "not an IPv4 address"),
        ("", "not an IPv4 address"),
    ],
)
def test_addresses_that_are_no_phone_are_refused(address: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_address(address)
    with pytest.raises(ValueError, match=why):
        Target(DESK, address)


def test_macs_and_user_parts_are_checked() -> None:
    with pytest.raises(ValueError, match="not a MAC address"):
        Target("0c:38:3e:11:3a:f8\r\nX: y", "198.18.0.11")
    assert Target("0C-38-3E-11-3A-F8", "198.18.0.11").mac == DESK
    for user in ("a@b", "a\r\nX: y", "a b", "a;b", "", "x" * 65):
        with pytest.raises(ValueError, match="user part"):
            Settings(user=user)
    # build_message itself refuses line ends (the last line of defence).
    with pytest.raises(ValueError, match="line end"):
        build_message("NOTIFY sip:x SIP/2.0", [("Event", "a\r\nb")])


# --- the transaction, with a fake clock -----------------------------------------------------------


def _run(core: Transactions, answer: dict[float, bytes] | None = None) -> list[float]:
    """Step the core from wake-up to wake-up; the times it sent at. ``answer``: datagrams
    handed in at those times (before the sends due then)."""
    answer = dict(answer or {})
    sent: list[float] = []
    now = core.start
    while not core.finished:
        for at in sorted(t for t in answer if t <= now):
            core.on_datagram(answer.pop(at), now)
        sent += [now for _ in core.due(now)]
        wake = core.next_wake()
        if wake is None:
            break
        now = min([wake, *[t for t in answer if t > now]])
    return sent


def _response(core: Transactions, status: int, index: int = 0, **override: str) -> bytes:
    request = core.requests[index]
    message = parse_message(request.data)
    headers = {
        "Via": message.values("via")[0],
        "From": message.get("from") or "",
        "To": (message.get("to") or "") + ";tag=phone",
        "Call-ID": request.call_id,
        "CSeq": "1 NOTIFY",
    }
    headers.update({k.replace("_", "-"): v for k, v in override.items()})
    return build_message(f"SIP/2.0 {status} Reason {status}", list(headers.items()))


def _core(count: int = 1, **settings: float) -> Transactions:
    config = Settings(**settings)  # type: ignore[arg-type]
    requests = [
        prepare(
            Target(f"0c:38:3e:00:00:{i:02x}", f"198.18.0.{10 + i}"), ("198.18.0.1", 5060), config
        )
        for i in range(count)
    ]
    return Transactions(requests, config, 100.0)


def test_retransmissions_follow_timer_e_until_timer_f() -> None:
    core = _core()
    sent = _run(core)
    # T1 = 0.5 doubling to T2 = 4 (RFC 3261 17.1.2.2), until timer F = 64*T1 = 32 s.
    expected = [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert [round(t - 100.0, 3) for t in sent] == expected
    (outcome,) = core.results()
    assert (outcome.result, outcome.sent, outcome.ok) == ("timeout", 11, False)
    assert outcome.after == pytest.approx(32.0)


def test_a_small_t1_scales_the_schedule() -> None:
    core = _core(t1=0.05, timeout=1.0)
    sent = _run(core)
    assert [round(t - 100.0, 3) for t in sent] == [0, 0.05, 0.15, 0.35, 0.75]
    assert core.results()[0].result == "timeout"


def test_a_provisional_response_slows_retransmission_to_t2() -> None:
    core = _core()
    trying = _response(core, 100)
    ok = _response(core, 200)
    sent = _run(core, {100.2: trying, 109.0: ok})
    # Timer E still fires at T1, then every T2 (Proceeding); the 200 ends it.
    assert [round(t - 100.0, 3) for t in sent] == [0, 0.5, 4.5, 8.5]
    (outcome,) = core.results()
    assert (outcome.result, outcome.status, outcome.reason, outcome.sent) == (
        "answered",
        200,
        "Reason 200",
        4,
    )
    assert outcome.ok and outcome.after == pytest.approx(9.0)


def test_a_final_error_response_is_an_answer_but_not_ok() -> None:
    core = _core()
    _run(core, {100.1: _response(core, 481)})
    (outcome,) = core.results()
    assert (outcome.result, outcome.status, outcome.ok) == ("answered", 481, False)


def test_new_transactions_keep_to_the_rate() -> None:
    core = _core(5, rate=10.0)
    answers = {100.0 + 0.1 * i + 0.01: _response(core, 200, i) for i in range(5)}
    sent = _run(core, answers)
    assert [round(t - 100.0, 3) for t in sent] == [0, 0.1, 0.2, 0.3, 0.4]
    assert all(o.ok and o.sent == 1 for o in core.results())


def test_only_a_matching_response_ends_a_transaction() -> None:
    core = _core()
    core.due(100.0)
    for stray in (
        _response(core, 200, Call_ID="other@198.18.0.1"),
        _response(core, 200, CSeq="2 NOTIFY"),
        _response(core, 200, CSeq="1 OPTIONS"),
        _response(core, 200, Via="SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKother"),
        core.requests[0].data,  # our own request looped back is no answer
        b"garbage",
    ):
        core.on_datagram(stray, 100.1)
    assert not core.finished and core.stray == 6
    core.on_datagram(_response(core, 200), 100.2)
    assert core.finished and core.results()[0].ok
    core.on_datagram(_response(core, 200), 100.3)  # a late copy: counted, ignored
    assert core.stray == 7


def test_an_icmp_error_ends_every_transaction_to_its_destination() -> None:
    core = _core(2)
    core.due(100.0)
    core.due(100.05)
    core.on_error(("198.18.0.10", 5060), "Connection refused", 100.1)
    assert [o.result for o in core.outcomes.values()] == ["error"]
    assert core.outcomes[core.requests[0].branch].reason == "Connection refused"


# --- on the loopback ------------------------------------------------------------------------------


class FakePhone(threading.Thread):
    """A UDP 'phone' on the loopback: drops the first ``drop`` requests, then answers
    ``status`` (None: never), after a 100 Trying when ``trying``."""

    def __init__(
        self, address: str, port: int = 0, drop: int = 0, status: int | None = 200
    ) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.sock.settimeout(0.05)
        self.address, self.port = self.sock.getsockname()
        self.drop, self.status = drop, status
        self.received: list[tuple[float, bytes]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.received.append((time.monotonic(), data))
            if len(self.received) <= self.drop or self.status is None:
                continue
            message = parse_message(data)
            answer = build_message(
                f"SIP/2.0 {self.status} OK",
                [
                    ("Via", message.values("via")[0]),
                    ("From", message.get("from") or ""),
                    ("To", (message.get("to") or "") + ";tag=fake"),
                    ("Call-ID", message.call_id),
                    ("CSeq", "1 NOTIFY"),
                ],
            )
            self.sock.sendto(answer, source)

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        self.sock.close()


@pytest.fixture
def phones() -> Iterator[list[FakePhone]]:
    started: list[FakePhone] = []
    yield started
    for phone in started:
        phone.stop()


def _phone(phones: list[FakePhone], *args: object, **kwargs: object) -> FakePhone:
    phone = FakePhone(*args, **kwargs)  # type: ignore[arg-type]
    phone.start()
    phones.append(phone)
    return phone


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def test_on_the_loopback_drops_errors_and_silence(phones: list[FakePhone]) -> None:
    answers = _phone(phones, "127.0.0.1", drop=2)
    silent = _phone(phones, "127.0.0.1", status=None)
    nobody = _free_port("127.0.0.1")  # nothing listens: ICMP port unreachable
    targets = [
        Target(DESK, "127.0.0.1", answers.port),
        Target("0c:38:3e:00:00:02", "127.0.0.1", silent.port),
        Target("0c:38:3e:00:00:03", "127.0.0.1", nobody),
    ]
    seen: list[str] = []
    outcomes, stray = send_notifies(
        targets,
        Settings(t1=0.05, timeout=0.5, rate=100.0),
        ("127.0.0.1", 0),
        on_outcome=lambda o: seen.append(o.target.mac),
    )
    ok, timeout, error = outcomes
    assert (ok.result, ok.status, ok.sent) == ("answered", 200, 3)
    # The third copy went out after T1 + 2*T1.
    assert ok.after is not None and 0.15 <= ok.after < 0.6
    times = [t for t, _ in answers.received]
    assert len(times) == 3 and times[1] - times[0] >= 0.045 and times[2] - times[1] >= 0.09
    assert {data for _, data in answers.received} == {answers.received[0][1]}  # same bytes
    assert (timeout.result, timeout.ok) == ("timeout", False)
    assert len(silent.received) == timeout.sent >= 4
    assert (error.result, error.reason) == ("error", "Connection refused")
    assert sorted(seen) == sorted(t.mac for t in targets) and stray == 0


# --- which phones a build concerns ----------------------------------------------------------------

POLICY = """\
version: 1
provisioning:
  url: "http://198.18.0.1/$mac.cfg"
files:
  common:
    extra:
      GLOBAL: {"Time Zone": "1"}
devices:
  - {mac: "0c:38:3e:00:00:11", model: C62, settings: {extra: {SIP: {"SIP1 Phone Number": "211"}}}}
  - {mac: "0c:38:3e:00:00:12", model: C62, boot_file: shared.cfg}
  - {mac: "0c:38:3e:00:00:13", model: X4, boot_file: shared.cfg}
"""


def _phone_row(mac: str, address: str, model: str = "", site: str = "") -> Phone:
    return Phone(mac, "device", model, "", "", address, "", site, "", "", 1.0, 2.0, 1)


def test_a_changed_device_file_concerns_its_device_only(tmp_path: Path) -> None:
    policy = parse_policy(POLICY)
    first = build(policy, tmp_path)
    assert {c.name for c in files_changes.changes_from_report(first, policy)} == {
        "f0C006200000.cfg",
        "f0X4hw1.100.cfg",
        "0c383e000011.cfg",
        "0c383e000012.cfg",
        "0c383e000013.cfg",
        "shared.cfg",
    }
    again = build(policy, tmp_path)
    assert files_changes.changes_from_report(again, policy) == []  # unchanged: nobody
    assert resync.concerned([], [_phone_row(DESK, "198.18.0.9", "C62")]) == []
    edited = parse_policy(POLICY.replace('"211"', '"212"'))
    changes = files_changes.changes_from_report(build(edited, tmp_path), edited)
    assert [(c.name, c.macs) for c in changes] == [("0c383e000011.cfg", ("0c:38:3e:00:00:11",))]
    wanted = resync.concerned(changes, [_phone_row(DESK, "198.18.0.9", "C62")])
    assert wanted == [resync.Wanted("0c:38:3e:00:00:11", ("0c383e000011.cfg",))]


def test_a_changed_common_file_concerns_every_phone_of_its_model(tmp_path: Path) -> None:
    policy = parse_policy(POLICY)
    build(policy, tmp_path)
    edited = parse_policy(POLICY.replace('"Time Zone": "1"', '"Time Zone": "2"'))
    changes = files_changes.changes_from_report(build(edited, tmp_path), edited)
    assert sorted(c.name for c in changes) == ["f0C006200000.cfg", "f0X4hw1.100.cfg"]
    inventory = [
        _phone_row(DESK, "198.18.0.9", "c62"),  # not in the policy; option 60 says C62
        _phone_row("0c:38:3e:00:00:99", "198.18.0.99", "X3U"),  # another model
        _phone_row("0c:38:3e:00:00:98", "198.18.0.98", ""),  # option 60 said nothing
    ]
    wanted = {w.mac: w.why for w in resync.concerned(changes, inventory)}
    assert wanted == {
        "0c:38:3e:00:00:11": ("f0C006200000.cfg",),
        "0c:38:3e:00:00:12": ("f0C006200000.cfg",),
        "0c:38:3e:00:00:13": ("f0X4hw1.100.cfg",),
        DESK: ("f0C006200000.cfg",),
    }


def test_a_shared_id_oriented_file_concerns_each_device(tmp_path: Path) -> None:
    policy = parse_policy(POLICY)
    report = build(policy, tmp_path)
    (shared,) = [
        c for c in files_changes.changes_from_report(report, policy) if c.name == "shared.cfg"
    ]
    assert shared.macs == ("0c:38:3e:00:00:12", "0c:38:3e:00:00:13")


def test_phones_without_a_usable_address_are_reported() -> None:
    wanted = [
        resync.Wanted(m, ("--mac",))
        for m in ("0c:38:3e:00:00:01", "0c:38:3e:00:00:02", "0c:38:3e:00:00:03", DESK)
    ]
    inventory = [
        _phone_row("0c:38:3e:00:00:01", "198.18.0.11"),
        _phone_row("0c:38:3e:00:00:02", ""),
        _phone_row("0c:38:3e:00:00:03", "224.0.1.75"),
    ]
    targets, unsent = resync.locate(wanted, inventory, 5060)
    assert [t.address for t, _ in targets] == ["198.18.0.11"]
    assert [(u.mac, u.reason.split(":")[0]) for u in unsent] == [
        ("0c:38:3e:00:00:02", "the inventory holds no address"),
        ("0c:38:3e:00:00:03", "refused"),
        (DESK, "not in the inventory"),
    ]


def test_a_hostile_inventory_row_is_refused_not_sent() -> None:
    wanted = [resync.Wanted(DESK, ("--mac",))]
    row = _phone_row(DESK, "198.18.0.11\r\nVia: SIP/2.0/UDP 203.0.113.9")
    targets, unsent = resync.locate(wanted, [row], 5060)
    assert targets == [] and "not an IPv4 address" in unsent[0].reason


# --- the commands ---------------------------------------------------------------------------------


def _inventory(path: Path, rows: list[tuple[str, str, str]]) -> str:
    """An inventory written by the hook's own writer: (MAC, address, vendor class)."""
    writer = InventoryWriter(str(path), lambda *_: None)
    for mac, address, vendor in rows:
        yiaddr = int(ipaddress.IPv4Address(address))
        how = ("device", "http://198.18.0.1/$mac.cfg", "", "")
        writer.submit(
            (time.time(), bytes.fromhex(mac.replace(":", "")), vendor.encode(), 0, yiaddr, how)
        )
    writer.flush()
    writer.close()
    return str(path)


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_notify_command_by_mac(tmp_path: Path, phones: list[FakePhone]) -> None:
    port = _free_port("127.0.0.21")
    _phone(phones, "127.0.0.21", port)
    db = _inventory(tmp_path / "phones.db", [(DESK, "127.0.0.21", "Fanvil C62")])
    common = ["--inventory", db, "--port", str(port), "--t1", "0.05", "--timeout", "0.5"]
    code, out, err = _invoke("notify", "--mac", DESK, *common)
    assert code == 0, err
    assert f"{DESK}  127.0.0.21:{port}" in out and "200 OK (1 sent" in out
    assert len(phones[0].received) == 1
    assert b"Event: check-sync;reboot=false\r\n" in phones[0].received[0][1]
    # A phone the inventory does not know: reported, exit 3.
    code, out, err = _invoke(
        "notify", "--mac", DESK, "--mac", "0c:38:3e:00:00:77", *common, "--json"
    )
    assert code == 3
    report = json.loads(out)
    assert [(p["mac"], p["result"], p["ok"]) for p in report["phones"]] == [
        ("0c:38:3e:00:00:77", "not-sent", False),
        (DESK, "answered", True),
    ]
    code, out, _ = _invoke("notify", "--model", "c62", "--dry-run", "--bare-event", *common)
    assert code == 0 and "would send" in out and "Event: check-sync)" in out
    assert len(phones[0].received) == 2  # the dry run sent nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say which phones"),
        (["--all", "--mac", DESK], "--all means every phone"),
        (["--mac", "zz"], "not a MAC address"),
        (["--all", "--event", "check-sync\r\nX: y"], "not a SIP event package"),
        (["--all", "--reboot", "--bare-event"], "--bare-event"),
        (["--all", "--rate", "0"], "rate 0"),
        (["--all", "--bind", "224.0.1.75"], "--bind"),
        (["--all", "--user", "a@b"], "user part"),
    ],
)
def test_notify_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    db = _inventory(tmp_path / "phones.db", [])
    code, _, err = _invoke("notify", *args, "--inventory", db)
    assert code == 2 and message in err, err


def test_notify_names_an_inventory_it_cannot_read(tmp_path: Path) -> None:
    code, _, err = _invoke("notify", "--all", "--inventory", str(tmp_path / "none.db"))
    assert code == 1 and "--inventory" in err and "none.db" in err


def test_files_build_notify_sends_to_changed_phones_only(
    tmp_path: Path, phones: list[FakePhone]
) -> None:
    port = _free_port("127.0.0.31")
    for last in (31, 32, 33):
        _phone(phones, f"127.0.0.{last}", port)
    macs = ["0c:38:3e:00:00:11", "0c:38:3e:00:00:12", "0c:38:3e:00:00:13"]
    db = _inventory(
        tmp_path / "phones.db",
        [(mac, f"127.0.0.{31 + i}", "Fanvil C62") for i, mac in enumerate(macs)],
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    os.chmod(policy, 0o600)
    out_dir = tmp_path / "srv"
    code, _, err = _invoke("files", "build", str(policy), "--out", str(out_dir))
    assert code == 0, err
    assert (out_dir / files_changes.CHANGES_NAME).exists()
    policy.write_text(POLICY.replace('"211"', '"212"'))
    sending = ["--inventory", db, "--port", str(port), "--t1", "0.05", "--timeout", "0.5"]
    code, out, err = _invoke(
        "files", "build", str(policy), "--out", str(out_dir), "--notify", *sending, "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert [f["name"] for f in report["files"] if f["state"] == "changed"] == ["0c383e000011.cfg"]
    assert [(p["mac"], p["status"]) for p in report["notify"]["phones"]] == [(macs[0], 200)]
    assert [len(p.received) for p in phones] == [1, 0, 0]
    # The record lets `notify --changed` send the same later.
    code, out, err = _invoke("notify", "--changed", str(out_dir), *sending)
    assert code == 0, err
    assert [len(p.received) for p in phones] == [2, 0, 0]
    # An unchanged rebuild concerns nobody.
    code, out, err = _invoke(
        "files", "build", str(policy), "--out", str(out_dir), "--notify", *sending
    )
    assert code == 0 and "no phone to notify" in out, out + err
    assert [len(p.received) for p in phones] == [2, 0, 0]


def test_files_build_notify_checks_before_building(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    os.chmod(policy, 0o600)
    out_dir = tmp_path / "srv"
    missing = str(tmp_path / "none.db")
    code, _, err = _invoke(
        "files", "build", str(policy), "--out", str(out_dir), "--notify", "--inventory", missing
    )
    assert code == 1 and "--inventory" in err
    assert not out_dir.exists()  # nothing written


def test_an_icmp_error_does_not_fail_the_next_phones_send(phones: list[FakePhone]) -> None:
    # The kernel also keeps an ICMP error as the socket's pending error and fails the next
    # send with it: a refused phone must not cost the next one its NOTIFY.
    answers = _phone(phones, "127.0.0.1")
    targets = [
        Target(f"0c:38:3e:00:00:0{i}", "127.0.0.1", _free_port("127.0.0.1")) for i in range(3)
    ]
    targets.append(Target(DESK, "127.0.0.1", answers.port))
    ticks = iter(range(10**6))
    # A clock 10 ms on per reading: every start falls due at once, one send after the other.
    outcomes, _ = send_notifies(
        targets, Settings(t1=0.05, timeout=5.0, rate=1000.0), clock=lambda: next(ticks) / 100
    )
    assert [o.result for o in outcomes] == ["error", "error", "error", "answered"]
    assert outcomes[-1].sent == 1 and len(answers.received) == 1
