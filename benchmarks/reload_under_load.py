"""What a policy reload costs phones being served at that moment, three ways side by side.

    .venv/bin/python benchmarks/reload_under_load.py                 # 2 rounds, threads off and on
    .venv/bin/python benchmarks/reload_under_load.py --rate 2000 --devices 100000 --rounds 3

For each threading mode and round, kea-dhcp4 with the hook and a policy with a 100,000-device
inventory is started afresh three times, and perfdhcp plays Fanvil phones at a fixed rate for
`--duration` seconds. A few seconds in, the policy is changed (every inventory row gets a new
boot file) and:

  none           nothing else happens (the baseline);
  watch          the hook's file watcher notices and swaps the new policy in;
  config-reload  Kea's config-reload command reloads the whole configuration, hook included
                 (policy-reload-interval 0 there, so only Kea reloads).

Reported per way: exchanges perfdhcp sent, answers lost (never came within perfdhcp's 5 s
drop time), and the worst and mean DORA delays, with the ratios to the baseline. After each run
one phone's DORA checks that the new policy is in force (not for the baseline). Needs root
and Debian's kea packages; everything stays in two namespaces on 198.18.0.0/15.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "integration"))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import VENDOR_CLASS, hook_config, write_policies  # noqa: E402
from daemons import kea_command, perfdhcp_argv, start_kea  # noqa: E402
from lab import Lab, client_dora, netns_pair  # noqa: E402

WAYS = ("none", "watch", "config-reload")
# The watcher's report of a reload: "... changed and is now in force: <summary> (read in X s)".
READ_IN = re.compile(r"FANVIL_POLICY_RELOADED .*\(read in ([\d.]+) s\)")


def change_inventory(csv_path: Path, generation: int) -> None:
    """Give every row a new boot file; written beside and renamed, as a deploy tool should."""
    lines = csv_path.read_text().splitlines()
    out = [lines[0]] + [row.rsplit(",", 1)[0] + f",desk-g{generation}.cfg" for row in lines[1:]]
    temporary = csv_path.with_name(csv_path.name + ".new")
    temporary.write_text("\n".join(out) + "\n")
    temporary.replace(csv_path)


def perfdhcp(lab: Lab, rate: int, duration: int, clients: int) -> dict[str, float]:
    # Drop time 5 s: a late answer is still an answer. Then wait 5 s for the last ones.
    argv = perfdhcp_argv(lab, rate, clients, duration, VENDOR_CLASS, "-d", "5", "-W", "5000000")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    sent = [int(x) for x in re.findall(r"sent packets: (\d+)", done.stdout)]
    received = [int(x) for x in re.findall(r"received packets: (\d+)", done.stdout)]
    max_delay = [float(x) for x in re.findall(r"max delay: ([\d.]+) ms", done.stdout)]
    avg_delay = [float(x) for x in re.findall(r"avg delay: ([\d.]+) ms", done.stdout)]
    if len(sent) < 2 or not sent[0]:
        raise RuntimeError(f"perfdhcp gave no statistics:\n{done.stdout}\n{done.stderr}")
    return {
        "sent": sent[0],
        "lost": sent[0] - received[1],  # a DORA completes with its ACK
        "max_ms": max(max_delay),
        "avg_ms": sum(avg_delay),  # DISCOVER-OFFER plus REQUEST-ACK
    }


def one_run(
    tmp: Path,
    policy: Path,
    way: str,
    mt: bool,
    args: argparse.Namespace,
    generation: int,
    inventory: bool = False,
    parameters: dict[str, Any] | None = None,
) -> dict[str, float]:
    """One fresh kea-dhcp4 under perfdhcp, the policy changed `args.reload_at` s in (not for
    "none"). `inventory`: the hook records the phones seen (in the run's folder); `parameters`:
    further hook parameters (packet_path.py's variants). For "watch" the result also holds
    read_in_s, the time the watcher took to load and swap in the new policy (its log line)."""
    with netns_pair("kfbench") as lab:
        run_dir = tmp / f"{way}-{'mt' if mt else 'st'}-{generation}"
        run_dir.mkdir()
        hook_parameters: dict[str, Any] = {"policy-reload-interval": 1 if way == "watch" else 0}
        hook_parameters.update(parameters or {})
        database = run_dir / "phones.db" if inventory else None
        config = hook_config(lab, policy, mt, database, hook_parameters)
        server = start_kea(lab, config, run_dir)
        result: dict[str, Any] = {}
        load = threading.Thread(
            target=lambda: result.update(perfdhcp(lab, args.rate, args.duration, args.clients))
        )
        load.start()
        time.sleep(args.reload_at)
        if way != "none":
            change_inventory(policy.parent / "phones.csv", generation)
        if way == "config-reload":
            answer = kea_command(server.control_socket, "config-reload")
            if answer.get("result") != 0:
                raise RuntimeError(f"config-reload failed: {answer}")
        load.join()
        if way != "none":
            got = client_dora(lab, "0c:38:3e:00:00:07", VENDOR_CLASS, bytes([1, 3, 6, 67]))
            if got.ack.file.rstrip(b"\0") != f"desk-g{generation}.cfg".encode():
                raise RuntimeError(f"{way}: the new policy is not in force: {got.ack}")
        if way == "watch":
            read_in = READ_IN.findall(server.log())
            if read_in:
                result["read_in_s"] = float(read_in[-1])
        if server.popen.poll() is not None:
            raise RuntimeError(f"kea-dhcp4 died during {way}:\n{server.log()}")
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000, help="perfdhcp DORA/s")
    parser.add_argument("--duration", type=int, default=10, help="seconds of perfdhcp")
    parser.add_argument("--reload-at", type=float, default=3.0, help="seconds into the run")
    parser.add_argument("--clients", type=int, default=20_000, help="perfdhcp -R")
    parser.add_argument("--threads", default="off,on", help="threading modes: off, on or off,on")
    args = parser.parse_args()

    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    generation = 0
    with tempfile.TemporaryDirectory(prefix="kf-bench-") as tmp_name:
        tmp = Path(tmp_name)
        _, policy = write_policies(tmp, args.devices)
        for mode in args.threads.split(","):
            for round_no in range(args.rounds):
                order = list(WAYS) if round_no % 2 == 0 else list(reversed(WAYS))
                for way in order:
                    generation += 1
                    got = one_run(tmp, policy, way, mode == "on", args, generation)
                    results.setdefault((mode, way), []).append(got)
                    print(f"threads {mode}, round {round_no + 1}, {way:<13} {got}", flush=True)

    print()
    print(
        f"kea-dhcp4 2.2.0 with the hook, {args.devices:,} devices, perfdhcp at {args.rate} "
        f"DORA/s for {args.duration} s, policy changed {args.reload_at:g} s in; "
        f"medians of {args.rounds} rounds"
    )
    print(
        f"{'threads':<8} {'way':<14} {'sent':>6} {'lost':>5} {'max ms':>8} {'avg ms':>7} "
        f"{'max/base':>9} {'avg/base':>9}"
    )
    for mode in args.threads.split(","):
        base = results[(mode, "none")]
        base_max = statistics.median(r["max_ms"] for r in base)
        base_avg = statistics.median(r["avg_ms"] for r in base)
        for way in WAYS:
            runs = results[(mode, way)]
            mx = statistics.median(r["max_ms"] for r in runs)
            avg = statistics.median(r["avg_ms"] for r in runs)
            print(
                f"{mode:<8} {way:<14} {statistics.median(r['sent'] for r in runs):>6.0f} "
                f"{statistics.median(r['lost'] for r in runs):>5.0f} {mx:>8.1f} {avg:>7.2f} "
                f"{mx / base_max:>9.1f} {avg / base_avg:>9.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
