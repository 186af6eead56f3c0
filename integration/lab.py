"""A two-namespace lab for real DHCP servers and our wire client (helpers, not tests).

    <name>-srv  kfsrv0 198.18.0.1/24, 198.18.64.1/18   the server under test runs here
         |  veth
    <name>-cli  kfcli0 198.18.0.2/24, 198.18.64.2/18   the client (and the "relay" address)

Only 198.18.0.0/15 (RFC 2544 benchmarking) addresses are used, and nothing leaves the two
namespaces. The client runs in a child python under `ip netns exec` (see `run_client.py`): the
pytest process itself never changes namespace. Servers run in the server namespace (daemons.py
starts them), logs in the test's tmp_path; every process is stopped and both namespaces removed
on exit, even on error.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import run_client  # beside this file; integration/ is on sys.path (pytest's rootdir insertion)

from kea_fanvil import errors
from kea_fanvil.errors import DhcpClientError, DhcpNak
from kea_fanvil.probe.dhcp_client import DoraResult

REPO = Path(__file__).resolve().parent.parent
RUN_CLIENT = Path(__file__).resolve().parent / "run_client.py"

SRV_IF = "kfsrv0"
CLI_IF = "kfcli0"
SRV_IP = "198.18.0.1"
SRV_RELAY_IP = "198.18.64.1"
CLI_IP = "198.18.0.2"
RELAY_IP = "198.18.64.2"
DIRECT_POOL = ("198.18.0.100", "198.18.0.199")
RELAYED_POOL = ("198.18.100.10", "198.18.100.200")

lab_numbers = itertools.count()


# --- requirements -------------------------------------------------------------------------------


def missing(*binaries: str) -> str | None:
    """Why the lab cannot run here (not root, a binary missing), or None."""
    if os.geteuid() != 0:
        return "integration tests need root (network namespaces, raw sockets)"
    absent = [b for b in binaries if shutil.which(b, path=_PATH) is None]
    if absent:
        return f"integration tests need {', '.join(absent)} (not found)"
    return None


# Programs a Debian release may no longer ship, by package: ISC dhcpd reached its end of life
# and Debian 14 (forky) dropped isc-dhcp-server.
PACKAGE_OF = {"dhcpd": "isc-dhcp-server"}


def not_packaged(binary: str) -> str | None:
    """Why `binary` is absent with good reason (its package is not in this release's archive,
    so setup.sh could not install it), or None when it is installed or merely missing."""
    package = PACKAGE_OF.get(binary)
    if package is None or shutil.which(binary, path=_PATH) is not None:
        return None
    done = subprocess.run(
        ["apt-cache", "policy", package], capture_output=True, text=True, check=False
    )
    if re.search(r"Candidate: [^(\s]", done.stdout):
        return None  # installable: its absence is a setup fault, not the release's choice
    release = _os_release().get("PRETTY_NAME", "this Debian release")
    return f"{binary} is absent: {release} does not ship {package}"


def _os_release() -> dict[str, str]:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return {}
    return {k: v.strip('"') for k, _, v in (line.partition("=") for line in text.splitlines())}


def require(*binaries: str) -> None:
    """Skip the test if the lab cannot run; fail instead when the CI variable is set, unless
    what is missing is a program this Debian release does not ship (then skip, saying so)."""
    reason = missing(*binaries)
    if reason is None:
        return
    unshipped = [why for why in map(not_packaged, binaries) if why]
    if unshipped and missing(*(b for b in binaries if not not_packaged(b))) is None:
        pytest.skip("; ".join(unshipped))
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this is an error, not a skip")
    pytest.skip(reason)


_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def run_command(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, env=server_env(), check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PATH=_PATH)
    env.update(extra)
    return env


# --- namespaces ---------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A server started in the lab; `stop()` terminates, waits, then kills."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    # Files of the server's own outside the test's tmp_path (Kea's, in Kea's folders), removed
    # when it stops; the log is first copied to `log_copy` (in tmp_path, where pytest keeps it).
    files: list[Path] = field(default_factory=list)
    log_copy: Path | None = None

    def log(self) -> str:
        for path in (self.log_path, self.log_copy):
            if path is not None and path.exists():
                return path.read_text(errors="replace")
        return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        retire_files(self.log_path, self.log_copy, self.files)
        self.files = []


@dataclass
class KeaServer(ServerProcess):
    control_socket: Path = Path()
    lease_file: Path = Path()
    config_path: Path = Path()


@dataclass
class Lab:
    """Names and addresses of one namespace pair."""

    name: str
    srv_ns: str
    cli_ns: str
    srv_if: str = SRV_IF
    cli_if: str = CLI_IF
    srv_ip: str = SRV_IP
    srv_relay_ip: str = SRV_RELAY_IP
    cli_ip: str = CLI_IP
    relay_ip: str = RELAY_IP
    processes: list[ServerProcess] = field(default_factory=list)

    def exec_argv(self, ns: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]


@contextmanager
def netns_pair(prefix: str = "kf") -> Iterator[Lab]:
    """Create `<prefix><pid>x<n>-srv` and `-cli` joined by a veth pair; always remove them."""
    name = f"{prefix}{os.getpid()}x{next(lab_numbers)}"
    lab = Lab(name=name, srv_ns=f"{name}-srv", cli_ns=f"{name}-cli")
    created: list[str] = []
    try:
        for ns in (lab.srv_ns, lab.cli_ns):
            run_command("ip", "netns", "add", ns)
            created.append(ns)
        # Created inside the server namespace, peer moved straight into the client's: nothing
        # ever appears in the caller's namespace, so names cannot clash with other labs.
        veth = f"link add {lab.srv_if} type veth peer name {lab.cli_if} netns {lab.cli_ns}"
        run_command("ip", "-n", lab.srv_ns, *veth.split())
        for ns, iface, addresses in (
            (lab.srv_ns, lab.srv_if, (f"{lab.srv_ip}/24", f"{lab.srv_relay_ip}/18")),
            (lab.cli_ns, lab.cli_if, (f"{lab.cli_ip}/24", f"{lab.relay_ip}/18")),
        ):
            for address in addresses:
                run_command("ip", "-n", ns, "addr", "add", address, "dev", iface)
            run_command("ip", "-n", ns, "link", "set", "lo", "up")
            run_command("ip", "-n", ns, "link", "set", iface, "up")
        yield lab
    finally:
        for process in reversed(lab.processes):
            process.stop()
        for ns in created:
            kill_leftovers(ns)
            run_command("ip", "netns", "del", ns, check=False)


def kill_leftovers(ns: str) -> None:
    """Kill processes still inside a namespace we created (all started by this lab)."""
    done = run_command("ip", "netns", "pids", ns, check=False)
    for pid in done.stdout.split():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def retire_files(log_path: Path, log_copy: Path | None, files: list[Path]) -> None:
    """Copy a server's log to `log_copy` (where pytest keeps it), then remove its files and
    what Kea made beside them (lease file generations, the log's lock and rotated copies)."""
    if log_copy is not None and log_path.exists():
        with suppress(OSError):
            shutil.copyfile(log_path, log_copy)
    for path in files:
        for found in path.parent.glob(f"{path.name}*"):
            with suppress(FileNotFoundError):
                found.unlink()


# --- the client, run in the client namespace ----------------------------------------------------


def run_json_in_netns(ns: str, argv: list[str], timeout: float = 60.0) -> tuple[int, Any, str]:
    """Run a helper (`argv`, usually this Python and a script) in namespace `ns`, with the
    repository on its path; (exit status, its stdout read as JSON or None, its stderr)."""
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        ["ip", "netns", "exec", ns, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=server_env(PYTHONPATH=pythonpath),
        check=False,
    )
    try:
        reply = json.loads(done.stdout) if done.returncode == 0 else None
    except json.JSONDecodeError:
        reply = None
    return done.returncode, reply, done.stderr


def call_in_netns(ns: str, call: str, process_timeout: float = 30.0, **kwargs: Any) -> Any:
    """Run `kea_fanvil.probe.dhcp_client.<call>(**kwargs)` in namespace `ns`; return its result.

    The child's DhcpClientError subclasses are raised again here with the same class.
    """
    request = json.dumps({"call": call, "kwargs": run_client.encode(kwargs)})
    code, reply, stderr = run_json_in_netns(
        ns, [sys.executable, str(RUN_CLIENT), request], process_timeout
    )
    if code != 0 or not isinstance(reply, dict):
        raise RuntimeError(f"client {call} crashed ({code}):\n{stderr}")
    if "error" in reply:
        error_type = getattr(errors, reply["error"]["type"], DhcpClientError)
        if error_type is DhcpNak:
            error_type = DhcpClientError
        raise error_type(reply["error"]["message"])
    return run_client.decode(reply["result"])


def client_dora(
    lab: Lab,
    mac: str,
    vendor_class: bytes | None = None,
    prl: bytes | None = None,
    timeout: float = 1.0,
    retries: int = 2,
    iface: str | None = None,
) -> DoraResult:
    """`dhcp_client.dora` on the client side of the lab."""
    result: DoraResult = call_in_netns(
        lab.cli_ns,
        "dora",
        iface=iface or lab.cli_if,
        mac=mac,
        vendor_class=vendor_class,
        prl=prl,
        timeout=timeout,
        retries=retries,
    )
    return result


def client_dora_relayed(
    lab: Lab,
    mac: str,
    vendor_class: bytes | None = None,
    prl: bytes | None = None,
    timeout: float = 1.0,
    retries: int = 2,
) -> DoraResult:
    """`dhcp_client.dora_relayed` from the client's relay address to the server."""
    result: DoraResult = call_in_netns(
        lab.cli_ns,
        "dora_relayed",
        iface_src_ip=lab.relay_ip,
        server_ip=lab.srv_ip,
        giaddr=lab.relay_ip,
        mac=mac,
        vendor_class=vendor_class,
        prl=prl,
        timeout=timeout,
        retries=retries,
    )
    return result


def client_release(lab: Lab, mac: str, lease: DoraResult) -> None:
    """`dhcp_client.release` of `lease` on the client side of the lab."""
    call_in_netns(lab.cli_ns, "release", iface=lab.cli_if, mac=mac, lease=lease)


def client_release_relayed(lab: Lab, mac: str, lease: DoraResult) -> None:
    """`dhcp_client.release_relayed` of `lease` from the client's relay address."""
    call_in_netns(
        lab.cli_ns,
        "release_relayed",
        iface_src_ip=lab.relay_ip,
        mac=mac,
        lease=lease,
        giaddr=lab.relay_ip,
    )
