"""Real kea-dhcp4 with our hook, real DORA exchanges, exact option bytes on the wire.

Kea runs in one namespace with libdhcp_fanvil.so and the policy below; phones are played from
the other namespace by kea_fanvil.dhcp_client over a raw socket. Every expectation is a literal
byte string written from the policy by hand, not computed by the engine under test. Each case
runs with Kea's multi-threading off and on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lab import (
    KeaServer,
    Lab,
    client_dora,
    client_dora_relayed,
    kea_config,
    netns_pair,
    start_kea,
    statistic,
)

from kea_fanvil import hook_build
from kea_fanvil.dhcp_client import DoraResult
from kea_fanvil.dhcp_packet import DhcpMessage

POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
delivery:
  option_66: true
  option_43: string
  custom_option: 160
  always_send: {always_send}
match:
  vendor_class_prefixes: ["Fanvil"]
  ouis: ["0c:38:3e", "02:fa:00"]
sites:
  - name: branch-a
    subnet: 198.18.64.0/18
    url: "http://branch-a.example.com/fanvil/$mac.cfg"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    boot_file: "desk-12.cfg"
    url: "https://prov.example.com/special/desk-12/"
"""

DEFAULT_URL = b"http://prov.example.com/fanvil/$mac.cfg"
SITE_URL = b"http://branch-a.example.com/fanvil/$mac.cfg"
DEVICE_URL = b"https://prov.example.com/special/desk-12/"
KEA_OWN_66 = b"tftp://198.18.0.1/kea-default.cfg"  # Kea's own option 66, for everyone else
PROVISIONING = (43, 66, 67, 160)
PRL_BASIC = bytes([1, 3, 6, 15])  # a phone that does not ask for 43, 66, 67 or 160


@dataclass(frozen=True)
class Case:
    id: str
    mac: str
    vendor_class: bytes | None
    expect: dict[int, bytes | None]  # code -> exact data, None = must be absent
    file: bytes = b""
    relayed: bool = False
    prl: bytes = PRL_BASIC


def _url(url: bytes) -> dict[int, bytes | None]:
    return {43: url, 66: url, 160: url, 67: None}


CASES = [
    Case("fanvil-oui-no-option-60", "0c:38:3e:00:00:01", None, _url(DEFAULT_URL)),
    Case("foreign-mac-fanvil-x4", "02:00:00:00:00:02", b"Fanvil X4 2.10.2.6887", _url(DEFAULT_URL)),
    Case("extra-policy-prefix", "02:fa:00:00:00:03", None, _url(DEFAULT_URL)),
    Case(
        "yealink-untouched",
        "00:15:65:00:00:04",
        b"yealink",
        {43: None, 66: KEA_OWN_66, 67: None, 160: None},
    ),
    Case(
        "inventory-device",
        "0c:38:3e:11:3a:f8",
        b"Fanvil C62",
        {43: DEVICE_URL, 66: DEVICE_URL, 160: DEVICE_URL, 67: b"desk-12.cfg"},
        file=b"desk-12.cfg",
    ),
    Case("relayed-picks-site", "02:00:00:00:00:05", b"Fanvil X3U", _url(SITE_URL), relayed=True),
    Case(
        "option-60-not-text",
        "02:00:00:00:00:06",
        b"\xff\xfe\x00Fanvil\x01\x80",
        {43: None, 66: KEA_OWN_66, 67: None, 160: None},
    ),
    Case(
        "option-60-255-bytes-fanvil",
        "02:00:00:00:00:07",
        b"Fanvil " + bytes(range(1, 249)),
        _url(DEFAULT_URL),
    ),
    Case(
        "option-60-255-bytes-other",
        "02:00:00:00:00:08",
        bytes(range(255, 0, -1)),
        {43: None, 66: KEA_OWN_66, 67: None, 160: None},
    ),
]


def _kea_with_hook(lab: Lab, tmp: Path, always_send: bool, multi_threading: bool) -> KeaServer:
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY.format(always_send="true" if always_send else "false"))
    hooks: list[dict[str, Any]] = [
        {"library": str(hook_build.library_path()), "parameters": {"policy": str(policy)}}
    ]
    config = kea_config(
        lab,
        option_data=[
            {"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}
        ],
        hooks=hooks,
        multi_threading=multi_threading,
    )
    return start_kea(lab, config, tmp)


@pytest.fixture(scope="module", params=[False, True], ids=["mt-off", "mt-on"])
def kea(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Lab, KeaServer]]:
    with netns_pair("kf") as lab:
        tmp = tmp_path_factory.mktemp("hook-mt-on" if request.param else "hook-mt-off")
        server = _kea_with_hook(lab, tmp, always_send=True, multi_threading=request.param)
        enabled = "yes" if request.param else "no"
        assert f"DHCP4_MULTI_THREADING_INFO enabled: {enabled}" in server.log()
        yield lab, server
        assert "FANVIL_DECIDE_FAILED" not in server.log(), server.log()


def _dora(lab: Lab, case: Case) -> DoraResult:
    if case.relayed:
        return client_dora_relayed(lab, case.mac, case.vendor_class, case.prl)
    return client_dora(lab, case.mac, case.vendor_class, case.prl)


def _check(message: DhcpMessage, case: Case) -> None:
    for code, data in case.expect.items():
        assert message.option(code) == data, f"option {code} in {message.message_type}"
    assert message.file == case.file


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_phone_gets_exact_options(kea: tuple[Lab, KeaServer], case: Case) -> None:
    lab, _ = kea
    result = _dora(lab, case)
    # Both the OFFER and the ACK carry the decision (the hook handles both).
    _check(result.offer, case)
    _check(result.ack, case)
    if case.relayed:
        assert str(result.ack.yiaddr).startswith("198.18.100.")


def test_statistics_count_matched_and_changed(kea: tuple[Lab, KeaServer]) -> None:
    lab, server = kea
    before = _stats(server)
    client_dora(lab, "0c:38:3e:00:01:01", None, PRL_BASIC)
    client_dora(lab, "00:15:65:00:01:02", b"yealink", PRL_BASIC)
    after = _stats(server)
    # One phone, two responses (OFFER and ACK); the Yealink is not counted.
    assert after["pkt4-fanvil-matched"] - before["pkt4-fanvil-matched"] == 2
    assert after["pkt4-fanvil-changed"] - before["pkt4-fanvil-changed"] == 2
    assert after["pkt4-fanvil-errors"] == 0


def _stats(server: KeaServer) -> dict[str, int]:
    names = ("pkt4-fanvil-matched", "pkt4-fanvil-changed", "pkt4-fanvil-errors")
    return {name: int(statistic(server.control_socket, name)) for name in names}


@pytest.mark.parametrize("multi_threading", [False, True], ids=["mt-off", "mt-on"])
def test_always_send_false_sends_only_what_was_asked(
    lab: Lab, tmp_path: Path, multi_threading: bool
) -> None:
    _kea_with_hook(lab, tmp_path, always_send=False, multi_threading=multi_threading)
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
