"""Kea high availability (hot-standby) with our hook: the standby provisions phones identically.

Two kea-dhcp4 peers in their own namespaces share one L2 segment with the phones (ha_lab.py),
each loading lease_cmds, HA and libdhcp_fanvil.so with the same policy file. Phones get their
options from the primary; the primary is SIGKILLed; once the standby reports partner-down the
same phones run a fresh DORA. The standby must hand out exactly the same provisioning bytes
(options 43, 66, 67, 160 and the BOOTP file field), and the same addresses, whose leases the
primary had synced to it before dying. Option 54 proves which server answered each time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from daemons import statistic
from ha_lab import (
    PRIMARY_IP,
    PRIMARY_NAME,
    STANDBY_IP,
    STANDBY_NAME,
    HaLab,
    ha_namespaces,
    kea_hooks_dir,
    kill_hard,
    lease4_get,
    start_peer,
    wait_for_state,
)
from lab import KeaServer
from phones import CASES, KEA_OWN_66, POLICY, PROVISIONING, Case, check_message, dora_case

from kea_fanvil.probe.dhcp_client import DoraResult
from kea_fanvil.wire.dhcp import DhcpMessage

# Direct cases only: a site picked by relay address would need the relay route of
# phones.relayed_network_is_remote on both peers, which adds nothing to what HA changes.
CHOSEN_IDS = ("inventory-device", "fanvil-oui-no-option-60", "yealink-untouched")
CHOSEN = [case for case in CASES if case.id in CHOSEN_IDS]
OWN_66 = [{"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}]
# Startup includes the standby syncing leases from the primary; failover needs about
# max-response-delay (1.5 s) plus one heartbeat.
STARTUP_TIMEOUT = 20.0
FAILOVER_TIMEOUT = 10.0


def _require_ha_hooks() -> None:
    missing = [
        name
        for name in ("libdhcp_ha.so", "libdhcp_lease_cmds.so")
        if not (kea_hooks_dir() / name).is_file()
    ]
    if not missing:
        return
    reason = f"Kea's {', '.join(missing)} not installed in {kea_hooks_dir()}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this is an error, not a skip")
    pytest.skip(reason)


def _provisioning(message: DhcpMessage) -> dict[int | str, bytes | None]:
    found: dict[int | str, bytes | None] = {code: message.option(code) for code in PROVISIONING}
    found["file"] = message.file
    return found


def _start_pair(ha: HaLab, tmp_path: Path) -> tuple[KeaServer, KeaServer]:
    # One file for both peers here; on two hosts it is a copy, kept identical (docs/ha.md).
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(always_send="true"))
    primary = start_peer(ha.primary, PRIMARY_NAME, policy, tmp_path / "primary", OWN_66)
    standby = start_peer(ha.standby, STANDBY_NAME, policy, tmp_path / "standby", OWN_66)
    wait_for_state(primary, "hot-standby", STARTUP_TIMEOUT)
    wait_for_state(standby, "hot-standby", STARTUP_TIMEOUT)
    return primary, standby


def _served_by_primary(ha: HaLab, standby: KeaServer, case: Case) -> DoraResult:
    result = dora_case(ha.phones, case)
    assert str(result.server_id) == PRIMARY_IP, case.id
    check_message(result.ack, case.expect, case.file)
    # HA parks the ACK until the standby has stored the lease, so it is there already.
    lease = lease4_get(standby, str(result.address))
    assert lease is not None, f"{case.id}: lease {result.address} not synced to the standby"
    assert lease["hw-address"] == case.mac
    return result


def _served_by_standby(ha: HaLab, case: Case, before: DoraResult) -> None:
    after = dora_case(ha.phones, case)
    assert str(after.server_id) == STANDBY_IP, case.id
    check_message(after.ack, case.expect, case.file)
    assert _provisioning(after.ack) == _provisioning(before.ack), case.id
    assert _provisioning(after.offer) == _provisioning(before.offer), case.id
    # The synced lease: the phone keeps its address across the failover.
    assert after.address == before.address, case.id


def test_standby_provisions_phones_identically_after_primary_dies(tmp_path: Path) -> None:
    _require_ha_hooks()
    with ha_namespaces("kf") as ha:
        primary, standby = _start_pair(ha, tmp_path)
        before = {case.id: _served_by_primary(ha, standby, case) for case in CHOSEN}
        # In hot-standby the standby drops every query before processing: its hook never ran.
        assert statistic(standby.control_socket, "pkt4-fanvil-matched") == 0

        killed_at = time.monotonic()
        kill_hard(primary)
        wait_for_state(standby, "partner-down", FAILOVER_TIMEOUT)
        failover = time.monotonic() - killed_at

        for case in CHOSEN:
            _served_by_standby(ha, case, before[case.id])
        assert statistic(standby.control_socket, "pkt4-fanvil-matched") > 0
        for server in (primary, standby):
            assert "FANVIL_DECIDE_FAILED" not in server.log(), server.log()
        print(f"failover: partner-down {failover:.2f} s after SIGKILL")
