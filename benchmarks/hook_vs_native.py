"""Kea with the hook against Kea with native client classes, side by side, with perfdhcp.

    .venv/bin/python benchmarks/hook_vs_native.py                  # 3 rounds, threads off and on
    .venv/bin/python benchmarks/hook_vs_native.py --rounds 5 --duration 8

Builds a two-namespace lab (198.18.0.0/15 only), then for each threading mode and round starts
in turn (order alternating between rounds):
  A  kea-dhcp4 with the policy rendered as native client classes (`kea-fanvil render kea`);
  B  kea-dhcp4 with libdhcp_fanvil.so and the same policy plus 100,000 inventory devices,
and drives each with perfdhcp playing Fanvil phones (option 60 "Fanvil X4 ...", MACs under
0c:38:3e, -R clients). For each server it finds the highest offered DORA rate with under 0.1%
drops (a search over rates, each step a full perfdhcp run), and reports the median ratio B/A.
Before measuring, one phone's DORA checks that the server really sends the options.

Also reported: kea-dhcp4's resident memory with and without the hook, and the time a
`config-reload` takes with the 100,000-device policy. Needs root and Debian's kea packages.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "integration"))

from daemons import kea_command, kea_config, perfdhcp_argv, start_kea  # noqa: E402
from lab import KeaServer, Lab, client_dora, netns_pair  # noqa: E402

from kea_fanvil import load_policy  # noqa: E402
from kea_fanvil.kea_hook import build as hook_build  # noqa: E402
from kea_fanvil.render import kea as render_kea  # noqa: E402

POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
delivery:
  option_66: true
  option_43: string
  custom_option: 160
  always_send: true
"""
VENDOR_CLASS = b"Fanvil X4 2.10.2.6887"
URL = b"http://prov.example.com/fanvil/$mac.cfg"
DROP_LIMIT = 0.001  # 0.1%


def _mac(i: int) -> str:
    return f"0c:38:3e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def write_policies(folder: Path, devices: int) -> tuple[Path, Path]:
    native = folder / "native-policy.yaml"
    native.write_text(POLICY)
    with (folder / "phones.csv").open("w") as out:
        out.write("mac,boot_file\n")
        for i in range(devices):
            out.write(f"{_mac(i)},desk-{i}.cfg\n")
    hooked = folder / "hook-policy.yaml"
    hooked.write_text(POLICY + "devices_file: phones.csv\n")
    return native, hooked


def _base_config(lab: Lab, multi_threading: bool) -> dict[str, Any]:
    config = kea_config(lab, multi_threading=multi_threading, valid_lifetime=3600)
    dhcp4 = config["Dhcp4"]
    # One big subnet so that the pool never runs out, and no lease file or per-lease log line:
    # the benchmark measures packet handling, not the disk.
    dhcp4["subnet4"] = [
        {
            "id": 1,
            "subnet": "198.18.0.0/15",
            "interface": lab.srv_if,
            "pools": [{"pool": "198.18.128.0 - 198.19.255.254"}],
        }
    ]
    dhcp4["lease-database"] = {"type": "memfile", "persist": False, "lfc-interval": 0}
    dhcp4["loggers"].append(
        {"name": "kea-dhcp4.leases", "severity": "WARN", "output_options": [{"output": "stdout"}]}
    )
    return config


def native_config(lab: Lab, policy: Path, multi_threading: bool) -> dict[str, Any]:
    config = _base_config(lab, multi_threading)
    fragment = json.loads(render_kea.render(load_policy(policy), None))["Dhcp4"]
    config["Dhcp4"]["client-classes"] = fragment["client-classes"]
    return config


def hook_config(
    lab: Lab, policy: Path, multi_threading: bool, inventory: Path | None = None
) -> dict[str, Any]:
    """B's configuration; `inventory` None turns the hook's inventory of phones seen off."""
    config = _base_config(lab, multi_threading)
    library = str(hook_build.installed_path())
    parameters = {"policy": str(policy), "inventory": str(inventory) if inventory else ""}
    config["Dhcp4"]["hooks-libraries"] = [{"library": library, "parameters": parameters}]
    return config


def perfdhcp(lab: Lab, rate: int, duration: int, clients: int) -> float:
    """Run perfdhcp at `rate` DORA/s; return the fraction of exchanges dropped."""
    argv = perfdhcp_argv(lab, rate, clients, duration, VENDOR_CLASS)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=False)
    sent = [int(x) for x in re.findall(r"sent packets: (\d+)", done.stdout)]
    received = [int(x) for x in re.findall(r"received packets: (\d+)", done.stdout)]
    if len(sent) < 2 or sent[0] == 0:
        raise RuntimeError(f"perfdhcp gave no statistics:\n{done.stdout}\n{done.stderr}")
    # A DORA completes when its ACK arrives: compare ACKs to DISCOVERs sent.
    return 1.0 - received[1] / sent[0]


