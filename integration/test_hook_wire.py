"""Real kea-dhcp4 with our hook, real DORA exchanges, exact option bytes on the wire.

Kea runs in one namespace with libdhcp_fanvil.so and the policy of phones.py; phones are played
from the other namespace by kea_fanvil.probe.dhcp_client over a raw socket. Every expectation is a
literal byte string written from the policy by hand, not computed by the engine under test. Each
case runs with Kea's multi-threading off and on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import statistic
from lab import KeaServer, Lab, client_dora, netns_pair
from phones import (
    CASES,
    DEFAULT_URL,
    DEVICE_URL,
    KEA_OWN_66,
    PRL_BASIC,
    Case,
    check_message,
    dora_case,
)
from servers import start_hook_kea


# The C++ decision table (the default) on both threading modes, and the per-packet Python path
# ("decisions": "python") once: the same bytes are expected from both.
@pytest.fixture(
    scope="module",
    params=[(False, "table"), (True, "table"), (True, "python")],
    ids=["mt-off", "mt-on", "mt-on-python"],
)
def kea(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Lab, KeaServer]]:
    multi_threading, decisions = request.param
    with netns_pair("kf") as lab:
        tmp = tmp_path_factory.mktemp(f"hook-{request.param_index}")
        server = start_hook_kea(
            lab, tmp, always_send=True, multi_threading=multi_threading, decisions=decisions
        )
        enabled = "yes" if multi_threading else "no"
        assert f"DHCP4_MULTI_THREADING_INFO enabled: {enabled}" in server.log()
        yield lab, server
        assert "FANVIL_DECIDE_FAILED" not in server.log(), server.log()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_phone_gets_exact_options(kea: tuple[Lab, KeaServer], case: Case) -> None:
    lab, _ = kea
    result = dora_case(lab, case)
    # Both the OFFER and the ACK carry the decision (the hook handles both).
    check_message(result.offer, case.expect, case.file)
    check_message(result.ack, case.expect, case.file)
    if case.relayed:
        assert str(result.ack.yiaddr).startswith("198.18.100.")


def test_statistics_count_matched_and_changed(
    kea: tuple[Lab, KeaServer], request: pytest.FixtureRequest
) -> None:
    lab, server = kea
    _, decisions = request.node.callspec.params["kea"]
    before = _stats(server)
    client_dora(lab, "0c:38:3e:00:01:01", None, PRL_BASIC)
    client_dora(lab, "00:15:65:00:01:02", b"yealink", PRL_BASIC)
    after = _stats(server)
    # One phone, two responses (OFFER and ACK); the Yealink is not counted.
    assert after["pkt4-fanvil-matched"] - before["pkt4-fanvil-matched"] == 2
    assert after["pkt4-fanvil-changed"] - before["pkt4-fanvil-changed"] == 2
    assert after["pkt4-fanvil-errors"] == 0
    # The table path calls no Python per packet; the Python path once per response (4 here).
    python = after["pkt4-fanvil-python-decisions"] - before["pkt4-fanvil-python-decisions"]
    assert python == (4 if decisions == "python" else 0)


def _stats(server: KeaServer) -> dict[str, int]:
    names = (
        "pkt4-fanvil-matched",
        "pkt4-fanvil-changed",
        "pkt4-fanvil-errors",
        "pkt4-fanvil-python-decisions",
    )
    return {name: int(statistic(server.control_socket, name)) for name in names}


@pytest.mark.parametrize("multi_threading", [False, True], ids=["mt-off", "mt-on"])
def test_always_send_false_sends_only_what_was_asked(
    lab: Lab, tmp_path: Path, multi_threading: bool
) -> None:
    start_hook_kea(lab, tmp_path, always_send=False, multi_threading=multi_threading)
    silent = client_dora(lab, "0c:38:3e:00:02:01", b"Fanvil C62", PRL_BASIC)
    # Not asked, so not sent; Kea's own always-send option 66 is left as Kea made it.
    assert silent.ack.option(66) == KEA_OWN_66
    for code in (43, 67, 160):
        assert silent.ack.option(code) is None, code
    assert silent.ack.file == b""
    asked = client_dora(lab, "0c:38:3e:00:02:02", b"Fanvil C62", PRL_BASIC + bytes([66]))
    assert asked.ack.option(66) == DEFAULT_URL
    assert asked.ack.option(43) is None
    assert asked.ack.option(160) is None
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC + bytes([43, 67]))
    assert device.ack.option(43) == DEVICE_URL
    assert device.ack.option(67) == b"desk-12.cfg"
    assert device.ack.option(66) == KEA_OWN_66  # not asked for: Kea's own stays
    # The file field is a header field, not an option: it is set whatever was asked.
    assert device.ack.file == b"desk-12.cfg"
