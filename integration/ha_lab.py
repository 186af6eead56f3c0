"""A three-namespace lab for a Kea high-availability pair (helpers, not tests).

    <name>-pri   kfsrv0 198.18.0.1/24   primary kea-dhcp4, HA listener :8001
                   |  veth
    <name>-cli   kfbr0  bridge, ports kfpri0, kfsby0, kfph0: one L2 segment (a switch)
                   |  veth kfph0 - kfcli0
                 kfcli0 198.18.0.2/24   the phones play here
                   |  veth
    <name>-sby   kfsrv0 198.18.0.3/24   standby kea-dhcp4, HA listener :8001

Both servers see every broadcast the phones send, as two DHCP servers on one VLAN would, and
reach each other's HA listener across the same bridge. Only 198.18.0.0/15 is used. As in
lab.py, the pytest process never changes namespace (everything runs under `ip netns exec`),
and every process is stopped and every namespace removed on exit, even on error.

The phones sit behind their own bridge port, not on the bridge device: Kea's raw socket sends
an OFFER to the phone's MAC (broadcast only in IP), and a bridge floods such a frame to its
ports but does not pass it up to its own device (not its MAC, not broadcast), so an AF_PACKET
client on the bridge device never sees it.

The peers talk over the HA hook's own HTTP listener (Kea 2.2: "multi-threading" inside the HA
relationship, which needs Kea's multi-threading on), so no kea-ctrl-agent is involved.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons import kea_command, kea_config, start_kea
from lab import KeaServer, Lab, kill_leftovers, run_command

from kea_fanvil import kea_install
from kea_fanvil.kea_hook import build as hook_build

PRIMARY_IP = "198.18.0.1"
CLIENT_IP = "198.18.0.2"
STANDBY_IP = "198.18.0.3"
HA_PORT = 8001
BRIDGE = "kfbr0"
SERVER_IF = "kfsrv0"
PHONE_IF = "kfcli0"
PHONE_PORT = "kfph0"
PRIMARY_NAME = "server1"
STANDBY_NAME = "server2"

# The standby declares the primary down max-response-delay after their last successful exchange,
# so 1 to 2 s after a crash with these values (Kea's defaults: 10 s heartbeats, 60 s). With
# max-unacked-clients 0 it does not also wait for phones to go unanswered (the "secs" field
# test): a lost heartbeat is enough, which suits two servers on one segment, not a WAN split.
HA_TIMERS: dict[str, int] = {
    "heartbeat-delay": 500,
    "max-response-delay": 1500,
    "max-ack-delay": 1000,
    "max-unacked-clients": 0,
}

_counter = itertools.count()


@dataclass
class HaLab:
    """Names of one HA lab. `primary` and `standby` are lab.Lab views of each server's half
    (srv_* the server, cli_* the phones' interface), so lab.start_kea and lab.client_dora work
    unchanged on either."""

    name: str
    client_ns: str
    primary: Lab
    standby: Lab

    @property
    def namespaces(self) -> list[str]:
        return [self.primary.srv_ns, self.standby.srv_ns, self.client_ns]

    @property
    def phones(self) -> Lab:
        """What lab.client_dora needs to play a phone. Either view would do: a phone does not
        pick a server, it broadcasts to both, and HA decides which one answers."""
        return self.primary


def _server_view(name: str, suffix: str, client_ns: str, ip: str) -> Lab:
    return Lab(
        name=f"{name}-{suffix}",
        srv_ns=f"{name}-{suffix}",
        cli_ns=client_ns,
        srv_if=SERVER_IF,
        cli_if=PHONE_IF,
        srv_ip=ip,
        cli_ip=CLIENT_IP,
    )


@contextmanager
def ha_namespaces(prefix: str = "kf") -> Iterator[HaLab]:
    """Create the primary, standby and client namespaces and the bridge; always remove them."""
    name = f"{prefix}{os.getpid()}h{next(_counter)}"
    client_ns = f"{name}-cli"
    ha = HaLab(
        name=name,
        client_ns=client_ns,
        primary=_server_view(name, "pri", client_ns, PRIMARY_IP),
        standby=_server_view(name, "sby", client_ns, STANDBY_IP),
    )
    created: list[str] = []
    try:
        for ns in ha.namespaces:
            run_command("ip", "netns", "add", ns)
            created.append(ns)
        _make_bridge(client_ns)
        _attach(ha.primary, "kfpri0")
        _attach(ha.standby, "kfsby0")
        yield ha
    finally:
        for server in (ha.primary, ha.standby):
            for process in reversed(server.processes):
                process.stop()
        for ns in created:
            kill_leftovers(ns)
            run_command("ip", "netns", "del", ns, check=False)


def _make_bridge(ns: str) -> None:
    """The switch, and the phones' interface on one of its ports."""
    # STP off and no forward delay: a port forwards as soon as it is up, so the first DISCOVER
    # is not lost to a learning state.
    run_command("ip", "-n", ns, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0")
    run_command("ip", "-n", ns, "link", "set", BRIDGE, "type", "bridge", "forward_delay", "0")
    run_command("ip", "-n", ns, "link", "add", PHONE_IF, "type", "veth", "peer", "name", PHONE_PORT)
    run_command("ip", "-n", ns, "link", "set", PHONE_PORT, "master", BRIDGE)
    run_command("ip", "-n", ns, "addr", "add", f"{CLIENT_IP}/24", "dev", PHONE_IF)
    for iface in ("lo", BRIDGE, PHONE_PORT, PHONE_IF):
        run_command("ip", "-n", ns, "link", "set", iface, "up")


def _attach(server: Lab, port: str) -> None:
    """A veth from the server's namespace to a bridge port in the client's."""
    # Created in the server namespace with its peer moved straight into the client's, so nothing
    # appears in the caller's namespace (same reason as lab.netns_pair).
    run_command(
        *("ip", "-n", server.srv_ns, "link", "add", server.srv_if, "type", "veth"),
        *("peer", "name", port, "netns", server.cli_ns),
    )
    run_command("ip", "-n", server.cli_ns, "link", "set", port, "master", BRIDGE)
    run_command("ip", "-n", server.cli_ns, "link", "set", port, "up")
    run_command(
        "ip", "-n", server.srv_ns, "addr", "add", f"{server.srv_ip}/24", "dev", server.srv_if
    )
    run_command("ip", "-n", server.srv_ns, "link", "set", "lo", "up")
    run_command("ip", "-n", server.srv_ns, "link", "set", server.srv_if, "up")


# --- Kea configuration --------------------------------------------------------------------------


def kea_hooks_dir() -> Path:
    """Kea's own hooks directory, as the installed kea-dhcp4 reports it (`-W`)."""
    return kea_install.installed().hooks_dir


def peer_url(ip: str) -> str:
    return f"http://{ip}:{HA_PORT}/"


def ha_parameters(this_server: str) -> dict[str, Any]:
    """libdhcp_ha.so's parameters for one peer; both peers differ only in this-server-name."""
    return {
        "high-availability": [
            {
                "this-server-name": this_server,
                "mode": "hot-standby",
                **HA_TIMERS,
                # The listener below takes any command from anyone who reaches it (Kea 2.2's
                # default); only what the peers send each other is wanted there.
                "restrict-commands": True,
                # The hook's own HTTP listener on the peer's url (Kea 2.2 defaults these off and
                # would then expect a kea-ctrl-agent at the url).
                "multi-threading": {
                    "enable-multi-threading": True,
                    "http-dedicated-listener": True,
                    "http-listener-threads": 2,
                    "http-client-threads": 2,
                },
                "peers": [
                    {"name": PRIMARY_NAME, "url": peer_url(PRIMARY_IP), "role": "primary"},
                    {"name": STANDBY_NAME, "url": peer_url(STANDBY_IP), "role": "standby"},
                ],
            }
        ]
    }


def ha_hooks(
    this_server: str,
    fanvil_library: Path,
    policy: Path,
    fanvil_parameters: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The hooks-libraries list of one peer: lease_cmds (HA's lease updates and syncing need its
    lease4-update and lease4-get-page), HA, then our hook with the shared policy (and
    `fanvil_parameters`)."""
    hooks_dir = kea_hooks_dir()
    return [
        {"library": str(hooks_dir / "libdhcp_lease_cmds.so")},
        {"library": str(hooks_dir / "libdhcp_ha.so"), "parameters": ha_parameters(this_server)},
        {
            "library": str(fanvil_library),
            "parameters": {"policy": str(policy), **(fanvil_parameters or {})},
        },
    ]


# --- HA state -----------------------------------------------------------------------------------


def ha_state(server: KeaServer) -> str | None:
    """The server's own HA state ("waiting", "syncing", "hot-standby", "partner-down", ...).

    `ha-heartbeat` sent to the control socket answers with the local state, exactly what the
    partner sees; None while the server cannot answer (not up yet, or killed)."""
    try:
        answer = kea_command(server.control_socket, "ha-heartbeat")
    except OSError:
        return None
    if answer.get("result") != 0:
        return None
    state: str = answer["arguments"]["state"]
    return state


def wait_for_state(server: KeaServer, state: str, timeout: float) -> float:
    """Poll until the server is in HA `state`; return the seconds it took."""
    start = time.monotonic()
    seen: str | None = None
    while time.monotonic() - start < timeout:
        seen = ha_state(server)
        if seen == state:
            return time.monotonic() - start
        if server.popen.poll() is not None:
            raise RuntimeError(f"kea-dhcp4 exited ({server.popen.returncode})\n{server.log()}")
        time.sleep(0.05)
    raise TimeoutError(
        f"HA state still {seen!r}, not {state!r}, after {timeout:g} s\n{server.log()}"
    )


def kill_hard(server: KeaServer) -> None:
    """SIGKILL, as a crash or a power cut: no shutdown, no goodbye to the partner."""
    # `ip netns exec` execs the command, so the Popen's pid is kea-dhcp4 itself.
    server.popen.send_signal(signal.SIGKILL)
    server.popen.wait(timeout=5)


# --- the peers ----------------------------------------------------------------------------------


def start_peer(
    server: Lab,
    this_server: str,
    policy: Path,
    tmp_path: Path,
    option_data: list[dict[str, Any]] | None = None,
    fanvil_parameters: dict[str, Any] | None = None,
) -> KeaServer:
    """kea-dhcp4 in `server`'s namespace with lease_cmds, HA and our hook, files in tmp_path."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = kea_config(
        server,
        option_data=option_data,
        hooks=ha_hooks(this_server, hook_build.installed_path(), policy, fanvil_parameters),
        # HA's dedicated listener and client threads need Kea's own multi-threading.
        multi_threading=True,
    )
    return start_kea(server, config, tmp_path)


def lease4_get(server: KeaServer, address: str) -> dict[str, Any] | None:
    """The server's lease for `address` (lease_cmds' lease4-get), or None if it has none."""
    answer = kea_command(server.control_socket, "lease4-get", {"ip-address": address})
    if answer.get("result") == 3:  # CONTROL_RESULT_EMPTY: no such lease
        return None
    if answer.get("result") != 0:
        raise RuntimeError(f"lease4-get {address} failed: {answer}")
    lease: dict[str, Any] = answer["arguments"]
    return lease
