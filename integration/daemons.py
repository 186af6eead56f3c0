"""The real servers in a lab's server namespace: their configurations, their start and stop,
perfdhcp's command line, and Kea's control channel (helpers, not tests).

Each start checks the configuration with the program itself first, waits until it serves, and
copies its log into the test's tmp_path; the lab (lab.py) stops every process it started.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from lab import (
    DIRECT_POOL,
    RELAYED_POOL,
    KeaServer,
    Lab,
    ServerProcess,
    lab_numbers,
    retire_files,
    run_command,
    server_env,
)

from kea_fanvil import kea_install
from kea_fanvil.render.kea import control_socket as control_socket_config

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
            env=env or server_env(),
        )
    deadline = time.monotonic() + timeout
    while True:
        if popen.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {popen.returncode} while starting\n"
                + logs_text(out_path, log_path)
            )
        if ready_text in _read(log_path) and _listening_67(lab):
            return popen
        if time.monotonic() > deadline:
            popen.kill()
            popen.wait()
            raise RuntimeError(
                f"{name} not ready after {timeout:g} s (no {ready_text!r} or no UDP :67)\n"
                + logs_text(out_path, log_path)
            )
        time.sleep(0.02)


def logs_text(*paths: Path) -> str:
    return "".join(f"--- {path} ---\n{_read(path)}\n" for path in dict.fromkeys(paths))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _listening_67(lab: Lab) -> bool:
    done = run_command(*lab.exec_argv(lab.srv_ns, "ss", "-Hlun", "sport = :67"), check=False)
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


def start_kea(
    lab: Lab, config: dict[str, Any], tmp_path: Path, http_port: int | None = None
) -> KeaServer:
    """Write `config` (paths redirected to this server's own files in Kea's folders) and run
    kea-dhcp4 in the server namespace; the configuration file and pid file stay in tmp_path.
    `http_port` (Kea 3.0, which serves its control channel over HTTP itself): also an HTTP
    control socket on the server namespace's 127.0.0.1 at that port."""
    config = copy.deepcopy(config)
    dhcp4 = config["Dhcp4"]
    log_path, lease_file, control_socket = kea_files(f"{lab.name}-{next(lab_numbers)}")
    dhcp4.setdefault("lease-database", {"type": "memfile"})["name"] = str(lease_file)
    # 2.x: one `control-socket`; 3.0: a `control-sockets` list (2.6 refuses the list).
    dhcp4.pop("control-socket", None)
    dhcp4.pop("control-sockets", None)
    kea = kea_install.installed()
    dhcp4.update(control_socket_config(kea, str(control_socket)))
    if http_port is not None:
        if not kea.control_sockets_list:
            raise ValueError(f"Kea {kea.version} serves no HTTP control socket: kea-ctrl-agent")
        dhcp4["control-sockets"].append(
            {"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": http_port}
        )
    for logger in dhcp4.get("loggers", []):
        for output in logger.get("output_options", []):
            output["output"] = str(log_path)
    for hook in dhcp4.get("hooks-libraries", []):
        if hook["library"].endswith("libdhcp_fanvil.so"):
            # Never the machine's default inventory (/var/lib/kea): each test its own.
            hook.setdefault("parameters", {}).setdefault("inventory", str(tmp_path / "phones.db"))
    config_path = tmp_path / "kea-dhcp4.json"
    config_path.write_text(json.dumps(config, indent=2))
    env = server_env(KEA_PIDFILE_DIR=str(tmp_path), KEA_LOCKFILE_DIR=str(tmp_path))
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


def free_port() -> int:
    """A TCP port free on this namespace's loopback now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_ctrl_agent(lab: Lab, kea_socket: Path, tmp_path: Path) -> tuple[ServerProcess, str]:
    """kea-ctrl-agent (Kea 2.x's HTTP control channel) on this machine's loopback, in front of
    the kea-dhcp4 control socket `kea_socket`; (the agent, its URL). Its log goes where Kea's
    logs must (2.6.3+), under a name of its own."""
    kea = kea_install.installed()
    log_path = kea.log_dir / f"{lab.name}-agent-{next(lab_numbers)}.log"
    port = free_port()
    config = {
        "Control-agent": {
            "http-host": "127.0.0.1",
            "http-port": port,
            "control-sockets": {"dhcp4": {"socket-type": "unix", "socket-name": str(kea_socket)}},
            "loggers": [
                {
                    "name": "kea-ctrl-agent",
                    "severity": "INFO",
                    "output_options": [{"output": str(log_path)}],
                }
            ],
        }
    }
    config_path = tmp_path / "kea-ctrl-agent.json"
    config_path.write_text(json.dumps(config, indent=2))
    out_path = tmp_path / "kea-ctrl-agent.out"
    with out_path.open("wb") as out:
        popen = subprocess.Popen(
            ["kea-ctrl-agent", "-c", str(config_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(KEA_PIDFILE_DIR=str(tmp_path), KEA_LOCKFILE_DIR=str(tmp_path)),
        )
    agent = ServerProcess(
        name="kea-ctrl-agent",
        popen=popen,
        log_path=log_path,
        files=[log_path],
        log_copy=tmp_path / "kea-ctrl-agent.log",
    )
    lab.processes.append(agent)
    deadline = time.monotonic() + 10
    while "CTRL_AGENT_HTTP_SERVICE_STARTED" not in _read(log_path):
        if popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("kea-ctrl-agent did not start\n" + logs_text(out_path, log_path))
        time.sleep(0.05)
    return agent, f"http://127.0.0.1:{port}/"


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


def perfdhcp_counts(output: str) -> tuple[list[int], list[int]]:
    """perfdhcp -4's (sent, received) for DISCOVER-OFFER and REQUEST-ACK, from its report."""
    sent = [int(x) for x in re.findall(r"sent packets: (\d+)", output)]
    received = [int(x) for x in re.findall(r"received packets: (\d+)", output)]
    assert len(sent) == 2 and len(received) == 2, output
    return sent, received


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
