"""The demo lab: real kea-dhcp4 with our hook, and phones of several kinds getting their URLs.

Run by `scripts/demo.sh` (after setup). It builds two network namespaces joined by a veth pair
(198.18.0.0/15 addresses only), starts kea-dhcp4 with libdhcp_fanvil.so and the example policy
(dhcp-configs/example-policy.yaml) in one, plays each phone from the other with a full
DISCOVER/OFFER/REQUEST/ACK, prints what each phone received, and removes everything.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from daemons import kea_config, start_kea, statistic
from lab import client_dora, client_dora_relayed, netns_pair
from rich.console import Console
from rich.table import Table

from kea_fanvil.kea_hook import build as hook_build
from kea_fanvil.probe.dhcp_client import DoraResult

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "dhcp-configs" / "example-policy.yaml"
PRL = bytes([1, 3, 6, 15, 42])  # what many phones ask for: not 43, 66, 67 or 160

# (who, MAC, option 60, relayed through 198.18.64.2)
PHONES: list[tuple[str, str, bytes | None, bool]] = [
    ("Fanvil C62, factory (no option 60)", "0c:38:3e:5a:00:01", None, False),
    ("Fanvil X4, re-branded MAC", "02:42:00:00:00:02", b"Fanvil X4 2.10.2.6887", False),
    ("Fanvil X3U on 00:a8:59", "00:a8:59:00:00:03", b"Fanvil X3U", False),
    ("reception desk (inventory)", "0c:38:3e:11:3a:f8", b"Fanvil C58", False),
    ("Fanvil X5S at branch-a (relayed)", "0c:38:3e:5a:00:05", b"Fanvil X5S", True),
    ("Yealink T46 (not ours)", "00:15:65:00:00:06", b"yealink", False),
]


def _text(data: bytes | None) -> str:
    if data is None:
        return "-"
    return data.decode("ascii", "replace") if data.isascii() else data.hex()


def _same(data: bytes | None, as_66: bytes | None) -> str:
    return "same" if data is not None and data == as_66 else _text(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=EXAMPLE, help="policy file to serve")
    parser.add_argument(
        "--single-thread", action="store_true", help="run Kea with multi-threading off"
    )
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 150)
    library = hook_build.installed_path()
    with tempfile.TemporaryDirectory(prefix="kf-demo-") as tmp, netns_pair("kfdemo") as lab:
        config = kea_config(
            lab,
            hooks=[
                {
                    "library": str(library),
                    "parameters": {
                        "policy": str(args.policy.resolve()),
                        "inventory": str(Path(tmp) / "phones.db"),
                    },
                }
            ],
            multi_threading=not args.single_thread,
        )
        kea = start_kea(lab, config, Path(tmp))
        console.print(
            f"kea-dhcp4 running in namespace {lab.srv_ns} with {library.name}, policy "
            f"{args.policy}, multi-threading {'off' if args.single_thread else 'on'}"
        )
        table = Table(title="What each phone received (DHCPACK)")
        for column in ("phone", "MAC", "address", "option 66", "43, 160", "67 / file field"):
            table.add_column(column, overflow="fold", no_wrap=column != "phone")
        for who, mac, vendor_class, relayed in PHONES:
            result: DoraResult
            if relayed:
                result = client_dora_relayed(lab, mac, vendor_class, PRL)
            else:
                result = client_dora(lab, mac, vendor_class, PRL)
            ack = result.ack
            boot = ack.option(67)
            table.add_row(
                who,
                mac,
                str(ack.yiaddr),
                _text(ack.option(66)),
                ", ".join(_same(ack.option(code), ack.option(66)) for code in (43, 160)),
                f"{_text(boot)} / {_text(ack.file or None)}" if boot or ack.file else "-",
            )
        console.print(table)
        stats = {
            name: statistic(kea.control_socket, name)
            for name in ("pkt4-fanvil-matched", "pkt4-fanvil-changed", "pkt4-fanvil-errors")
        }
        console.print("Kea statistics: " + ", ".join(f"{k} = {v}" for k, v in stats.items()))
        # What an admin asks next: which phones did the server see? The hook's inventory.
        inventory = Path(tmp) / "phones.db"
        deadline = time.monotonic() + 5
        while (
            statistic(kea.control_socket, "fanvil-inventory-recorded")
            < stats["pkt4-fanvil-matched"]
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        console.print(f"kea-fanvil devices --db {inventory}:")
        subprocess.run(
            [sys.executable, "-m", "kea_fanvil", "devices", "--db", str(inventory)],
            check=True,
            env={**os.environ, "COLUMNS": str(console.width)},
        )
    console.print("lab removed (namespaces, veth and kea-dhcp4)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