def max_rate(lab: Lab, args: argparse.Namespace, log: Callable[[str], None]) -> int:
    """The highest rate with under 0.1% drops, found by bisection between the bounds."""
    low, high = args.min_rate, args.max_rate
    perfdhcp(lab, low, 1, args.clients)  # warm-up (ARP, first leases, caches): not counted
    # The lower bound must hold twice in a row to count as failed: one stray drop is noise.
    if all(perfdhcp(lab, low, args.duration, args.clients) >= DROP_LIMIT for _ in range(2)):
        log(f"    even {low} DORA/s drops more than 0.1%")
        return 0
    while high - low > args.precision:
        mid = (low + high) // 2
        dropped = perfdhcp(lab, mid, args.duration, args.clients)
        log(f"    {mid:>6} DORA/s: {dropped:.3%} dropped")
        if dropped < DROP_LIMIT:
            low = mid
        else:
            high = mid
    return low


def check_options(lab: Lab) -> None:
    result = client_dora(lab, "0c:38:3e:ff:ff:01", VENDOR_CLASS, bytes([1, 3, 6]))
    for code in (43, 66, 160):
        if result.ack.option(code) != URL:
            raise RuntimeError(f"the server does not send option {code}: {result.ack}")


def rss_kib(server: KeaServer) -> int:
    status = Path(f"/proc/{server.popen.pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--devices", type=int, default=100_000, help="inventory in B's policy")
    parser.add_argument("--duration", type=int, default=5, help="seconds per perfdhcp run")
    parser.add_argument("--clients", type=int, default=50_000, help="perfdhcp -R")
    parser.add_argument("--min-rate", type=int, default=500)
    parser.add_argument("--max-rate", type=int, default=8000)
    parser.add_argument("--precision", type=int, default=100, help="stop the search at this width")
    parser.add_argument("--threads", default="off,on", help="threading modes: off, on or off,on")
    parser.add_argument(
        "--no-inventory", action="store_true", help="B without the inventory of phones seen"
    )
    args = parser.parse_args()

    def log(line: str) -> None:
        print(line, flush=True)

    results: dict[str, list[tuple[int, int]]] = {}
    memory: dict[str, int] = {}
    reloads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kf-bench-") as tmp_name:
        tmp = Path(tmp_name)
        native_policy, hook_policy = write_policies(tmp, args.devices)
        for mode in args.threads.split(","):
            mt = mode == "on"
            results[mode] = []
            for round_no in range(args.rounds):
                order = [("A", native_config, native_policy), ("B", hook_config, hook_policy)]
                if round_no % 2:
                    order.reverse()
                rates: dict[str, int] = {}
                for name, make, policy in order:
                    with netns_pair("kfbench") as lab:
                        run_dir = tmp / f"{mode}-{round_no}-{name}"
                        run_dir.mkdir()
                        config = make(lab, policy, mt)
                        if name == "B" and not args.no_inventory:
                            config = hook_config(lab, policy, mt, run_dir / "phones.db")
                        server = start_kea(lab, config, run_dir)
                        check_options(lab)
                        memory.setdefault(name, rss_kib(server))
                        if name == "B" and not reloads:
                            started = time.perf_counter()
                            kea_command(server.control_socket, "config-reload")
                            reloads.append(time.perf_counter() - started)
                            check_options(lab)
                        log(f"threads {mode}, round {round_no + 1}, server {name}:")
                        rates[name] = max_rate(lab, args, log)
                        log(f"  {name}: {rates[name]} DORA/s")
                results[mode].append((rates["A"], rates["B"]))

    print()
    print(
        f"kea-dhcp4 2.2.0, perfdhcp in a second namespace, {args.rounds} rounds, "
        f"{args.duration} s per step, drops < 0.1%, "
        f"B's inventory of phones seen {'off' if args.no_inventory else 'on'}"
    )
    print(f"{'threads':<8} {'A native (DORA/s)':>18} {'B hook (DORA/s)':>16} {'B/A median':>11}")
    for mode, pairs in results.items():
        ratios = [b / a for a, b in pairs if a]
        a_med = statistics.median(a for a, _ in pairs)
        b_med = statistics.median(b for _, b in pairs)
        ratio = statistics.median(ratios) if ratios else float("nan")
        print(f"{mode:<8} {a_med:>18.0f} {b_med:>16.0f} {ratio:>11.3f}   rounds: {pairs}")
    print(
        f"RSS after start: A {memory.get('A', 0) / 1024:.1f} MiB, "
        f"B {memory.get('B', 0) / 1024:.1f} MiB "
        f"(+{(memory.get('B', 0) - memory.get('A', 0)) / 1024:.1f} MiB for the hook, "
        f"Python and {args.devices:,} devices)"
    )
    if reloads:
        print(f"config-reload with {args.devices:,} devices: {reloads[0]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
