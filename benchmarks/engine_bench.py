"""Engine benchmark: policy load time and decisions per second for a large inventory.

    .venv/bin/python benchmarks/engine_bench.py                 # 100,000 devices, 5 rounds
    .venv/bin/python benchmarks/engine_bench.py --devices 20000 --rounds 3

Goal (issue: foundation): at least 200,000 decisions per second on one core with a policy of
100,000 inventory devices, and such a policy loaded in under 3 seconds. Figures are medians of
the rounds; the YAML-inline inventory is timed at a smaller size to show why large inventories
belong in a CSV `devices_file`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kea_fanvil import Engine, load_policy

HEADER = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
delivery:
  option_66: true
  option_43: string
  custom_option: 160
  always_send: true
sites:
  - name: branch-a
    subnet: 198.18.64.0/18
    url: "http://branch-a.example.com/fanvil/$mac.cfg"
"""


def _mac(i: int) -> str:
    return f"0c:38:3e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def write_csv_policy(folder: Path, devices: int) -> Path:
    with (folder / "phones.csv").open("w") as out:
        out.write("mac,url,boot_file,name\n")
        for i in range(devices):
            url = f"http://prov.example.com/special/{i}/" if i % 10 == 0 else ""
            out.write(f"{_mac(i)},{url},desk-{i}.cfg,desk {i}\n")
    path = folder / "policy.yaml"
    path.write_text(HEADER + "devices_file: phones.csv\n")
    return path


def write_inline_policy(folder: Path, devices: int) -> Path:
    lines = [HEADER, "devices:\n"]
    lines += [f'  - mac: "{_mac(i)}"\n    boot_file: "desk-{i}.cfg"\n' for i in range(devices)]
    path = folder / "inline.yaml"
    path.write_text("".join(lines))
    return path


def requests(devices: int, count: int, seed: int = 7) -> list[tuple[bytes, bytes | None, bytes]]:
    """A mix: 50% inventory, 25% vendor class only, 15% OUI only, 10% not Fanvil."""
    rng = random.Random(seed)
    out: list[tuple[bytes, bytes | None, bytes]] = []
    relay = bytes([198, 18, 64, 2])
    direct = bytes(4)
    for n in range(count):
        roll = rng.random()
        giaddr = relay if n % 5 == 0 else direct
        if roll < 0.50:
            mac = bytes.fromhex(_mac(rng.randrange(devices)).replace(":", ""))
            out.append((mac, b"Fanvil X4 2.10.2.6887", giaddr))
        elif roll < 0.75:
            out.append((rng.randbytes(6), b"Fanvil C62", giaddr))
        elif roll < 0.90:
            out.append((bytes.fromhex("0c383e") + rng.randbytes(3) + b"", None, giaddr))
        else:
            out.append((bytes.fromhex("001565") + rng.randbytes(3), b"yealink", giaddr))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000, help="inventory size")
    parser.add_argument(
        "--inline-devices",
        type=int,
        default=10_000,
        help="inventory size for the YAML-inline comparison",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per figure (median)")
    parser.add_argument("--requests", type=int, default=200_000, help="decisions per round")
    args = parser.parse_args()

    prl = bytes([1, 3, 6, 15, 43, 66])
    yiaddr = bytes([198, 18, 0, 100])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        policy_path = write_csv_policy(folder, args.devices)
        inline_path = write_inline_policy(folder, args.inline_devices)

        loads, compiles = [], []
        engine = None
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            policy = load_policy(policy_path)
            t1 = time.perf_counter()
            engine = Engine(policy)
            t2 = time.perf_counter()
            loads.append(t1 - t0)
            compiles.append(t2 - t1)
        assert engine is not None
        inline = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            Engine(load_policy(inline_path))
            inline.append(time.perf_counter() - t0)

        batch = requests(args.devices, args.requests)
        decide = engine.decide_raw
        matched = sum(1 for mac, vc, gi in batch if decide(mac, vc, prl, gi, yiaddr) is not None)
        rates = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for mac, vc, gi in batch:
                decide(mac, vc, prl, gi, yiaddr)
            rates.append(len(batch) / (time.perf_counter() - t0))

    load_total = statistics.median(a + b for a, b in zip(loads, compiles, strict=True))
    rate = statistics.median(rates)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.rounds} rounds (median)")
    print(f"{'figure':<48} {'value':>14}")
    print(
        f"{'load policy, ' + format(args.devices, ',') + ' devices (CSV)':<48} "
        f"{statistics.median(loads):>12.3f} s"
    )
    print(f"{'compile engine':<48} {statistics.median(compiles):>12.3f} s")
    print(f"{'load + compile':<48} {load_total:>12.3f} s")
    inline_label = f"load + compile, {args.inline_devices:,} devices inline YAML"
    print(f"{inline_label:<48} {statistics.median(inline):>12.3f} s")
    print(f"{'decisions per second (one core)':<48} {rate:>14,.0f}")
    print(f"{'matched share of the mix':<48} {matched / len(batch):>14.1%}")
    ok_rate = rate >= 200_000
    ok_load = load_total < 3.0
    print(
        f"goal >= 200,000 decisions/s: {'met' if ok_rate else 'NOT met'}; "
        f"goal load < 3 s: {'met' if ok_load else 'NOT met'}"
    )
    return 0 if ok_rate and ok_load else 1


if __name__ == "__main__":
    sys.exit(main())
