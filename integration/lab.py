"""A two-namespace lab for real DHCP servers and our wire client (helpers, not tests).

    <name>-srv  kfsrv0 198.18.0.1/24, 198.18.64.1/18   the server under test runs here
         |  veth
    <name>-cli  kfcli0 198.18.0.2/24, 198.18.64.2/18   the client (and the "relay" address)

Only 198.18.0.0/15 (RFC 2544 benchmarking) addresses are used, and nothing leaves the two
namespaces. The client runs in a child python under `ip netns exec` (see `run_client.py`): the
pytest process itself never changes namespace. Servers run in the server namespace, logs in the
test's tmp_path; every process is stopped and both namespaces removed on exit, even on error.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import run_client  # beside this file; integration/ is on sys.path (pytest's rootdir insertion)

from kea_fanvil import errors, kea_install
from kea_fanvil.errors import DhcpClientError, DhcpNak
from kea_fanvil.probe.dhcp_client import DoraResult
from kea_fanvil.render.kea import control_socket as control_socket_config

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

_counter = itertools.count()


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


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _env(**extra: str) -> dict[str, str]:
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
    name = f"{prefix}{os.getpid()}x{next(_counter)}"
    lab = Lab(name=name, srv_ns=f"{name}-srv", cli_ns=f"{name}-cli")
    created: list[str] = []
    try:
        for ns in (lab.srv_ns, lab.cli_ns):
            _run("ip", "netns", "add", ns)
            created.append(ns)
        # Created inside the server namespace, peer moved straight into the client's: nothing
        # ever appears in the caller's namespace, so names cannot clash with other labs.
        veth = f"link add {lab.srv_if} type veth peer name {lab.cli_if} netns {lab.cli_ns}"
        _run("ip", "-n", lab.srv_ns, *veth.split())
        for ns, iface, addresses in (
            (lab.srv_ns, lab.srv_if, (f"{lab.srv_ip}/24", f"{lab.srv_relay_ip}/18")),
            (lab.cli_ns, lab.cli_if, (f"{lab.cli_ip}/24", f"{lab.relay_ip}/18")),
        ):
            for address in addresses:
                _run("ip", "-n", ns, "addr", "add", address, "dev", iface)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "link", "set", iface, "up")
        yield lab
    finally:
        for process in reversed(lab.processes):
            process.stop()
        for ns in created:
            _kill_leftovers(ns)
            _run("ip", "netns", "del", ns, check=False)


def _kill_leftovers(ns: str) -> None:
    """Kill processes still inside a namespace we created (all started by this lab)."""
    done = _run("ip", "netns", "pids", ns, check=False)
    for pid in done.stdout.split():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


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
        env=_env(PYTHONPATH=pythonpath),
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


# --- servers ------------------------------------------------------------------------------------


def _start(
    lab: Lab,
    name: str,
    argv: list[str],
    log_path: Path,
    ready_text: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> subprocess.Popen[bytes]:
    """Start `argv` in the server namespace; return once it logs `ready_text` and holds UDP 67."""
    out_path = tmp_path / f"{name}.out"
    with out_path.open("wb") as out:
        popen = subprocess.Popen(
            lab.exec_argv(lab.srv_ns, *argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env or _env(),
        )
    deadline = time.monotonic() + timeout
    while True:
        if popen.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {popen.returncode} while starting\n"
                + _logs(out_path, log_path)
            )
        if ready_text in _read(log_path) and _listening_67(lab):
            return popen
        if time.monotonic() > deadline:
            popen.kill()
            popen.wait()
            raise RuntimeError(
                f"{name} not ready after {timeout:g} s (no {ready_text!r} or no UDP :67)\n"
                + _logs(out_path, log_path)
            )
        time.sleep(0.02)


def _logs(*paths: Path) -> str:
    return "".join(f"--- {path} ---\n{_read(path)}\n" for path in dict.fromkeys(paths))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _listening_67(lab: Lab) -> bool:
    done = _run(*lab.exec_argv(lab.srv_ns, "ss", "-Hlun", "sport = :67"), check=False)
    return bool(done.stdout.strip())


def kea_config(
    lab: Lab,
    option_data: list[dict[str, Any]] | None = None,
    client_classes: list[dict[str, Any]] | None = None,
    hooks: list[dict[str, Any]] | None = None,
    multi_threading: bool = False,
    option_def: list[dict[str, Any]] | None = None,
    valid_lifetime: int = 3600,
) -> dict[str, Any]:
    """A minimal valid Dhcp4 configuration for the lab (Kea 2.2 to 3.0).

    Subnet 1 (198.18.0.0/24) serves the veth directly; subnet 2 (198.18.64.0/18) is selected by
    giaddr for relayed traffic. `start_kea` fills in the file paths (leases, control socket,
    log) in Kea's own folders.
    """
    dhcp4: dict[str, Any] = {
        # One address only: with an interface name alone Kea opens a raw socket per address
        # (DHCPSRV_MULTIPLE_RAW_SOCKETS_PER_IFACE) and answers every DISCOVER twice.
        "interfaces-config": {
            "interfaces": [f"{lab.srv_if}/{lab.srv_ip}"],
            "dhcp-socket-type": "raw",
        },
        # start_kea names the lease file and adds the control socket (in Kea's folders). An
        # empty socket-name passes `kea-dhcp4 -t` in 2.2 and 2.6 but not in 3.0.
        "lease-database": {"type": "memfile", "persist": True, "lfc-interval": 0},
        "valid-lifetime": valid_lifetime,
        # Reclaim expired leases every second, not every 10 s: from 2.6 a RELEASE expires the
        # lease (lease affinity) and the address counts as assigned until it is reclaimed.
        "expired-leases-processing": {"reclaim-timer-wait-time": 1},
        "subnet4": [
            {
                "id": 1,
                "subnet": "198.18.0.0/24",
                "interface": lab.srv_if,
                "pools": [{"pool": f"{DIRECT_POOL[0]} - {DIRECT_POOL[1]}"}],
            },
            {
                "id": 2,
                "subnet": "198.18.64.0/18",
                "pools": [{"pool": f"{RELAYED_POOL[0]} - {RELAYED_POOL[1]}"}],
            },
        ],
        "multi-threading": {
            "enable-multi-threading": multi_threading,
            "thread-pool-size": 4,
            "packet-queue-size": 64,
        },
        "loggers": [
            {
                "name": "kea-dhcp4",
                "severity": "INFO",
                "output_options": [{"output": "", "flush": True}],
            }
        ],
    }
    if option_data:
        dhcp4["option-data"] = option_data
    if option_def:
        dhcp4["option-def"] = option_def
    if client_classes:
        dhcp4["client-classes"] = client_classes
    if hooks:
        dhcp4["hooks-libraries"] = hooks
    return {"Dhcp4": dhcp4}


def kea_files(stem: str) -> tuple[Path, Path, Path]:
    """(log, lease file, control socket) for one server, where the installed Kea accepts them.

    Kea 2.6.3 and later take log files only in /var/log/kea, lease files only in /var/lib/kea
    and unix sockets only in /run/kea, so the lab uses those folders on every version, as a
    real deployment does, with a name of the server's own; the caller removes the files."""
    kea = kea_install.installed()
    for folder in (kea.log_dir, kea.data_dir, kea.socket_dir):
        if not folder.is_dir():
            # What the packages (and systemd's RuntimeDirectory=kea for /run/kea) would make.
            folder.mkdir(mode=0o750, parents=True)
    return (
        kea.log_dir / f"{stem}.log",
        kea.data_dir / f"{stem}-leases4.csv",
        kea.socket_dir / f"{stem}.sock",
    )


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


