"""The PnP lab (helpers, not tests): the namespace pair of `lab.py` with multicast routed over
the veth, `kea-fanvil pnp serve` in the server namespace, and phones in the client namespace:
our probe, SIPp with `sipp/pnp_subscribe.xml`, and `pnp_sender.py` (floods and garbage).

    <name>-srv  kfsrv0 198.18.0.1/24, 198.18.64.1/18   224.0.0.0/4 dev kfsrv0; the responder
         |  veth
    <name>-cli  kfcli0 198.18.0.2/24, 198.18.64.2/18   224.0.0.0/4 dev kfcli0; the phones

Multicast goes only to 224.0.1.75 and never leaves the two namespaces. The pytest process
never changes namespace: everything inside runs under `ip netns exec`.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import Lab, ServerProcess, netns_pair, run_command, run_json_in_netns, server_env

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "sipp" / "pnp_subscribe.xml"
SENDER = HERE / "pnp_sender.py"
KEA_FANVIL = Path(sys.executable).with_name("kea-fanvil")  # the venv's, as installed
GROUP = "224.0.1.75"
MULTICAST = "224.0.0.0/4"


@contextmanager
def pnp_pair() -> Iterator[Lab]:
    """`lab.netns_pair` plus a multicast route over the veth on both sides."""
    with netns_pair("kf") as lab:
        for ns, iface in ((lab.srv_ns, lab.srv_if), (lab.cli_ns, lab.cli_if)):
            run_command("ip", "-n", ns, "route", "add", MULTICAST, "dev", iface)
        yield lab


@dataclass
class PnpServer(ServerProcess):
    stats_path: Path = Path()

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait_log(self, text: str, count: int = 1, timeout: float = 10.0) -> str:
        """Wait until `text` appears `count` times in the log; return the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if log.count(text) >= count:
                return log
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {count}x {text!r} in the responder's log:\n{log}")
            time.sleep(0.02)

    def stats(self) -> dict[str, Any]:
        """The counters, asked for with SIGUSR1 (which also writes --stats-file)."""
        before = self.log().count("INFO stats: ")
        self.signal(signal.SIGUSR1)
        self.wait_log("INFO stats: ", before + 1)
        data: dict[str, Any] = json.loads(self.stats_path.read_text())
        return data


def start_responder(lab: Lab, policy: Path, tmp_path: Path, *extra: str) -> PnpServer:
    """`kea-fanvil pnp serve POLICY --interface kfsrv0 ...` in the server namespace."""
    log_path = tmp_path / "pnp.log"
    stats_path = tmp_path / "pnp-stats.json"
    argv = [str(KEA_FANVIL), "pnp", "serve", str(policy), "--interface", lab.srv_if]
    argv += ["--stats-file", str(stats_path), *extra]
    with log_path.open("wb") as out:
        popen = subprocess.Popen(
            lab.exec_argv(lab.srv_ns, *argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(),
        )
    server = PnpServer("kea-fanvil pnp", popen, log_path, stats_path=stats_path)
    lab.processes.append(server)
    server.wait_log(f"listening on {GROUP}:5060 ({lab.srv_if})")
    return server


def probe(
    lab: Lab, source: str, mac: str, *extra: str, timeout: float = 2.0, command: str = "pnp"
) -> tuple[int, dict[str, Any]]:
    """`kea-fanvil pnp probe SOURCE --mac MAC --json` as a phone (or, with command "probe",
    `kea-fanvil probe SOURCE --pnp ...`); (exit status, report)."""
    if command == "pnp":
        argv = [str(KEA_FANVIL), "pnp", "probe", source, "--mac", mac, "--json"]
    else:
        argv = [str(KEA_FANVIL), "probe", source, "--pnp", "--mac", mac, "--json"]
    argv += ["--timeout", str(timeout), "--show-secrets", *extra]
    done = subprocess.run(
        lab.exec_argv(lab.cli_ns, *argv),
        capture_output=True,
        text=True,
        timeout=timeout + 15,
        env=server_env(),
        check=False,
    )
    if done.returncode not in (0, 1) or not done.stdout:
        raise AssertionError(f"probe failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


def sipp(
    lab: Lab,
    tmp_path: Path,
    source: str,
    mac: str,
    vendor: str = "Fanvil",
    model: str = "C62",
    timeout: float = 3.0,
) -> tuple[int, str | None]:
    """One SIPp UAC call of `sipp/pnp_subscribe.xml` from `source`; (exit status, URL seen).

    SIPp exits 0 when the call passed every check of the scenario (200 OK, a NOTIFY with
    Content-Type application/url and Subscription-State terminated, a body).
    """
    log = tmp_path / f"sipp-{mac.replace(':', '')}-{source}.log"
    argv = [
        "sipp",
        f"{GROUP}:5060",
        "-sf",
        str(SCENARIO),
        "-i",
        source,
        "-bind_local",
        "-m",
        "1",
        *("-key", "mac", mac.replace(":", "")),
        *("-key", "vendor", vendor),
        *("-key", "model", model),
        *("-key", "firmware", "2.4.1"),
        "-trace_logs",
        "-log_file",
        str(log),
        "-timeout",
        f"{timeout:g}",
        "-timeout_error",
        "-nostdin",
    ]
    done = subprocess.run(
        lab.exec_argv(lab.cli_ns, *argv),
        capture_output=True,
        text=True,
        timeout=timeout + 15,
        cwd=tmp_path,  # SIPp writes its error and screen files beside it
        env=server_env(),
        check=False,
    )
    found = re.search(r"^NOTIFY-URL (.*)$", log.read_text() if log.exists() else "", re.M)
    return done.returncode, found[1] if found else None


def send(lab: Lab, source: str, mode: str, count: int, seed: int = 8) -> dict[str, Any]:
    """Run `pnp_sender.py` in the client namespace; its JSON report."""
    argv = [sys.executable, str(SENDER), mode, source, GROUP, str(count), str(seed)]
    code, report, stderr = run_json_in_netns(lab.cli_ns, argv)
    if code != 0 or not isinstance(report, dict):
        raise AssertionError(f"pnp_sender.py {mode} failed ({code}):\n{stderr}")
    return report
