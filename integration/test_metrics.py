"""`kea-fanvil metrics` scraped while phones are served: real kea-dhcp4 with the hook, the
exporter reading it over the control socket, Prometheus text over HTTP on loopback."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from daemons import free_port, kea_config, start_kea
from lab import Lab, client_dora
from phones import KEA_OWN_66, POLICY

from kea_fanvil.kea_hook import build as hook_build

PRL = bytes([1, 3, 6, 66])


def scrape(url: str) -> dict[str, float]:
    """{'name{labels}': value} of one scrape."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def wait_for_http(url: str, exporter: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            assert exporter.poll() is None, exporter.communicate()[0]
            assert time.monotonic() < deadline, "the exporter did not start"
            time.sleep(0.1)


def test_a_scrape_shows_the_counters_moving(lab: Lab, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(always_send="true"))
    hook = {"library": str(hook_build.installed_path()), "parameters": {"policy": str(policy)}}
    option_data = [{"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}]
    kea = start_kea(lab, kea_config(lab, option_data=option_data, hooks=[hook]), tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    exporter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kea_fanvil",
            "metrics",
            "--listen",
            f"127.0.0.1:{port}",
            "--kea",
            f"east={kea.control_socket}",
            "--kea",
            f"gone={tmp_path / 'no.sock'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_http(url, exporter)
        before = scrape(url)
        assert before['kea_fanvil_up{server="east"}'] == 1
        assert before['kea_fanvil_up{server="gone"}'] == 0  # a dead server: up 0, nothing else
        assert not any('server="gone"' in k for k in before if not k.startswith("kea_fanvil_up"))
        assert before['kea_fanvil_policy_loaded{server="east"}'] == 1
        assert before['kea_fanvil_policy_entries{kind="devices",server="east"}'] == 1
        client_dora(lab, "0c:38:3e:00:00:01", b"Fanvil X4 2.10.2.6887", PRL)
        client_dora(lab, "0c:38:3e:00:00:02", b"Fanvil C62 2.2", PRL)
        client_dora(lab, "00:15:65:00:00:04", b"yealink", PRL)  # not a phone of ours
        deadline = time.monotonic() + 10
        key = 'kea_fanvil_inventory_phones{firmware="2.10.2.6887",model="X4",server="east"}'
        recorded = 'kea_fanvil_inventory_recorded_total{server="east"}'
        while True:
            after = scrape(url)
            # The writer works in batches: wait for all four records (an OFFER and an ACK
            # per phone), whichever batches they fell in.
            if (after.get(key) == 1 and after.get(recorded, 0) >= 4) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        matched = 'kea_fanvil_packets_matched_total{server="east"}'
        assert after[matched] - before.get(matched, 0) == 4  # an OFFER and an ACK per phone
        assert after[key] == 1
        assert after[recorded] >= 4
        assert after['kea_fanvil_packets_python_decisions_total{server="east"}'] == 0
        info = [k for k in after if k.startswith("kea_fanvil_info")]
        assert len(info) == 1 and re.search(r'decisions="table"', info[0])
    finally:
        exporter.send_signal(signal.SIGTERM)
        output = exporter.communicate(timeout=10)[0]
    assert exporter.returncode == 0, output
