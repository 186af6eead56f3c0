"""`kea-fanvil pnp serve` on the wire: phones multicast SUBSCRIBEs over a veth pair (multicast
routed, integration/pnp_lab.py) and the responder answers from the server namespace.

Peers: SIPp (Debian's sip-tester, scenario integration/sipp/pnp_subscribe.xml) and our own
probe. The counters come from the responder itself (SIGUSR1, --stats-file).
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab import Lab, require
from pnp_lab import PnpServer, pnp_pair, probe, send, sipp, start_responder

from kea_fanvil.pnp.responder import OUTCOMES

POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
sites:
  - name: branch
    subnet: 198.18.64.0/18
    url: "http://branch.example.com/fanvil/$mac.cfg"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    name: reception
    url: "https://admin:s3cret@prov.example.com/desk-12/"
"""
DEFAULT_URL = "http://prov.example.com/fanvil/$mac.cfg"
SITE_URL = "http://branch.example.com/fanvil/$mac.cfg"
DEVICE_URL = "https://admin:s3cret@prov.example.com/desk-12/"
DIRECT = "198.18.0.2"  # the client's address on 198.18.0.0/24: no site
BRANCH = "198.18.64.2"  # on the branch site's subnet
GARBAGE = 5_000

CASES = {
    # id: (phone's MAC, source address, URL in the NOTIFY)
    "device": ("0c:38:3e:11:3a:f8", DIRECT, DEVICE_URL),
    "site": ("0c:38:3e:00:00:21", BRANCH, SITE_URL),
    "default": ("0c:38:3e:00:00:22", DIRECT, DEFAULT_URL),
}


@pytest.fixture
def pnp_lab() -> Iterator[Lab]:
    require("ip", "sipp")
    with pnp_pair() as lab:
        yield lab


def _policy(tmp_path: Path, text: str = POLICY) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    path.chmod(0o600)  # it holds a password
    return path


def _answered(report: dict[str, object], url: str) -> None:
    assert report["status"] == 200, report
    assert report["url"] == url, report
    assert report["content_type"] == "application/url"


def _counters(server: PnpServer, confirmed: int | None = None) -> dict[str, int]:
    """The responder's counters; with `confirmed`, once that many NOTIFYs were answered (the
    peers' 200 OKs may still be on their way when the peer itself has exited)."""
    deadline = time.monotonic() + 5
    while True:
        counters: dict[str, int] = server.stats()["counters"]
        if confirmed is None or counters["notify_confirmed"] >= confirmed:
            break
        assert time.monotonic() < deadline, counters
        time.sleep(0.05)
    assert sum(counters[o] for o in OUTCOMES) == counters["received"], counters
    return counters


@pytest.mark.parametrize(("mac", "source", "url"), CASES.values(), ids=CASES.keys())
def test_sipp_and_the_probe_get_the_url(
    pnp_lab: Lab, tmp_path: Path, mac: str, source: str, url: str
) -> None:
    server = start_responder(pnp_lab, _policy(tmp_path), tmp_path)

    code, seen = sipp(pnp_lab, tmp_path, source, mac)
    assert (code, seen) == (0, url), server.log()
    code, report = probe(pnp_lab, source, mac)
    assert code == 0
    _answered(report, url)
    notify = report["notifies"][0]["text"]
    assert "Subscription-State: terminated;reason=timeout\r\n" in notify
    assert notify.startswith(f"NOTIFY sip:MAC={mac.replace(':', '')}@{source}:")

    code, report = probe(pnp_lab, source, mac, timeout=3.0, command="probe")  # probe --pnp
    assert code == 0
    _answered(report, url)

    counters = _counters(server, confirmed=3)  # SIPp and both probes answer the NOTIFY
    assert (counters["answered"], counters["decisions"], counters["not_ours"]) == (3, 3, 0)
    assert counters["notify_confirmed"] == 3
    assert "s3cret" not in server.log()


def test_other_vendors_get_nothing(pnp_lab: Lab, tmp_path: Path) -> None:
    server = start_responder(pnp_lab, _policy(tmp_path), tmp_path)
    yealink = ("--vendor", "Yealink", "--model", "T21P")
    code, report = probe(pnp_lab, DIRECT, "00:15:65:00:00:01", *yealink, timeout=1.0)
    assert code == 1 and report["responses"] == [] and report["notifies"] == []
    code, seen = sipp(pnp_lab, tmp_path, BRANCH, "001565000002", vendor="Yealink", timeout=1.5)
    assert code != 0 and seen is None

    counters = _counters(server)
    assert counters["not_ours"] == 2 and counters["answered"] == 0
    # SIPp retransmits an unanswered SUBSCRIBE (timer E): silence again, without a decision.
    assert counters["decisions"] == 2 and counters["retransmission"] >= 1
    assert "00:15:65:00:00:01 at 198.18.0.2 (Yealink T21P 2.4.1): not a phone" in server.log()
    # The Fanvil phone next to it is served as usual.
    _answered(probe(pnp_lab, DIRECT, "0c:38:3e:00:00:23")[1], DEFAULT_URL)


