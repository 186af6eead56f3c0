"""The hook's control commands inside real kea-dhcp4, and Kea's thread rules.

fanvil-status, fanvil-decide, fanvil-policy-reload and fanvil-devices-get over Kea's unix
control socket, threads off and on, while perfdhcp keeps Kea busy; over HTTP through
kea-ctrl-agent (Kea 2.x) or Kea 3.0's own HTTP socket, through `kea-fanvil ... --kea URL`. What
fanvil-decide says is checked against what a client receives on the wire. Then Kea's own
reconfigurations under load: the hook's threads pause around them and keep serving after.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from daemons import (
    free_port,
    kea_command,
    kea_config,
    perfdhcp_argv,
    perfdhcp_counts,
    start_ctrl_agent,
    start_kea,
    statistic,
)
from lab import KeaServer, Lab, client_dora
from phones import DEVICE_URL, KEA_OWN_66, POLICY, SITE_URL

from kea_fanvil import kea_control, kea_install
from kea_fanvil.kea_hook import build as hook_build

DESK = "0c:38:3e:11:3a:f8"
PRL = bytes([1, 3, 6, 43, 66, 67, 160])
NEW_URL = "http://new.example.com/fanvil/$mac.cfg"


def start(
    lab: Lab,
    tmp_path: Path,
    multi_threading: bool,
    decisions: str = "table",
    http_port: int | None = None,
    reload_interval: float = 0,
) -> KeaServer:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(always_send="false"))
    parameters: dict[str, Any] = {
        "policy": str(policy),
        "decisions": decisions,
        "inventory": str(tmp_path / "phones.db"),
        "policy-reload-interval": reload_interval,
    }
    config = kea_config(
        lab,
        option_data=[
            {"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}
        ],
        hooks=[{"library": str(hook_build.installed_path()), "parameters": parameters}],
        multi_threading=multi_threading,
    )
    return start_kea(lab, config, tmp_path, http_port=http_port)


def answer(kea: KeaServer, command: str, arguments: dict[str, Any] | None = None) -> Any:
    return kea_command(kea.control_socket, command, arguments)


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("multi_threading", "decisions"),
    [(False, "table"), (True, "table"), (True, "python")],
    ids=["mt-off", "mt-on", "mt-on-python"],
)
def test_commands_answer_as_the_server_decides(
    lab: Lab, tmp_path: Path, multi_threading: bool, decisions: str
) -> None:
    kea = start(lab, tmp_path, multi_threading, decisions)
    listed = answer(kea, "list-commands")["arguments"]
    assert {"fanvil-status", "fanvil-decide", "fanvil-policy-reload", "fanvil-devices-get"} <= set(
        listed
    )

    # What fanvil-decide says is what the phone gets on the wire, byte for byte.
    wire = client_dora(lab, DESK, b"Fanvil C62", PRL).ack
    decided = answer(
        kea, "fanvil-decide", {"mac": DESK, "vendor-class": "Fanvil C62", "prl": list(PRL)}
    )
    assert decided["result"] == 0, decided
    body = decided["arguments"]
    assert body["matched-by"] == "device" and body["decided-by"] == decisions
    assert body["url"] == DEVICE_URL.decode() and body["boot-file"] == "desk-12.cfg"
    for option in body["options"]:
        assert wire.option(option["code"]) == bytes.fromhex(option["hex"]), option
    assert [o["code"] for o in body["options"]] == [43, 66, 67, 160]
    assert body["file-field"] == "desk-12.cfg" and wire.file == b"desk-12.cfg"

    relayed = answer(
        kea,
        "fanvil-decide",
        {
            "mac": "02:00:00:00:00:05",
            "vendor-class": "Fanvil X3U",
            "prl": "66",
            "giaddr": "198.18.64.1",
        },
    )["arguments"]
    assert (relayed["site"], relayed["url"]) == ("branch-a", SITE_URL.decode())
    assert [o["code"] for o in relayed["options"]] == [66]  # only what it asked for

    other = answer(kea, "fanvil-decide", {"mac": "00:15:65:00:00:04", "vendor-class": "yealink"})
    assert other["result"] == 3 and "not a Fanvil phone" in other["text"]

    # Bad input is result 1 naming the argument; Kea keeps serving.
    for bad, word in [
        ({}, "'mac' is required"),
        ({"mac": "zz"}, "'mac'"),
        ({"mac": DESK, "prl": [1, 300]}, "'prl'"),
        ({"mac": DESK, "giaddr": "198.18.0.300"}, "'giaddr'"),
        ({"mac": DESK, "vendor-class": "x", "vendor-class-hex": "00"}, "not both"),
        ({"mac": DESK, "colour": "red"}, "unknown argument 'colour'"),
    ]:
        refused = answer(kea, "fanvil-decide", bad)
        assert refused["result"] == 1 and word in refused["text"], (bad, refused)

    status = answer(kea, "fanvil-status")
    assert status["result"] == 0, status
    state = status["arguments"]
    assert state["policy"]["file"] == str(tmp_path / "policy.yaml")
    assert state["policy"]["counts"] == {
        "devices": 1,
        "sites": 1,
        "vendor-class-prefixes": 1,
        "mac-prefixes": 2,
    }
    assert state["policy"]["fingerprint"].startswith("sha256:")
    assert state["decisions"] == decisions
    assert state["kea-version"] == kea_install.installed().version_text
    assert state["packets"]["pkt4-fanvil-matched"] == statistic(
        kea.control_socket, "pkt4-fanvil-matched"
    )
    python_decisions = state["packets"]["pkt4-fanvil-python-decisions"]
    assert (python_decisions == 0) == (decisions == "table")

    # The inventory, through the server.
    def phones() -> list[dict[str, Any]]:
        found = answer(kea, "fanvil-devices-get", {"mac": DESK})
        return list(found.get("arguments", {}).get("devices", []))

    wait_for(lambda: len(phones()) == 1)
    (row,) = phones()
    assert (row["mac"], row["model"], row["boot_file"]) == (DESK, "C62", "desk-12.cfg")
    none = answer(kea, "fanvil-devices-get", {"model": "no-such-model"})
    assert none["result"] == 3
    assert answer(kea, "fanvil-devices-get", {"limit": 0})["result"] == 1

    # A reload now; a broken file keeps the policy in force and says where.
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        POLICY.format(always_send="false").replace(
            "http://prov.example.com/fanvil/$mac.cfg", NEW_URL
        )
    )
    reloaded = answer(kea, "fanvil-policy-reload")
    assert reloaded["result"] == 0 and "policy reloaded" in reloaded["text"], reloaded
    assert client_dora(lab, "0c:38:3e:00:00:01", None, PRL).ack.option(66) == NEW_URL.encode()
    policy.write_text("version: 1\nprovisioning:\n  url: gopher://x/\n")
    broken = answer(kea, "fanvil-policy-reload")
    assert broken["result"] == 1 and f"{policy}:3" in broken["text"], broken
    assert "stays in force" in broken["text"]
    assert client_dora(lab, "0c:38:3e:00:00:01", None, PRL).ack.option(66) == NEW_URL.encode()
    after = answer(kea, "fanvil-status")["arguments"]
    assert (after["reloads"], after["reload-failures"]) == (1, 1)
    assert f"{policy}:3" in after["last-reload-failure"]


@pytest.mark.parametrize("multi_threading", [False, True], ids=["mt-off", "mt-on"])
def test_commands_never_stall_packets(lab: Lab, tmp_path: Path, multi_threading: bool) -> None:
    kea = start(lab, tmp_path, multi_threading)
    perf = subprocess.Popen(
        perfdhcp_argv(lab, 400, 90, 6, b"Fanvil X4 2.10.2", "-d", "5", "-W", "4000000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    slowest = 0.0
    answered = 0
    try:
        time.sleep(0.5)
        while perf.poll() is None:
            for command, arguments in [
                ("fanvil-status", None),
                ("fanvil-decide", {"mac": DESK}),
                ("fanvil-devices-get", {"limit": 50}),
            ]:
                started = time.monotonic()
                reply = answer(kea, command, arguments)
                slowest = max(slowest, time.monotonic() - started)
                assert reply["result"] in (0, 3), reply
                answered += 1
            time.sleep(0.05)
    finally:
        output = perf.communicate(timeout=30)[0]
    sent, received = perfdhcp_counts(output)
    assert sent[0] > 2000 and received[1] >= 0.99 * sent[0], output  # DORAs completed
    assert answered > 30 and slowest < 1.0, (answered, slowest)
    assert statistic(kea.control_socket, "pkt4-fanvil-errors") == 0


def _cli(lab: Lab, ns: str | None, *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kea_fanvil", *argv]
    if ns is not None:
        command = lab.exec_argv(ns, *command)
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_commands_over_http_and_the_cli(lab: Lab, tmp_path: Path) -> None:
    kea_version = kea_install.installed()
    if kea_version.control_sockets_list:  # Kea 3.0 serves HTTP itself
        port = free_port()
        kea = start(lab, tmp_path, True, http_port=port)
        url, ns = f"http://127.0.0.1:{port}/", lab.srv_ns  # the server namespace's loopback
    else:  # Kea 2.x: kea-ctrl-agent in front of the unix socket
        kea = start(lab, tmp_path, True)
        _, url = start_ctrl_agent(lab, kea.control_socket, tmp_path)
        ns = None
        over_http = kea_control.send(url, "fanvil-status")
        assert over_http["result"] == 0 and over_http["arguments"]["decisions"] == "table"

    client_dora(lab, DESK, b"Fanvil C62", PRL)
    for target in (str(kea.control_socket), url):
        done = _cli(lab, ns, "status", "--kea", target)
        assert done.returncode == 0, done.stderr
        assert "policy: " in done.stdout and "decisions: table" in done.stdout

        done = _cli(lab, ns, "decide", "--kea", target, "--mac", DESK, "--prl", "66", "--json")
        assert done.returncode == 0, done.stderr
        decided = json.loads(done.stdout)
        assert decided["url"] == DEVICE_URL.decode()
        assert [o["code"] for o in decided["options"]] == [66]

        done = _cli(lab, ns, "decide", "--kea", target, "--mac", "zz")
        assert done.returncode == 2 and "--mac" in done.stderr  # refused before asking

        deadline = time.monotonic() + 10
        while True:
            done = _cli(lab, ns, "devices", "--kea", target, "--json")
            assert done.returncode == 0, done.stderr
            if any(row["mac"] == DESK for row in json.loads(done.stdout)):
                break
            assert time.monotonic() < deadline, done.stdout
            time.sleep(0.2)

        done = _cli(lab, ns, "reload", "--kea", target)
        assert done.returncode == 0 and "policy reloaded" in done.stdout, done.stderr

    missing = _cli(lab, None, "status", "--kea", str(tmp_path / "no.sock"))
    assert missing.returncode == 1 and "not a socket" in missing.stderr


@pytest.mark.parametrize("multi_threading", [False, True], ids=["mt-off", "mt-on"])
def test_reconfiguration_under_load_keeps_serving(
    lab: Lab, tmp_path: Path, multi_threading: bool
) -> None:
    # The watcher and the inventory writer start once Kea is configured and pause while it
    # reconfigures (threads on: Kea's critical section); after a config-reload (and a
    # libreload where Kea still has it) under load the hook answers and records as before.
    kea = start(lab, tmp_path, multi_threading, reload_interval=1)
    before = answer(kea, "fanvil-status")["arguments"]
    assert before["watcher"] == "running" and before["inventory"]["state"] == "writing"
    commands = ["config-reload"]
    if "libreload" in answer(kea, "list-commands")["arguments"]:
        commands.append("libreload")
    perf = subprocess.Popen(
        perfdhcp_argv(lab, 200, 90, 8, b"Fanvil X4 2.10.2", "-d", "5", "-W", "4000000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for command in commands:
            time.sleep(2)
            reply = answer(kea, command)
            assert reply["result"] == 0, reply
    finally:
        output = perf.communicate(timeout=60)[0]
    sent, received = perfdhcp_counts(output)
    # Kea stops answering while it reconfigures (its own behaviour, not the hook's); what
    # matters is that it answered before and after each.
    assert sent[0] > 1500 and received[1] >= 0.8 * sent[0], output
    after = answer(kea, "fanvil-status")["arguments"]
    assert after["watcher"] == "running" and after["inventory"]["state"] == "writing"
    assert after["critical-sections"] >= (len(commands) if multi_threading else 0)
    # Still deciding, still recording: a phone after the reconfigurations gets its URL and a row.
    assert client_dora(lab, DESK, b"Fanvil C62", PRL).ack.option(66) == DEVICE_URL
    wait_for(lambda: answer(kea, "fanvil-devices-get", {"mac": DESK}).get("result") == 0)
    log = kea.log()
    assert "FANVIL_INVENTORY_ERROR" not in log and "FANVIL_PACKET_ERROR" not in log
