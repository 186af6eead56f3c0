"""One inventory for several Kea servers: the hook writing to PostgreSQL.

Debian's PostgreSQL runs a cluster of the test's own (pg.py: a unix socket in a folder under
/tmp, a password in a passfile). An HA pair whose peers both load the hook with the same
`inventory` URI writes one table: phones the primary served, then, once it is killed, those
the standby served, each row naming its server, the counts of a phone both saw added up. Then
the database is stopped and started again while perfdhcp runs: the DHCP answers go on, only
inventory records are lost, counted, and writing resumes by itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from daemons import kea_command, kea_config, perfdhcp_argv, perfdhcp_counts, start_kea, statistic
from ha_lab import (
    PRIMARY_NAME,
    STANDBY_NAME,
    ha_namespaces,
    kea_hooks_dir,
    kill_hard,
    start_peer,
    wait_for_state,
)
from lab import Lab, client_dora
from pg import PgCluster, postgres_cluster
from phones import KEA_OWN_66, POLICY

from kea_fanvil.kea_hook import build as hook_build
from kea_fanvil.kea_hook.inventory import read_meta, record_sightings

PRL = bytes([1, 3, 6, 66])
OWN_66 = [{"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}]


@pytest.fixture
def cluster() -> Any:
    with postgres_cluster() as pg:
        yield pg


def rows(cluster: PgCluster) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "kea_fanvil", "devices", "--db", cluster.uri, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if "no kea-fanvil inventory there yet" in done.stderr:
        return {}  # the hook creates the tables with its first batch
    assert done.returncode == 0, done.stderr
    return {row["mac"]: row for row in json.loads(done.stdout)}


def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_an_ha_pair_writes_one_table(tmp_path: Path, cluster: PgCluster) -> None:
    for name in ("libdhcp_ha.so", "libdhcp_lease_cmds.so"):
        assert (kea_hooks_dir() / name).is_file(), f"Kea's {name} is not installed"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(always_send="true"))
    with ha_namespaces("kp") as ha:
        peers = {}
        for name, view in ((PRIMARY_NAME, ha.primary), (STANDBY_NAME, ha.standby)):
            parameters = {"inventory": cluster.uri, "server-name": f"kea-{name}"}
            peers[name] = start_peer(view, name, policy, tmp_path / name, OWN_66, parameters)
        for peer in peers.values():
            wait_for_state(peer, "hot-standby", 20.0)

        client_dora(ha.phones, "0c:38:3e:00:00:01", b"Fanvil X4 2.1", PRL)
        client_dora(ha.phones, "0c:38:3e:00:00:02", b"Fanvil C62 2.2", PRL)
        wait_for(lambda: len(rows(cluster)) == 2)
        kill_hard(peers[PRIMARY_NAME])
        wait_for_state(peers[STANDBY_NAME], "partner-down", 10.0)
        client_dora(ha.phones, "0c:38:3e:00:00:02", b"Fanvil C62 2.2", PRL)  # seen by both
        client_dora(ha.phones, "0c:38:3e:00:00:03", b"Fanvil X3U 2.3", PRL)
        wait_for(
            lambda: (
                len(rows(cluster)) == 3
                and rows(cluster)["0c:38:3e:00:00:02"]["server"] == f"kea-{STANDBY_NAME}"
            )
        )

    table = rows(cluster)
    assert table["0c:38:3e:00:00:01"]["server"] == f"kea-{PRIMARY_NAME}"
    assert table["0c:38:3e:00:00:03"]["server"] == f"kea-{STANDBY_NAME}"
    both = table["0c:38:3e:00:00:02"]
    # Counted by both servers: each wrote at least its first sighting (a repeat with the same
    # facts in a later batch is only counted, and written up to a minute later, which the
    # SIGKILLed primary never did).
    assert both["model"] == "C62" and both["times_seen"] >= 2
    assert both["first_seen"] < both["last_seen"]
    # One table, in PostgreSQL itself: what the CLI read is what is stored.
    assert cluster.psql("SELECT count(*) FROM kea_fanvil_phones").strip() == "3"
    assert oct(cluster.passfile.stat().st_mode & 0o777) == "0o600"  # the password's only home


def test_a_database_outage_costs_records_only(lab: Lab, tmp_path: Path, cluster: PgCluster) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(always_send="true"))
    hook = {
        "library": str(hook_build.installed_path()),
        "parameters": {"policy": str(policy), "inventory": cluster.uri, "server-name": "kea-a"},
    }
    config = kea_config(lab, option_data=OWN_66, hooks=[hook], multi_threading=True)
    kea = start_kea(lab, config, tmp_path)
    client_dora(lab, "0c:38:3e:00:00:09", b"Fanvil X4 2.1", PRL)
    wait_for(lambda: "0c:38:3e:00:00:09" in rows(cluster))

    perf = subprocess.Popen(
        perfdhcp_argv(lab, 200, 90, 10, b"Fanvil X4 2.10.2", "-d", "5", "-W", "4000000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(2)
        cluster.stop()
        time.sleep(3)
        status = kea_command(kea.control_socket, "fanvil-status")["arguments"]["inventory"]
        assert status["state"] == "error" and status["last-error"], status
        cluster.start()
        restarted = time.time()
    finally:
        output = perf.communicate(timeout=60)[0]
    sent, received = perfdhcp_counts(output)
    assert sent[0] > 1800 and received[1] >= 0.99 * sent[0], output  # DHCP never waited

    # Writing resumes by itself (the writer retries after 1 s, then 2, 4 ... at most 30): a
    # new phone after the restart gets its row.
    macs = (f"02:00:00:00:01:{n:02x}" for n in range(256))

    def a_new_phone_is_recorded() -> bool:
        client_dora(lab, next(macs), b"Fanvil X4 2.1", PRL)
        return any(r["last_seen"] > restarted for r in rows(cluster).values())

    wait_for(a_new_phone_is_recorded, timeout=40)
    assert statistic(kea.control_socket, "fanvil-inventory-dropped") > 0
    assert statistic(kea.control_socket, "fanvil-inventory-recorded") > 0
    log = kea.log()
    assert "FANVIL_INVENTORY_ERROR" in log
    password = cluster.passfile.read_text().strip().rsplit(":", 1)[1]
    assert password not in log
    assert "FANVIL_PACKET_ERROR" not in log


def test_a_password_in_the_uri_is_refused(lab: Lab, tmp_path: Path, cluster: PgCluster) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(always_send="true"))
    uri = cluster.uri.replace("kea@", "kea:hunter2@")
    hook = {
        "library": str(hook_build.installed_path()),
        "parameters": {"policy": str(policy), "inventory": uri},
    }
    kea = start_kea(lab, kea_config(lab, option_data=OWN_66, hooks=[hook]), tmp_path)
    ack = client_dora(lab, "0c:38:3e:00:00:09", b"Fanvil X4 2.1", PRL).ack
    assert ack.option(66) == b"http://prov.example.com/fanvil/$mac.cfg"  # phones still served
    wait_for(lambda: "FANVIL_INVENTORY_ERROR" in kea.log())
    log = kea.log()
    assert "holds a password" in log and "hunter2" not in log


def test_files_learn_writes_the_shared_inventory(cluster: PgCluster) -> None:
    """`kea-fanvil files learn` into PostgreSQL: the newest sighting's facts, counts that add
    up, and the mark that keeps a second read from counting again, all in the shared table."""
    rows_in = [
        ("0c:38:3e:07:e1:6c", "X4", "2.10.2.6887", "198.18.0.20", "lab", 100.0),
        ("0c:38:3e:07:e1:6c", "X4", "", "198.18.0.21", "lab", 200.0),  # newer, no firmware
    ]
    assert record_sightings(cluster.uri, rows_in, ("http-learned:nginx", "mark-1"), "web-1") == 1
    assert read_meta(cluster.uri, "http-learned:nginx") == "mark-1"
    phone = rows(cluster)["0c:38:3e:07:e1:6c"]
    assert (phone["model"], phone["firmware"], phone["address"]) == (
        "X4",
        "2.10.2.6887",
        "198.18.0.21",
    )
    assert (phone["matched_by"], phone["server"], phone["times_seen"]) == ("http", "web-1", 2)
    assert (phone["first_seen"], phone["last_seen"]) == (100.0, 200.0)
    # An older sighting adds its count only; the mark moves in the same transaction.
    older = [("0c:38:3e:07:e1:6c", "X4", "2.9.0", "198.18.0.99", "", 50.0)]
    record_sightings(cluster.uri, older, ("http-learned:nginx", "mark-2"), "web-2")
    phone = rows(cluster)["0c:38:3e:07:e1:6c"]
    assert (phone["address"], phone["firmware"], phone["server"]) == (
        "198.18.0.21",
        "2.10.2.6887",
        "web-1",
    )
    assert (phone["times_seen"], phone["first_seen"]) == (3, 50.0)
    assert read_meta(cluster.uri, "http-learned:nginx") == "mark-2"
