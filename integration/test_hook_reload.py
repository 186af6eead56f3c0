"""Live policy reload in real kea-dhcp4: the hook's file watcher, and Kea's config-reload.

- The watcher (hook parameter ``policy-reload-interval``) swaps in a changed policy while
  perfdhcp keeps Kea busy: every DISCOVER and REQUEST perfdhcp sent is answered, and the new
  URL is on the wire afterwards. A broken version (with a password in it) leaves the previous
  policy in force, is reported once with the password masked, and a later fix is picked up.
- An inventory (devices_file) that becomes unreadable is the same: the previous policy stays.
- ``config-reload`` with a broken policy keeps the previous policy, where Kea 2.2 would
  otherwise stop serving (DHCP4_CONFIG_UNRECOVERABLE_ERROR).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from daemons import kea_command, kea_config, perfdhcp_argv, perfdhcp_counts, start_kea, statistic
from lab import KeaServer, Lab, client_dora

from kea_fanvil.kea_hook import build as hook_build

PRL = bytes([1, 3, 6, 43, 66])
PHONE = "0c:38:3e:00:ff:01"  # perfdhcp -R 1000 varies only the MAC's low 10 bits
DEVICE = "0c:38:3e:11:3a:f8"
SECRET = "s3cret-Pa55"
PHONE_CLASS = b"Fanvil X4 2.10.2"

POLICY = """\
version: 1
provisioning:
  url: "{url}"
delivery:
  option_66: true
  option_43: "off"
  always_send: true
devices_file: {devices}
"""


def write_atomically(path: Path, text: str) -> None:
    """What an admin's deploy tool should do: write beside, then rename over."""
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_text(text)
    os.chmod(temporary, 0o640)
    os.replace(temporary, path)


def policy_text(url: str, devices: str = "phones.csv") -> str:
    return POLICY.format(url=url, devices=devices)


def write_inventory(folder: Path, devices: int, device_url: str, name: str = "phones.csv") -> None:
    rows = [f"{DEVICE},{device_url},,desk-12"]
    rows += [
        f"02:fa:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01,,," for i in range(devices)
    ]
    write_atomically(folder / name, "mac,url,boot_file,name\n" + "\n".join(rows) + "\n")


def hook_kea(
    lab: Lab, tmp_path: Path, policy: Path, multi_threading: bool, reload_interval: float
) -> KeaServer:
    config = kea_config(
        lab,
        hooks=[
            {
                "library": str(hook_build.installed_path()),
                "parameters": {"policy": str(policy), "policy-reload-interval": reload_interval},
            }
        ],
        multi_threading=multi_threading,
    )
    dhcp4: dict[str, Any] = config["Dhcp4"]
    # perfdhcp's clients and the test's phones must never run out of addresses.
    dhcp4["subnet4"] = [
        {
            "id": 1,
            "subnet": "198.18.0.0/15",
            "interface": lab.srv_if,
            "pools": [{"pool": "198.18.128.0 - 198.19.255.254"}],
        }
    ]
    # One log line per lease at 200 DORA/s would be most of what Kea does.
    dhcp4["loggers"].append(
        {"name": "kea-dhcp4.leases", "severity": "WARN", "output_options": [{"output": "stdout"}]}
    )
    return start_kea(lab, config, tmp_path)


def option_66(lab: Lab, mac: str = PHONE) -> bytes | None:
    return client_dora(lab, mac, b"Fanvil X4 2.10.2", PRL).ack.option(66)


