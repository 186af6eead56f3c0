"""What the hook costs Kea per packet: Kea with the hook against Kea alone, side by side.

    .venv/bin/python benchmarks/packet_path.py              # 5 rounds, threads off and on (~35 min)
    .venv/bin/python benchmarks/packet_path.py --quick      # smoke test (~6 min)
    .venv/bin/python benchmarks/packet_path.py --json raw.json --figures a,b

Variants (each a fresh kea-dhcp4, memfile leases not persisted, one 198.18.0.0/15 subnet with
114,431 addresses in its pools):

  bare         Kea alone: no client classes, no hook (sends no provisioning options);
  native       the policy rendered as Kea client classes (`kea-fanvil render kea`);
  hook         libdhcp_fanvil.so, the policy plus a --devices inventory (default 100,000),
               decisions from the C++ table ("decisions": "table", the default), inventory of
               phones seen on (SQLite in the run's folder);
  hook-noinv   the same with the inventory of phones seen off ("inventory": "");
  hook-python  the same as hook but with "decisions": "python" (Python decides every
               response: the old path). Skipped, with a note, if the installed hook does not
               know the parameter.

perfdhcp plays --clients Fanvil phones (MACs under 0c:38:3e, option 60 "Fanvil X4 2.10.2.6887")
from a second network namespace; nothing leaves the two namespaces (198.18.0.0/15).

Figures, each per threading mode (Kea multi-threading off, and on with 4 threads and a packet
queue of 64), each sample from a fresh kea-dhcp4, variants alternating within each round (the
order rotates by one each round, so over 5 rounds each variant runs once in each position):

  (a) Kea's CPU time per completed DORA at a fixed offered rate every variant completes
      (--rate for --rate-seconds): utime + stime of kea-dhcp4 (all its threads, from
      /proc/PID/stat) read right before and right after perfdhcp, divided by the ACKs
      perfdhcp received, in microseconds. The machine's speed matters; the ratios less.
  (b) ACKs completed per second at an offered rate above saturation (--saturation-rate for
      --saturation-seconds): what Kea sustains when it is the bottleneck.
  (c) Instructions per DORA: kea-dhcp4 under `valgrind --tool=callgrind --instr-atstart=no`,
      instrumentation switched on (callgrind_control) right before a slow perfdhcp run
      (--callgrind-rate for --callgrind-seconds, drop time 5 s) and off right after; the Ir
      total of the dump divided by the ACKs. Threads off only; nearly deterministic, so
      --callgrind-rounds (3) suffice. If valgrind cannot run Kea here, the reason is printed
      and the rest goes on.

Also, for every start: kea-dhcp4's resident memory (VmRSS) once it serves, with the difference
to bare Kea, and the time from spawning kea-dhcp4 until it serves (DHCP4_STARTED logged and
UDP 67 bound): for the hook variants, the difference to bare Kea is the hook's start with its
policy (Python, load, compile). The hook's load alone is shown too, by Kea's log timestamps
(1 ms): from the last line before the hook's load() (COMMAND_ACCEPTOR_START) to FANVIL_LOADED.

Reload (per hook variant and threading mode, once): reload_under_load.py's run, twice on fresh
Kea: perfdhcp at --reload-rate for --reload-seconds (drop time 5 s), and --reload-at seconds in
every inventory row gets a new boot file (the file rewritten and renamed) so that the hook's
watcher (interval 1 s) reloads the policy under load; the other run changes nothing. Reported:
the answers lost in each run, and the watcher's own reload time, "(read in X s)" from its
FANVIL_POLICY_RELOADED line (under load, at the watcher's lower priority).

Tables show the median, the min-max spread, n, and the ratios of medians to bare and to native.
The command line that reproduces the run is printed first; --json writes every raw sample.
Needs root, Debian's kea-dhcp4 and perfdhcp, the hook installed (`kea-fanvil hook install`),
and valgrind for (c). Ctrl-C stops everything and removes the namespaces.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "integration"))
sys.path.insert(0, str(REPO / "benchmarks"))

import daemons  # noqa: E402
import reload_under_load  # noqa: E402
from common import (  # noqa: E402
    VENDOR_CLASS,
    base_config,
    check_options,
    check_serves,
    hook_config,
    native_config,
    perfdhcp_counts,
    rss_kib,
    write_policies,
)
from daemons import perfdhcp_argv, start_kea  # noqa: E402
from lab import KeaServer, Lab, netns_pair  # noqa: E402

from kea_fanvil.kea_hook import build as hook_build  # noqa: E402

VARIANTS = ("bare", "native", "hook", "hook-noinv", "hook-python")
HOOK_VARIANTS = ("hook", "hook-noinv", "hook-python")
FIGURES = ("a", "b", "c", "reload")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# perfdhcp options for runs whose answers may come late (callgrind, reloads): a DORA still
# counts if its answer arrives within 5 s, and perfdhcp waits 5 s for the last ones.
LATE_ANSWERS = ("-d", "5", "-W", "5000000")
# Kea's file log lines: a local timestamp to the millisecond, severity, [logger/pid.thread], id.
LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) +\S+ +\[([^/\]]+)[^\]]*\] (\S+)", re.M
)
UNKNOWN_DECISIONS = re.compile(r"unknown parameter '?decisions")


class Skip(Exception):
    """This variant cannot run here (the reason is the message); the others go on."""


@dataclass
class Setup:
    args: argparse.Namespace
    tmp: Path
    native_policy: Path
    hook_policy: Path
    variants: list[str]
    samples: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: int = 0

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"NOTE: {text}", flush=True)

    def run_dir(self, label: str) -> Path:
        self.runs += 1
        path = self.tmp / f"{self.runs:03d}-{label}"
        path.mkdir()
        return path


# --- servers ------------------------------------------------------------------------------------


def variant_config(setup: Setup, variant: str, lab: Lab, mt: bool, run_dir: Path) -> dict[str, Any]:
    if variant == "bare":
        return base_config(lab, mt)
    if variant == "native":
        return native_config(lab, setup.native_policy, mt)
    inventory = None if variant == "hook-noinv" else run_dir / "phones.db"
    # "hook" leaves "decisions" at its default ("table"), so that it also runs on a build that
    # predates the parameter (then it measures that build's only path).
    parameters = {"decisions": "python"} if variant == "hook-python" else {}
    return hook_config(lab, setup.hook_policy, mt, inventory, parameters)


def start_wrapped(
    lab: Lab, config: dict[str, Any], run_dir: Path, wrapper: Sequence[str], timeout: float
) -> KeaServer:
    """daemons.start_kea with kea-dhcp4 run under `wrapper` (valgrind) and a start timeout of
    `timeout` s: start_kea has no timeout parameter and its 10 s are far too short for Kea
    under valgrind loading the embedded Python and a large policy. Patching its private
    _start keeps start_kea's handling of Kea's file paths (2.6.3's rules) in one place."""
    original = daemons._start
    kea = shutil.which("kea-dhcp4", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))

    def wrapped(
        lab: Lab,
        name: str,
        argv: list[str],
        log_path: Path,
        ready_text: str,
        tmp_path: Path,
        env: dict[str, str] | None = None,
        timeout_unused: float = 10.0,
    ) -> subprocess.Popen[bytes]:
        argv = [*wrapper, kea or argv[0], *argv[1:]]
        return original(lab, name, argv, log_path, ready_text, tmp_path, env, timeout)

    with mock.patch.object(daemons, "_start", wrapped):
        return start_kea(lab, config, run_dir)