def start_kea(lab: Lab, config: dict[str, Any], tmp_path: Path) -> KeaServer:
    """Write `config` (paths redirected to this server's own files in Kea's folders) and run
    kea-dhcp4 in the server namespace; the configuration file and pid file stay in tmp_path."""
    config = copy.deepcopy(config)
    dhcp4 = config["Dhcp4"]
    log_path, lease_file, control_socket = kea_files(f"{lab.name}-{next(_counter)}")
    dhcp4.setdefault("lease-database", {"type": "memfile"})["name"] = str(lease_file)
    # 2.x: one `control-socket`; 3.0: a `control-sockets` list (2.6 refuses the list).
    dhcp4.pop("control-socket", None)
    dhcp4.pop("control-sockets", None)
    dhcp4.update(control_socket_config(kea_install.installed(), str(control_socket)))
    for logger in dhcp4.get("loggers", []):
        for output in logger.get("output_options", []):
            output["output"] = str(log_path)
    for hook in dhcp4.get("hooks-libraries", []):
        if hook["library"].endswith("libdhcp_fanvil.so"):
            # Never the machine's default inventory (/var/lib/kea): each test its own.
            hook.setdefault("parameters", {}).setdefault("inventory", str(tmp_path / "phones.db"))
    config_path = tmp_path / "kea-dhcp4.json"
    config_path.write_text(json.dumps(config, indent=2))
    env = _env(KEA_PIDFILE_DIR=str(tmp_path), KEA_LOCKFILE_DIR=str(tmp_path))
    try:
        popen = _start(
            lab,
            "kea-dhcp4",
            ["kea-dhcp4", "-c", str(config_path)],
            log_path,
            "DHCP4_STARTED",
            tmp_path,
            env=env,
        )
    except BaseException:
        retire_files(log_path, tmp_path / "kea-dhcp4.log", [log_path, lease_file, control_socket])
        raise
    server = KeaServer(
        name="kea-dhcp4",
        popen=popen,
        log_path=log_path,
        files=[log_path, lease_file, control_socket],
        log_copy=tmp_path / "kea-dhcp4.log",
        control_socket=control_socket,
        lease_file=lease_file,
        config_path=config_path,
    )
    lab.processes.append(server)
    return server


