"""The Kea-native renderer against real kea-dhcp4 2.2.0 (no hook): the hook's phone cases.

The policy and phone cases are phones.py's, as for the hook; the rendered client classes are
merged into the lab's Kea configuration, checked with `kea-dhcp4 -t`, and served for real.
Sites are rendered by relay address (`sites_by_relay`), which is all the relayed case needs.
Every phone case's bytes equal the hook's; the one measured difference (with always_send
false and a server-wide always-send option 66) is asserted exactly below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lab import Lab, client_dora, netns_pair
from phones import (
    CASES,
    DEFAULT_URL,
    DEVICE_URL,
    KEA_OWN_66,
    POLICY,
    PRL_BASIC,
    Case,
    check_message,
    dora_case,
)
from servers import start_native_kea


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with netns_pair("kf") as lab:
        start_native_kea(
            lab, tmp_path_factory.mktemp("render-kea"), POLICY.format(always_send="true")
        )
        yield lab


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_phone_gets_the_hooks_bytes(native: Lab, case: Case) -> None:
    result = dora_case(native, case)
    check_message(result.offer, case.expect, case.file)
    check_message(result.ack, case.expect, case.file)


def test_vendor_class_is_a_case_insensitive_prefix(native: Lab) -> None:
    lower = client_dora(native, "02:00:00:00:01:01", b"fANVIL c62", PRL_BASIC)
    assert lower.ack.option(160) == DEFAULT_URL
    inside = client_dora(native, "02:00:00:00:01:02", b"My Fanvil", PRL_BASIC)
    assert inside.ack.option(160) is None
    assert inside.ack.option(66) == KEA_OWN_66


def test_always_send_false_sends_only_what_was_asked(lab: Lab, tmp_path: Path) -> None:
    start_native_kea(lab, tmp_path, POLICY.format(always_send="false"))
    silent = client_dora(lab, "0c:38:3e:00:02:01", b"Fanvil C62", PRL_BASIC)
    # Difference from the hook, measured: Kea's own option 66 is always-send, so Kea adds code
    # 66 unasked and takes its value from the highest-precedence scope that defines it, the
    # phone's class. The hook would leave Kea's own value.
    assert silent.ack.option(66) == DEFAULT_URL
    for code in (43, 67, 160):
        assert silent.ack.option(code) is None, code
    asked = client_dora(lab, "0c:38:3e:00:02:02", b"Fanvil C62", PRL_BASIC + bytes([66]))
    assert asked.ack.option(66) == DEFAULT_URL
    assert asked.ack.option(43) is None and asked.ack.option(160) is None
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC + bytes([43, 67]))
    assert device.ack.option(43) == DEVICE_URL
    assert device.ack.option(67) == b"desk-12.cfg"
    assert device.ack.file == b"desk-12.cfg"


def test_option_43_as_sub_option(lab: Lab, tmp_path: Path) -> None:
    text = POLICY.format(always_send="true").replace("option_43: string", "option_43: 1")
    start_native_kea(lab, tmp_path, text)
    phone = client_dora(lab, "0c:38:3e:00:03:01", None, PRL_BASIC)
    assert phone.ack.option(43) == bytes([1, len(DEFAULT_URL)]) + DEFAULT_URL
    device = client_dora(lab, "0c:38:3e:11:3a:f8", None, PRL_BASIC)
    assert device.ack.option(43) == bytes([1, len(DEVICE_URL)]) + DEVICE_URL