def test_retransmissions_get_the_same_bytes_without_a_second_decision(
    pnp_lab: Lab, tmp_path: Path
) -> None:
    server = start_responder(pnp_lab, _policy(tmp_path), tmp_path)
    code, report = probe(
        pnp_lab, BRANCH, "0c:38:3e:00:00:31", "--repeat", "3", "--uri-form", "MAC%3A"
    )
    assert code == 0
    _answered(report, SITE_URL)
    oks = {r["text"] for r in report["responses"]}
    notifies = {n["text"] for n in report["notifies"]}
    assert len(report["responses"]) == 3 and len(oks) == 1  # byte for byte the same
    assert len(report["notifies"]) >= 2 and len(notifies) == 1

    counters = _counters(server)
    assert (counters["decisions"], counters["answered"], counters["retransmission"]) == (1, 1, 2)
    assert counters["notify_sent"] == 1 and counters["notify_resent"] >= 1


def test_a_flood_from_one_source_is_rate_limited(pnp_lab: Lab, tmp_path: Path) -> None:
    server = start_responder(pnp_lab, _policy(tmp_path), tmp_path, "--rate", "2", "--burst", "5")
    flood = send(pnp_lab, DIRECT, "subscribes", 50)
    assert flood["answers"].get("SIP/2.0 200 OK") == 5, flood  # the burst, then nothing

    counters = _counters(server)
    assert counters["received"] == 50 and counters["rate_limited"] == 45
    assert counters["answered"] == 5
    assert server.log().count("dropping the excess") == 1  # throttled: one line per interval
    # Another phone is not held back by its neighbour, and the flooder recovers.
    _answered(probe(pnp_lab, BRANCH, "0c:38:3e:00:00:41")[1], SITE_URL)
    _answered(probe(pnp_lab, DIRECT, "0c:38:3e:00:00:42")[1], DEFAULT_URL)


def test_garbage_leaves_the_responder_alive_and_answering(pnp_lab: Lab, tmp_path: Path) -> None:
    # A rate limit out of the way, so that every datagram reaches the parser.
    server = start_responder(
        pnp_lab, _policy(tmp_path), tmp_path, "--rate", "1000000", "--burst", "1000000"
    )
    sent = send(pnp_lab, DIRECT, "garbage", GARBAGE)
    assert sent["total"] == GARBAGE

    stats = server.stats()
    counters = stats["counters"]
    print(f"\n{GARBAGE} garbage datagrams: {counters}\nmalformed by kind: {stats['malformed']}")
    assert server.popen.poll() is None
    assert counters["received"] == GARBAGE
    assert sum(counters[o] for o in OUTCOMES) == GARBAGE
    assert counters["malformed"] > GARBAGE // 2
    # Valid SIP that is not for us, each sent about 5000 / 24 times.
    for outcome in ("not_subscribe", "other_event", "contact_mismatch"):
        assert counters[outcome] > 100, outcome
    log = server.log()
    assert "Traceback" not in log
    # One line per kind of problem in the interval (60 s), however many datagrams.
    for kind, count in stats["malformed"].items():
        assert log.count(f"({kind}):") == 1, (kind, count)

    for mac, source, url in CASES.values():
        _answered(probe(pnp_lab, source, mac)[1], url)


def test_sighup_reloads_keeping_the_old_policy_when_broken_and_sigterm_stops(
    pnp_lab: Lab, tmp_path: Path
) -> None:
    policy = _policy(tmp_path)
    server = start_responder(pnp_lab, policy, tmp_path)
    mac = "0c:38:3e:00:00:51"
    _answered(probe(pnp_lab, DIRECT, mac)[1], DEFAULT_URL)

    new_url = "http://new.example.com/fanvil/$mac.cfg"
    _replace(policy, POLICY.replace(DEFAULT_URL, new_url))
    server.signal(signal.SIGHUP)
    server.wait_log("policy reloaded: 1 devices, 1 sites, default URL " + new_url)
    _answered(probe(pnp_lab, DIRECT, mac)[1], new_url)

    _replace(policy, POLICY.replace("  - name: branch\n", "  - name: branch\n    colour: red\n"))
    server.signal(signal.SIGHUP)
    log = server.wait_log("policy reload failed; still serving the previous policy (1 problem)")
    assert re.search(rf"{re.escape(str(policy))}:6:\d+: sites\[0\]\.colour: unknown key", log)
    _answered(probe(pnp_lab, DIRECT, mac)[1], new_url)

    server.signal(signal.SIGTERM)
    assert server.popen.wait(timeout=10) == 0
    log = server.log()
    final = log.strip().splitlines()[-1]
    assert "stopping on SIGTERM; final stats: received=3 " in final
    assert "answered=3" in final and "reloads=1 reload_failures=1" in final


def _replace(path: Path, text: str) -> None:
    """Write atomically, as the docs ask: the responder never reads half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