def dnsmasq_conf(lab: Lab, extra: str = "") -> str:
    """A dnsmasq configuration serving the direct pool, plus `extra` lines."""
    return (
        f"dhcp-range={DIRECT_POOL[0]},{DIRECT_POOL[1]},255.255.255.0,1h\n"
        "dhcp-authoritative\n"
        f"{extra}"
    )


def start_dnsmasq(lab: Lab, conf_text: str, tmp_path: Path) -> ServerProcess:
    """Run dnsmasq (DHCP only: --port=0, --no-ping, leases and log in tmp_path)."""
    conf = tmp_path / "dnsmasq.conf"
    conf.write_text(conf_text)
    log_path = tmp_path / "dnsmasq.log"
    argv = [
        "dnsmasq",
        "--keep-in-foreground",
        f"--conf-file={conf}",
        "--port=0",
        "--no-ping",
        "--no-resolv",
        "--no-hosts",
        "--user=root",
        f"--interface={lab.srv_if}",
        "--bind-interfaces",
        f"--dhcp-leasefile={tmp_path / 'dnsmasq.leases'}",
        f"--pid-file={tmp_path / 'dnsmasq.pid'}",
        f"--log-facility={log_path}",
        "--log-dhcp",
    ]
    popen = _start(lab, "dnsmasq", argv, log_path, "DHCP, IP range", tmp_path)
    server = ServerProcess(name="dnsmasq", popen=popen, log_path=log_path)
    lab.processes.append(server)
    return server


