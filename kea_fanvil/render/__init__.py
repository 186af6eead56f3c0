"""Renderers: the same policy as configuration for other DHCP servers.

Each target module exposes ``render(policy, full=None) -> str``: a fragment to merge into an
existing configuration, or with :class:`FullConfig` a complete configuration that runs as is.
Output is deterministic (same policy, same bytes). What a target cannot express raises
:class:`~kea_fanvil.errors.RenderError` naming the policy entry.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class FullConfig:
    """What a complete configuration needs beyond the policy."""

    interface: str
    subnet: ipaddress.IPv4Network
    pool: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
    # Where servers need their own files (leases, control socket); None = the target's default.
    state_dir: str | None = None