def skip_if_unknown(variant: str, exc: RuntimeError) -> None:
    """Raise Skip if kea-dhcp4 failed to start because the hook refused "decisions"."""
    if variant == "hook-python" and UNKNOWN_DECISIONS.search(str(exc)):
        raise Skip(
            'the installed hook does not know the parameter "decisions" (an older build): '
            "hook-python skipped, and hook measures that build's only decision path"
        ) from exc


@dataclass
class Started:
    lab: Lab
    server: KeaServer
    run_dir: Path
    start: dict[str, Any]  # this start's sample: time to serve, RSS, log timing


@contextmanager
def fresh_kea(
    setup: Setup,
    variant: str,
    mt: bool,
    label: str,
    wrapper: Sequence[str] = (),
    timeout: float = 0.0,
) -> Iterator[Started]:
    """A lab with a new kea-dhcp4 for `variant` that serves (checked with one DORA); stopped,
    and the namespaces removed, on leaving, whatever happens."""
    with netns_pair("kfpp") as lab:
        run_dir = setup.run_dir(label)
        config = variant_config(setup, variant, lab, mt, run_dir)
        spawned = time.monotonic()
        try:
            if wrapper:
                server = start_wrapped(lab, config, run_dir, wrapper, timeout)
            else:
                server = start_kea(lab, config, run_dir)
        except RuntimeError as exc:
            skip_if_unknown(variant, exc)
            raise
        serve_s = time.monotonic() - spawned
        start = {
            "variant": variant,
            "threads": "on" if mt else "off",
            "label": label,
            "serve_s": serve_s,
            "rss_kib": rss_kib(server),
            "hook_load_s": hook_load_seconds(server.log()),
            "valgrind": bool(wrapper),
        }
        # Under valgrind the first packets run through code being translated: give it time.
        answer_timeout = 10.0 if wrapper else 1.0
        if variant == "bare":
            check_serves(lab, answer_timeout)
        else:
            check_options(lab, answer_timeout)
        yield Started(lab, server, run_dir, start)
        if server.popen.poll() is not None:
            raise RuntimeError(f"kea-dhcp4 ({variant}) died during {label}:\n{server.log()}")