def dhcpd_conf(lab: Lab, extra: str = "") -> str:
    """An ISC dhcpd configuration for the direct subnet, plus `extra` global statements.

    Only 198.18.0.0/24 is declared: dhcpd refuses an interface whose addresses fall in two
    subnets that are not in one shared-network ("matches multiple shared networks"), and a
    shared-network would let direct clients draw from the relayed pool.
    """
    return (
        "authoritative;\n"
        "ping-check false;\n"
        "default-lease-time 3600;\n"
        "max-lease-time 7200;\n"
        f"{extra}\n"
        "subnet 198.18.0.0 netmask 255.255.255.0 {\n"
        f"  range {DIRECT_POOL[0]} {DIRECT_POOL[1]};\n"
        "}\n"
    )


def start_dhcpd(lab: Lab, conf_text: str, tmp_path: Path) -> ServerProcess:
    """Run ISC dhcpd in the foreground on the server veth (config, leases, pid in tmp_path)."""
    conf = tmp_path / "dhcpd.conf"
    conf.write_text(conf_text)
    leases = tmp_path / "dhcpd.leases"
    leases.touch()
    out_path = tmp_path / "dhcpd.out"  # -d logs to stderr, which _start captures here
    argv = [
        "dhcpd",
        "-4",
        "-f",
        "-d",
        "-cf",
        str(conf),
        "-lf",
        str(leases),
        "-pf",
        str(tmp_path / "dhcpd.pid"),
        lab.srv_if,
    ]
    popen = _start(lab, "dhcpd", argv, out_path, "Server starting service.", tmp_path)
    server = ServerProcess(name="dhcpd", popen=popen, log_path=out_path)
    lab.processes.append(server)
    return server


# --- load -----------------------------------------------------------------------------------------


def perfdhcp_argv(
    lab: Lab, rate: int, clients: int, seconds: int, vendor_class: bytes, *extra: str
) -> list[str]:
    """perfdhcp in the client namespace playing Fanvil phones: `clients` MACs under 0c:38:3e
    sending option 60 `vendor_class`, `rate` DORAs a second for `seconds`."""
    return lab.exec_argv(
        lab.cli_ns,
        *("perfdhcp", "-4", "-l", lab.cli_if, "-r", str(rate), "-R", str(clients)),
        *("-p", str(seconds), *extra, "-o", f"60,{vendor_class.hex()}"),
        *("-b", "mac=0c:38:3e:00:00:00"),
    )


# --- Kea's control channel ----------------------------------------------------------------------


def kea_command(
    socket_path: Path | str, command: str, arguments: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Send one command over Kea's unix control socket and return the decoded answer."""
    message: dict[str, Any] = {"command": command}
    if arguments is not None:
        message["arguments"] = arguments
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(socket_path))
        sock.sendall(json.dumps(message).encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            try:
                answer: dict[str, Any] = json.loads(data)
            except json.JSONDecodeError:
                continue
            return answer
    answer = json.loads(data)
    return answer


def statistic_get_all(socket_path: Path | str) -> dict[str, Any]:
    """Kea's `statistic-get-all`: {name: [[value, timestamp], ...]}."""
    answer = kea_command(socket_path, "statistic-get-all")
    if answer.get("result") != 0:
        raise RuntimeError(f"statistic-get-all failed: {answer}")
    arguments: dict[str, Any] = answer["arguments"]
    return arguments


def wait_for_statistic(kea: KeaServer, name: str, value: int, timeout: float = 5.0) -> None:
    """Until Kea's statistic `name` reads `value` (a failure, with Kea's log, after timeout)."""
    deadline = time.monotonic() + timeout
    while (seen := statistic(kea.control_socket, name)) != value:
        assert time.monotonic() < deadline, f"{name} is {seen}, not {value}\n{kea.log()}"
        time.sleep(0.05)


def statistic(socket_path: Path | str, name: str) -> Any:
    """The latest value of one Kea statistic (0 when Kea has not created it yet)."""
    samples = statistic_get_all(socket_path).get(name)
    return samples[0][0] if samples else 0