def wait_for(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_perfdhcp(lab: Lab, rate: int, seconds: int, clients: int) -> subprocess.Popen[str]:
    # Drop time 5 s: a late answer is still an answer, lost means never; after the last
    # DISCOVER, wait 4 s for the answers still coming.
    argv = perfdhcp_argv(lab, rate, clients, seconds, PHONE_CLASS, "-d", "5", "-W", "4000000")
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("multi_threading", [False, True], ids=["mt-off", "mt-on"])
def test_watcher_reloads_under_load_without_losing_responses(
    lab: Lab, tmp_path: Path, multi_threading: bool
) -> None:
    policy = tmp_path / "policy.yaml"
    write_inventory(tmp_path, 20_000, "https://prov.example.com/special/desk-12/")
    write_atomically(policy, policy_text("http://v1.example.com/$mac.cfg"))
    kea = hook_kea(lab, tmp_path, policy, multi_threading, reload_interval=0.2)
    assert option_66(lab) == b"http://v1.example.com/$mac.cfg"

    perf = start_perfdhcp(lab, rate=200, seconds=8, clients=1000)
    try:
        time.sleep(2)
        # v2 changes the default URL and every one of the 20,000 devices' rows, in a new
        # inventory file the policy names: one rename makes the whole of v2 appear at once.
        v2_url = "https://prov.example.com/special/desk-12-v2/"
        write_inventory(tmp_path, 20_000, v2_url, name="phones-v2.csv")
        write_atomically(policy, policy_text("http://v2.example.com/$mac.cfg", "phones-v2.csv"))
        wait_for(lambda: "FANVIL_POLICY_RELOADED" in kea.log(), "the v2 reload")
        time.sleep(1)
        # v3 is broken, and quotes a password in its error: the port is out of range.
        broken = f"http://admin:{SECRET}@v3.example.com:99999/$mac.cfg"
        write_atomically(policy, policy_text(broken, "phones-v2.csv"))
        wait_for(lambda: "FANVIL_POLICY_RELOAD_FAILED" in kea.log(), "the v3 failure")
        output, _ = perf.communicate(timeout=30)
    finally:
        if perf.poll() is None:
            perf.kill()
            perf.wait()

    sent, received = perfdhcp_counts(output)
    assert sent[0] > 1000, output  # the run really happened, at 200 DISCOVERs a second
    assert received == sent, f"responses lost during the reloads:\n{output}"

    # v2 is in force: v3 was refused.
    assert option_66(lab) == b"http://v2.example.com/$mac.cfg"
    assert option_66(lab, DEVICE) == b"https://prov.example.com/special/desk-12-v2/"
    time.sleep(1)  # five more checks of the unchanged broken file: no more reports
    log = kea.log()
    assert log.count("FANVIL_POLICY_RELOADED") == 1, log
    assert log.count("FANVIL_POLICY_RELOAD_FAILED") == 1, log
    assert "port" in log and "admin:****@v3.example.com" in log, log
    assert SECRET not in log
    assert statistic(kea.control_socket, "fanvil-policy-reloads") == 1
    assert statistic(kea.control_socket, "fanvil-policy-reload-failures") == 1

    # Fixing the file is picked up without anyone touching Kea.
    write_atomically(policy, policy_text("http://v4.example.com/$mac.cfg", "phones-v2.csv"))
    wait_for(lambda: kea.log().count("FANVIL_POLICY_RELOADED") == 2, "the v4 reload")
    assert option_66(lab) == b"http://v4.example.com/$mac.cfg"
    assert kea.popen.poll() is None


def test_unreadable_inventory_keeps_the_previous_policy(lab: Lab, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    write_inventory(tmp_path, 10, "https://prov.example.com/special/desk-12/")
    write_atomically(policy, policy_text("http://v1.example.com/$mac.cfg"))
    kea = hook_kea(lab, tmp_path, policy, multi_threading=True, reload_interval=0.2)

    (tmp_path / "phones.csv").unlink()  # the inventory's source goes away
    wait_for(lambda: "FANVIL_POLICY_RELOAD_FAILED" in kea.log(), "the failed reload")
    log = kea.log()
    assert "phones.csv" in log and "No such file or directory" in log, log
    # The phone in the inventory still gets its own URL: the previous policy is in force.
    assert option_66(lab, DEVICE) == b"https://prov.example.com/special/desk-12/"
    assert option_66(lab) == b"http://v1.example.com/$mac.cfg"
    time.sleep(1)
    assert kea.log().count("FANVIL_POLICY_RELOAD_FAILED") == 1  # once, not once per check
    assert statistic(kea.control_socket, "pkt4-fanvil-errors") == 0

    write_inventory(tmp_path, 10, "https://prov.example.com/special/desk-12-back/")
    wait_for(lambda: "FANVIL_POLICY_RELOADED" in kea.log(), "the reload once it is back")
    assert option_66(lab, DEVICE) == b"https://prov.example.com/special/desk-12-back/"


def test_config_reload_with_a_broken_policy_keeps_the_previous_one(
    lab: Lab, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    write_inventory(tmp_path, 10, "https://prov.example.com/special/desk-12/")
    write_atomically(policy, policy_text("http://v1.example.com/$mac.cfg"))
    kea = hook_kea(lab, tmp_path, policy, multi_threading=False, reload_interval=0)

    write_atomically(policy, policy_text("gopher://v2.example.com/"))
    answer = kea_command(kea.control_socket, "config-reload")
    assert answer["result"] == 0, answer
    log = kea.log()
    assert "FANVIL_POLICY_KEPT" in log and "gopher" in log, log
    assert "DHCP4_CONFIG_UNRECOVERABLE_ERROR" not in log
    assert option_66(lab) == b"http://v1.example.com/$mac.cfg"

    # World-readable with a password: served, and warned about without the password.
    url = f"http://phone:{SECRET}@v3.example.com/$mac.cfg"
    write_atomically(policy, policy_text(url))
    os.chmod(policy, 0o644)
    answer = kea_command(kea.control_socket, "config-reload")
    assert answer["result"] == 0, answer
    assert option_66(lab) == url.encode()  # the phone needs the real password
    log = kea.log()
    assert "FANVIL_POLICY_WARNING" in log and "readable by every user" in log, log
    assert "phone:****@v3.example.com" in log
    assert SECRET not in log
    assert kea.popen.poll() is None