def hook_load_seconds(log: str) -> float | None:
    """Seconds from Kea's last log line before the hook library's load() to its FANVIL_LOADED,
    by Kea's own timestamps (1 ms): Python's start and the policy's load and compile. (In Kea
    2.2 the line before is COMMAND_ACCEPTOR_START; nothing is logged while load() runs.)"""
    lines = [(m.group(1), m.group(2), m.group(3)) for m in LOG_LINE.finditer(log)]
    for i, (stamp, _, message) in enumerate(lines):
        if message != "FANVIL_LOADED":
            continue
        before = [line for line in lines[:i] if line[1] != "kea-dhcp4.fanvil-hooks"]
        if not before:
            return None
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        started = datetime.datetime.strptime(before[-1][0], fmt)
        return (datetime.datetime.strptime(stamp, fmt) - started).total_seconds()
    return None


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid`, all its threads, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces: count from the last ")".
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def perfdhcp(lab: Lab, rate: int, seconds: int, clients: int, *extra: str) -> dict[str, Any]:
    argv = perfdhcp_argv(lab, rate, clients, seconds, VENDOR_CLASS, *extra)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    try:
        return perfdhcp_counts(done.stdout)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\n{done.stderr}") from None


# --- figures ------------------------------------------------------------------------------------


def measure_cpu(setup: Setup, variant: str, mt: bool, figure: str, round_no: int) -> None:
    """Figures (a) and (b): one perfdhcp run on a fresh Kea, its CPU time read around it."""
    args = setup.args
    if figure == "a":
        rate, seconds = args.rate, args.rate_seconds
    else:
        rate, seconds = args.saturation_rate, args.saturation_seconds
    mode = "on" if mt else "off"
    with fresh_kea(setup, variant, mt, f"{figure}-{mode}-{variant}") as kea:
        pid = kea.server.popen.pid
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        if comm != "kea-dhcp4":  # `ip netns exec` execs, so its pid is Kea's; make sure
            raise RuntimeError(f"pid {pid} is {comm!r}, not kea-dhcp4")
        before = cpu_seconds(pid)
        counts = perfdhcp(kea.lab, rate, seconds, args.clients)
        cpu = cpu_seconds(pid) - before
    acks = counts["acks"]
    sample = {
        "figure": figure,
        "variant": variant,
        "threads": mode,
        "round": round_no,
        "rate": rate,
        "seconds": seconds,
        **counts,
        "cpu_s": cpu,
        "us_per_dora": cpu / acks * 1e6 if acks else None,
        "acks_per_s": acks / seconds,
        "start": kea.start,
    }
    setup.samples.append(sample)
    done = acks / counts["discovers"]
    value = (
        f"{sample['us_per_dora']:.1f} us/DORA" if figure == "a" else f"{acks / seconds:.0f} ACK/s"
    )
    print(
        f"  ({figure}) threads {mode:<3} {variant:<11} {value:>15}  "
        f"({acks}/{counts['discovers']} DORAs, {done:.2%}; Kea CPU {cpu:.2f} s)",
        flush=True,
    )
    if figure == "a" and done < 0.99:
        print(f"    {variant} did not complete {rate}/s: its (a) figure is inflated; lower --rate")


def callgrind(argv: Sequence[str]) -> None:
    done = subprocess.run(
        ["callgrind_control", *argv], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"callgrind_control {' '.join(argv)} failed: {done.stdout}{done.stderr}")


def dump_total(folder: Path) -> int:
    """The Ir total of the callgrind dump(s) in `folder` (the only event counted)."""
    totals: list[int] = []
    for path in folder.glob("callgrind.out*"):
        # A dump requested while instrumentation is off says "summary: 0" and gives the cost
        # collected in "totals:"; take whichever is larger, in case another version differs.
        found = re.findall(r"^(?:summary|totals): (\d+)", path.read_text(errors="replace"), re.M)
        totals.extend(int(x) for x in found)
    if not totals:
        raise RuntimeError(f"no callgrind dump with a total in {folder}")
    return max(totals)


def measure_instructions(setup: Setup, variant: str, mt: bool, round_no: int) -> None:
    """Figure (c): one slow perfdhcp run on a fresh Kea under callgrind (which runs one thread
    at a time, so threads on counts the same work plus Kea's thread handoffs)."""
    args = setup.args
    out_dir = Path(tempfile.mkdtemp(prefix="callgrind-", dir=setup.tmp))
    wrapper = (
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir}/callgrind.out",
    )
    mode = "on" if mt else "off"
    label = f"c-{mode}-{variant}"
    with fresh_kea(setup, variant, mt, label, wrapper, args.callgrind_start_timeout) as kea:
        pid = str(kea.server.popen.pid)
        callgrind(["--instr=on", pid])
        counts = perfdhcp(
            kea.lab, args.callgrind_rate, args.callgrind_seconds, args.clients, *LATE_ANSWERS
        )
        callgrind(["--instr=off", pid])
        callgrind(["--dump", pid])
        instructions = dump_total(out_dir)
    acks = counts["acks"]
    sample = {
        "figure": "c",
        "variant": variant,
        "threads": mode,
        "round": round_no,
        "rate": args.callgrind_rate,
        "seconds": args.callgrind_seconds,
        **counts,
        "instructions": instructions,
        "instructions_per_dora": instructions / acks if acks else None,
        "start": kea.start,
    }
    setup.samples.append(sample)
    print(
        f"  (c) threads {mode:<3} {variant:<11} {instructions / max(acks, 1):>12,.0f} Ir/DORA  "
        f"({acks}/{counts['discovers']} DORAs; started in {kea.start['serve_s']:.0f} s)",
        flush=True,
    )


def measure_reload(setup: Setup, variant: str, mt: bool, generation: int) -> None:
    """reload_under_load.py's run for `variant`: without a reload, then with the watcher's."""
    args = setup.args
    mode = "on" if mt else "off"
    load = argparse.Namespace(
        rate=args.reload_rate,
        duration=args.reload_seconds,
        clients=args.clients,
        reload_at=args.reload_at,
    )
    parameters = {"decisions": "python"} if variant == "hook-python" else {}
    folder = setup.tmp / "reload"
    policy = folder / "hook-policy.yaml"
    if not policy.exists():
        # Its own copy: the run rewrites the inventory, the other figures keep theirs.
        write_policies(folder, args.devices, args.phone_options)
    sample: dict[str, Any] = {"figure": "reload", "variant": variant, "threads": mode}
    for way in ("none", "watch"):
        try:
            sample[way] = reload_under_load.one_run(
                setup.run_dir(f"reload-{mode}-{variant}-{way}"),
                policy,
                way,
                mt,
                load,
                generation * 2 + (way == "watch"),
                inventory=variant != "hook-noinv",
                parameters=parameters,
            )
        except RuntimeError as exc:
            skip_if_unknown(variant, exc)
            raise
    setup.samples.append(sample)
    print(
        f"  (reload) threads {mode:<3} {variant:<11} lost {sample['none']['lost']:.0f} without, "
        f"{sample['watch']['lost']:.0f} with a reload of "
        f"{sample['watch'].get('read_in_s', float('nan')):.2f} s "
        f"(of {sample['watch']['sent']:.0f} DORAs)",
        flush=True,
    )


# --- the run ------------------------------------------------------------------------------------


def rotated(items: Sequence[str], by: int) -> list[str]:
    """`items` rotated left by `by`: with as many rounds as items, each item runs once in
    each position, so no variant always follows the same neighbour or opens the round."""
    by %= max(len(items), 1)
    return [*items[by:], *items[:by]]


def attempt(setup: Setup, variant: str, run: Callable[..., None], *arguments: Any) -> None:
    """`run(setup, variant, *arguments)`; a variant that cannot run here (Skip) is dropped from
    the rest of the run."""
    try:
        run(setup, variant, *arguments)
    except Skip as why:
        setup.note(str(why))
        if variant in setup.variants:
            setup.variants.remove(variant)


def run_all(setup: Setup) -> None:
    args = setup.args
    modes = [mode == "on" for mode in args.threads]
    began = time.monotonic()

    def phase(name: str) -> None:
        print(f"\n== {name} ({time.monotonic() - began:.0f} s into the run)", flush=True)

    cpu_figures = [figure for figure in ("a", "b") if figure in args.figures]
    for round_no in range(1, args.rounds + 1) if cpu_figures else ():
        phase(f"round {round_no} of {args.rounds}: figures {' and '.join(cpu_figures)}")
        for mt in modes:
            for figure in cpu_figures:
                for variant in rotated(setup.variants, round_no - 1):
                    attempt(setup, variant, measure_cpu, mt, figure, round_no)

    if "c" in args.figures:
        phase(f"figure (c) under callgrind, {args.callgrind_rounds} round(s)")
        why = callgrind_missing()
        if why:
            setup.note(f"figure (c) skipped: {why}")
        failed: set[str] = set()
        for round_no in range(1, args.callgrind_rounds + 1) if not why else ():
            for mt, variant in itertools.product(modes, rotated(setup.variants, round_no - 1)):
                if variant in failed:
                    continue
                try:
                    attempt(setup, variant, measure_instructions, mt, round_no)
                except RuntimeError as exc:
                    # Valgrind may not cope with Kea here, or take longer than the start
                    # timeout: say why, leave the variant out of (c), go on with the rest.
                    failed.add(variant)
                    setup.note(f"figure (c) without {variant}: {tail(str(exc))}")

    if "reload" in args.figures:
        phase("reload under load")
        generation = 0
        for mt in modes:
            for variant in [v for v in setup.variants if v in HOOK_VARIANTS]:
                generation += 1
                attempt(setup, variant, measure_reload, mt, generation)
    phase("done")


def callgrind_missing() -> str | None:
    for binary in ("valgrind", "callgrind_control"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed"
    return None


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --- the report ---------------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: str) -> tuple[str, str]:
    """(median, "min-max") of `values`, formatted with `fmt`."""
    return format(statistics.median(values), fmt), f"{min(values):{fmt}}-{max(values):{fmt}}"


def figure_table(
    title: str,
    values: dict[str, list[float]],
    fmt: str,
    extra: tuple[str, dict[str, str]] | None = None,
) -> None:
    """One table: variant, median, min-max, n, and the ratios of the medians to bare and to
    native; `extra` is one more column (its heading and a text per variant)."""
    print(f"\n{title}")
    medians = {variant: statistics.median(v) for variant, v in values.items() if v}
    heading = f"{'variant':<12} {'median':>12} {'min-max':>25} {'n':>3} {'/bare':>7} {'/native':>8}"
    print(heading + (f" {extra[0]:>10}" if extra else ""))
    for variant, samples in values.items():
        if not samples:
            print(f"{variant:<12} {'(no samples)':>12}")
            continue
        median, minmax = spread(samples, fmt)
        ratios = [
            f"{medians[variant] / medians[base]:.2f}" if medians.get(base) else "-"
            for base in ("bare", "native")
        ]
        line = f"{variant:<12} {median:>12} {minmax:>25} {len(samples):>3} "
        line += f"{ratios[0]:>7} {ratios[1]:>8}"
        if extra:
            line += f" {extra[1].get(variant, ''):>10}"
        print(line)


def report(setup: Setup) -> None:
    args = setup.args
    by: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for sample in setup.samples:
        by.setdefault((sample["figure"], sample["threads"], sample["variant"]), []).append(sample)
    variants = [v for v in VARIANTS if any(key[2] == v for key in by)]

    def column(figure: str, mode: str, key: str) -> dict[str, list[float]]:
        return {
            v: [s[key] for s in by.get((figure, mode, v), []) if s.get(key) is not None]
            for v in variants
            if (figure, mode, v) in by
        }

    def acked(figure: str, mode: str) -> dict[str, str]:
        out = {}
        for v in variants:
            runs = by.get((figure, mode, v), [])
            if runs:
                out[v] = f"{min(s['acks'] / s['discovers'] for s in runs):.2%}"
        return out

    measured = {(k[0], k[1]) for k in by}

    def threads_label(mode: str) -> str:
        return "threads off" if mode == "off" else "threads on (4, queue 64)"

    for mode in args.threads:
        threads = threads_label(mode)
        if ("a", mode) in measured:
            figure_table(
                f"(a) Kea CPU time per completed DORA, µs: {args.rate:,} DORA/s offered for "
                f"{args.rate_seconds} s, {threads}",
                column("a", mode, "us_per_dora"),
                ".1f",
                ("min ACKed", acked("a", mode)),
            )
        if ("b", mode) in measured:
            figure_table(
                f"(b) ACKs completed per second: {args.saturation_rate:,} DORA/s offered for "
                f"{args.saturation_seconds} s, {threads}",
                column("b", mode, "acks_per_s"),
                ".0f",
                ("min ACKed", acked("b", mode)),
            )
    for mode in args.threads:
        if ("c", mode) in measured:
            figure_table(
                f"(c) instructions per DORA (callgrind Ir): {args.callgrind_rate} DORA/s for "
                f"{args.callgrind_seconds} s, drop time 5 s, {threads_label(mode)}",
                column("c", mode, "instructions_per_dora"),
                ",.0f",
                ("min ACKed", acked("c", mode)),
            )
    report_starts(setup, variants)
    report_reloads(setup)


def report_starts(setup: Setup, variants: list[str]) -> None:
    starts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for sample in setup.samples:
        start = sample.get("start")
        # Under valgrind memory and times mean nothing; those starts stay in the JSON only.
        if start and not start["valgrind"]:
            starts.setdefault((start["threads"], start["variant"]), []).append(start)
    if not starts:
        return
    print()
    print(
        textwrap.fill(
            "Start of kea-dhcp4, medians over all its fresh starts above (not under valgrind). "
            "RSS: VmRSS once it serves. Serves in: from spawning it to DHCP4_STARTED logged "
            "and UDP 67 bound. Hook load: by Kea's log, from the line before the hook's load() "
            "to FANVIL_LOADED (Python's start, the policy's load and compile).",
            100,
        )
    )
    print(
        f"{'threads':<8} {'variant':<12} {'n':>3} {'RSS MiB':>8} {'-bare':>8} "
        f"{'serves in s':>12} {'-bare':>7} {'hook load s':>12}"
    )
    for mode in setup.args.threads:
        rows = {v: starts[(mode, v)] for v in variants if (mode, v) in starts}
        bare = rows.get("bare")
        bare_rss = statistics.median(s["rss_kib"] for s in bare) / 1024 if bare else None
        bare_serve = statistics.median(s["serve_s"] for s in bare) if bare else None
        for variant, runs in rows.items():
            rss = statistics.median(s["rss_kib"] for s in runs) / 1024
            serve = statistics.median(s["serve_s"] for s in runs)
            loads = [s["hook_load_s"] for s in runs if s.get("hook_load_s") is not None]
            rss_delta = f"{rss - bare_rss:+.1f}" if bare_rss is not None else "-"
            serve_delta = f"{serve - bare_serve:+.2f}" if bare_serve is not None else "-"
            load = f"{statistics.median(loads):.2f}" if loads else "-"
            print(
                f"{mode:<8} {variant:<12} {len(runs):>3} {rss:>8.1f} {rss_delta:>8} "
                f"{serve:>12.2f} {serve_delta:>7} {load:>12}"
            )
    extra = "; every phone gets the six phone options" if setup.args.phone_options else ""
    print(f"(hook variants: policy with {setup.args.devices:,} inventory devices{extra})")


def report_reloads(setup: Setup) -> None:
    runs = [s for s in setup.samples if s["figure"] == "reload"]
    if not runs:
        return
    args = setup.args
    print()
    print(
        textwrap.fill(
            f"Reload under load: perfdhcp at {args.reload_rate:,} DORA/s for "
            f"{args.reload_seconds} s (drop time 5 s), the inventory rewritten "
            f"{args.reload_at:g} s in and reloaded by the hook's watcher (interval 1 s); "
            "baseline: the same run without a change. Read in: the watcher's own time for the "
            "reload (its FANVIL_POLICY_RELOADED line).",
            100,
        )
    )
    print(
        f"{'threads':<8} {'variant':<12} {'DORAs':>7} {'lost, no reload':>16} "
        f"{'lost, reload':>13} {'reload read in s':>17}"
    )
    for s in runs:
        read_in = s["watch"].get("read_in_s")
        print(
            f"{s['threads']:<8} {s['variant']:<12} {s['watch']['sent']:>7.0f} "
            f"{s['none']['lost']:>16.0f} {s['watch']['lost']:>13.0f} "
            f"{f'{read_in:.2f}' if read_in is not None else '-':>17}"
        )


# --- options --------------------------------------------------------------------------------------

# (normal, --quick) defaults of the options that --quick changes.
DEFAULTS: dict[str, tuple[Any, Any]] = {
    "rounds": (5, 2),
    "devices": (100_000, 10_000),
    "rate_seconds": (10, 3),
    "saturation_seconds": (8, 3),
    "callgrind_rounds": (3, 1),
    "callgrind_seconds": (10, 4),
    "reload_seconds": (10, 6),
    "reload_at": (3.0, 2.0),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )

    def default(name: str) -> str:
        normal, quick = DEFAULTS[name]
        return f"default {normal}; with --quick {quick}"

    def listed(choices: Sequence[str]) -> Callable[[str], list[str]]:
        def parse(text: str) -> list[str]:
            items = [item.strip() for item in text.split(",") if item.strip()]
            wrong = [item for item in items if item not in choices]
            if wrong or not items:
                raise argparse.ArgumentTypeError(f"choose from {','.join(choices)}")
            return items

        return parse

    add = parser.add_argument
    add(
        "--quick",
        action="store_true",
        help="smoke test: 2 rounds, short runs, a 10,000-device policy, 1 callgrind round",
    )
    add("--rounds", type=int, help=f"rounds of figures (a) and (b) ({default('rounds')})")
    add(
        "--threads",
        type=listed(("off", "on")),
        default=["off", "on"],
        help="Kea multi-threading modes to measure, off and/or on (4 threads): default off,on",
    )
    add(
        "--variants",
        type=listed(VARIANTS),
        default=list(VARIANTS),
        help=f"variants to run, in round 1's order: default {','.join(VARIANTS)}",
    )
    add(
        "--figures",
        type=listed(FIGURES),
        default=list(FIGURES),
        help="what to measure: a (CPU per DORA), b (saturation), c (callgrind), reload; "
        "default all (start memory and time come with a, b and c)",
    )
    add("--devices", type=int, help=f"inventory devices in the policy ({default('devices')})")
    add(
        "--phone-options",
        action="store_true",
        help="give every phone the six phone options (VLAN, SIP, NTP, time) in both the "
        "native and the hook policy",
    )
    add(
        "--clients",
        type=int,
        default=100_000,
        help="perfdhcp -R: simulated phones, MACs from 0c:38:3e:00:00:00 (default 100000)",
    )
    add(
        "--rate",
        type=int,
        default=2500,
        help="(a): offered DORA/s, a rate every variant completes (default 2500)",
    )
    add("--rate-seconds", type=int, help=f"(a): seconds of perfdhcp ({default('rate_seconds')})")
    add(
        "--saturation-rate",
        type=int,
        default=7000,
        help="(b): offered DORA/s, above what any variant completes (default 7000)",
    )
    add(
        "--saturation-seconds",
        type=int,
        help=f"(b): seconds of perfdhcp ({default('saturation_seconds')})",
    )
    add("--callgrind-rounds", type=int, help=f"(c): rounds ({default('callgrind_rounds')})")
    add(
        "--callgrind-rate",
        type=int,
        default=50,
        help="(c): offered DORA/s; Kea under callgrind is ~50x slower (default 50)",
    )
    add(
        "--callgrind-seconds",
        type=int,
        help=f"(c): seconds of perfdhcp ({default('callgrind_seconds')})",
    )
    add(
        "--callgrind-start-timeout",
        type=float,
        default=900.0,
        help="(c): seconds Kea under valgrind may take to start serving (default 900)",
    )
    add("--reload-rate", type=int, help="reload: offered DORA/s (default: --rate)")
    add(
        "--reload-seconds",
        type=int,
        help=f"reload: seconds of perfdhcp ({default('reload_seconds')})",
    )
    add(
        "--reload-at",
        type=float,
        help=f"reload: seconds into the run the policy changes ({default('reload_at')})",
    )
    add(
        "--json",
        type=Path,
        metavar="FILE",
        help="write every raw sample (and the settings) to FILE, also after Ctrl-C",
    )
    args = parser.parse_args(argv)
    for name, (normal, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else normal)
    if args.reload_rate is None:
        args.reload_rate = args.rate
    return args


def command_lines(args: argparse.Namespace) -> tuple[str, str]:
    """(the command as run, the same with every setting spelled out)."""
    python, script = short_path(sys.executable), short_path(__file__)
    invoked = shlex.join([python, *sys.argv])
    spelled = [python, script]
    for name in (
        "rounds",
        "threads",
        "variants",
        "figures",
        "devices",
        "clients",
        "rate",
        "rate_seconds",
        "saturation_rate",
        "saturation_seconds",
        "callgrind_rounds",
        "callgrind_rate",
        "callgrind_seconds",
        "callgrind_start_timeout",
        "reload_rate",
        "reload_seconds",
        "reload_at",
    ):
        value = getattr(args, name)
        if isinstance(value, list):
            text = ",".join(value)
        else:
            text = f"{value:g}" if isinstance(value, float) else str(value)
        spelled += [f"--{name.replace('_', '-')}", text]
    if args.json:
        spelled += ["--json", str(args.json)]
    return invoked, shlex.join(spelled)


def short_path(path: str) -> str:
    """`path` relative to the current folder if it lies inside it (the venv's python keeps its
    symlink name: .venv/bin/python, not the interpreter it points to)."""
    absolute = Path(os.path.abspath(path))
    return os.path.relpath(absolute) if absolute.is_relative_to(Path.cwd()) else path


def hook_identity() -> dict[str, Any]:
    """The installed hook's path and content hash: a rebuild during the run shows as a change."""
    try:
        path = hook_build.installed_path()
    except hook_build.HookBuildError as exc:
        return {"error": str(exc)}
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def kea_version() -> str:
    done = subprocess.run(
        ["kea-dhcp4", "-v"],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PATH=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"])),
    )
    return done.stdout.strip() or "?"


def interrupted(signum: int, frame: object) -> None:
    # SIGTERM as Ctrl-C: the labs' `finally` stops every process and removes the namespaces.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    invoked, spelled = command_lines(args)
    print(f"command:    {invoked}")
    print(f"equivalent: {spelled}")
    hook_before = hook_identity()
    hook = (
        f"hook {hook_before['path']} (sha256 {hook_before['sha256'][:16]})"
        if "path" in hook_before
        else "no usable hook"
    )
    print(f"kea-dhcp4 {kea_version()}, {os.cpu_count()} CPUs, {hook}", flush=True)
    if "error" in hook_before and set(args.variants) & set(HOOK_VARIANTS):
        print(f"the hook is not usable: {hook_before['error']}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, interrupted)
    complete = False
    status = 1
    with tempfile.TemporaryDirectory(prefix="kf-packet-path-") as tmp_name:
        tmp = Path(tmp_name)
        native_policy, hook_policy = write_policies(
            tmp / "policy", args.devices, args.phone_options
        )
        setup = Setup(args, tmp, native_policy, hook_policy, list(args.variants))
        try:
            run_all(setup)
            complete = True
        except KeyboardInterrupt:
            print("\ninterrupted: every process stopped, namespaces removed", file=sys.stderr)
            status = 130
        except hook_build.HookBuildError as exc:
            # hook_config checks the installed hook at every start: it was rebuilt meanwhile.
            print(f"\nthe hook changed during the run, rerun: {exc}", file=sys.stderr)
        finally:
            hook_after = hook_identity()
            if hook_after != hook_before:
                setup.note(f"the installed hook changed during the run: {hook_after}")
            if args.json:
                args.json.write_text(
                    json.dumps(
                        {
                            "command": invoked,
                            "equivalent": spelled,
                            "complete": complete,
                            "kea": kea_version(),
                            "hook": hook_before,
                            "settings": {
                                k: str(v) if isinstance(v, Path) else v
                                for k, v in vars(args).items()
                            },
                            "notes": setup.notes,
                            "samples": setup.samples,
                        },
                        indent=1,
                    )
                )
    if not complete:
        return status
    report(setup)
    for text in setup.notes:
        print(f"NOTE: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
