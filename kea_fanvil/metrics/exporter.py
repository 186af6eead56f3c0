"""``kea-fanvil metrics``: the hook's statistics as Prometheus text, read from Kea at each scrape.

Stork's Kea exporter passes on only the statistic names it knows and drops the hook's
(``pkt4-fanvil-*``, ``fanvil-*``: "Encountered unsupported stat" in Stork's
``backend/agent/promkeaexporter.go``), so this serves them itself, beside Stork's. Each scrape
asks every server named for ``statistic-get-all`` (Kea's statistics, of which it takes the
hook's) and ``fanvil-status`` (policy, reloads, inventory by model and firmware), over the
control channel (:mod:`kea_fanvil.kea_control`). A server that does not answer is
``kea_fanvil_up 0`` and nothing else, so a dead server never shows stale numbers.

Names follow Prometheus' conventions: ``kea_fanvil_`` first, counters end in ``_total``, times
in ``_seconds``; every series has a ``server`` label (the name given, or the target).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kea_fanvil import kea_control
from kea_fanvil.errors import ControlError

__all__ = ["COUNTERS", "HookCollector", "Target", "parse_target"]

# Kea statistic -> (metric name without _total, help).
COUNTERS: dict[str, tuple[str, str]] = {
    "pkt4-fanvil-matched": (
        "kea_fanvil_packets_matched",
        "Responses to Fanvil phones of the policy (OFFERs and ACKs).",
    ),
    "pkt4-fanvil-changed": (
        "kea_fanvil_packets_changed",
        "Responses the hook added provisioning options or a boot file to.",
    ),
    "pkt4-fanvil-errors": (
        "kea_fanvil_packets_errors",
        "Responses sent unchanged because the hook failed on them.",
    ),
    "pkt4-fanvil-python-decisions": (
        "kea_fanvil_packets_python_decisions",
        'Responses decided by calling Python ("decisions": "python"); 0 on the table path.',
    ),
    "fanvil-policy-reloads": ("kea_fanvil_policy_reloads", "Policy reloads that took effect."),
    "fanvil-policy-reload-failures": (
        "kea_fanvil_policy_reload_failures",
        "Policy reloads refused (the previous policy stayed in force).",
    ),
    "fanvil-inventory-recorded": (
        "kea_fanvil_inventory_recorded",
        "Sightings written to the inventory of phones seen.",
    ),
    "fanvil-inventory-dropped": (
        "kea_fanvil_inventory_dropped",
        "Sightings lost: buffer full, or the database slow or unreachable.",
    ),
}


@dataclass(frozen=True)
class Target:
    name: str  # the `server` label
    address: str  # control socket path or URL


def parse_target(text: str) -> Target:
    """``NAME=SOCKET_OR_URL`` or just ``SOCKET_OR_URL`` (then the label is the address)."""
    name, sep, address = text.partition("=")
    if sep and name and "/" not in name and ":" not in name:
        return Target(name, address)
    return Target(text, text)


def _statistics(answer: dict[str, Any]) -> dict[str, float]:
    values: dict[str, float] = {}
    for name, samples in (answer.get("arguments") or {}).items():
        if name in COUNTERS and samples and isinstance(samples[0][0], int | float):
            values[name] = float(samples[0][0])
    return values


class HookCollector(Collector):
    """Collects from every target at each scrape (prometheus_client calls :meth:`collect`)."""

    def __init__(self, targets: Sequence[Target], timeout: float = 5.0) -> None:
        self.targets = list(targets)
        self.timeout = timeout

    def describe(self) -> Iterable[Metric]:
        return []  # collected live: no fixed description at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "kea_fanvil_up", "1 when the server answered this scrape.", labels=["server"]
        )
        scrape = GaugeMetricFamily(
            "kea_fanvil_scrape_duration_seconds",
            "How long asking the server took.",
            labels=["server"],
        )
        counters = {
            stat: CounterMetricFamily(name, text, labels=["server"])
            for stat, (name, text) in COUNTERS.items()
        }
        loaded = GaugeMetricFamily(
            "kea_fanvil_policy_loaded", "1 when a policy is in force.", labels=["server"]
        )
        loaded_at = GaugeMetricFamily(
            "kea_fanvil_policy_loaded_timestamp_seconds",
            "When the policy in force was read (Unix time).",
            labels=["server"],
        )
        policy_counts = GaugeMetricFamily(
            "kea_fanvil_policy_entries",
            "What the policy in force holds, by kind (devices, sites, prefixes).",
            labels=["server", "kind"],
        )
        phones = GaugeMetricFamily(
            "kea_fanvil_inventory_phones",
            "Phones in the inventory, by model and firmware (from option 60).",
            labels=["server", "model", "firmware"],
        )
        info = GaugeMetricFamily(
            "kea_fanvil_info",
            "Versions and the packet path in use (always 1).",
            labels=["server", "version", "kea_version", "decisions"],
        )
        for target in self.targets:
            started = time.monotonic()
            try:
                stats = kea_control.send(target.address, "statistic-get-all", None, self.timeout)
                status = kea_control.send(target.address, "fanvil-status", None, self.timeout)
            except ControlError:
                up.add_metric([target.name], 0)
                continue
            if status.get("result") != 0 or stats.get("result") != 0:
                up.add_metric([target.name], 0)  # Kea answered, but not the hook (not loaded)
                continue
            up.add_metric([target.name], 1)
            scrape.add_metric([target.name], time.monotonic() - started)
            for stat, value in _statistics(stats).items():
                counters[stat].add_metric([target.name], value)
            body = status.get("arguments") or {}
            policy = body.get("policy") or {}
            loaded.add_metric([target.name], 1 if policy.get("loaded") else 0)
            if policy.get("loaded-at") is not None:
                loaded_at.add_metric([target.name], float(policy["loaded-at"]))
            for kind, count in (policy.get("counts") or {}).items():
                policy_counts.add_metric([target.name, kind], float(count))
            for entry in (body.get("inventory") or {}).get("models", []):
                phones.add_metric(
                    [target.name, entry["model"], entry["firmware"]], float(entry["phones"])
                )
            versions = body.get("versions") or {}
            info.add_metric(
                [
                    target.name,
                    str(versions.get("kea-fanvil", "")),
                    str(body.get("kea-version", "")),
                    str(body.get("decisions", "")),
                ],
                1,
            )
        yield up
        yield scrape
        yield from counters.values()
        yield from (loaded, loaded_at, policy_counts, phones, info)
