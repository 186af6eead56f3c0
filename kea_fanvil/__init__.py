"""kea-fanvil: one validated policy that steers Fanvil IP phones to their provisioning server.

The public API below is imported on first use, not with the package: a wire-format module
(``kea_fanvil.wire.sip``) or the hook's entry module costs only what it imports itself, not
pydantic and the policy models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kea_fanvil.version import __version__

if TYPE_CHECKING:
    from kea_fanvil.engine import Decision, Engine, Request, decide
    from kea_fanvil.errors import EncodingError, KeaFanvilError, PolicyError, RenderError
    from kea_fanvil.fanvil.identify import VendorClass, normalize_mac, parse_vendor_class
    from kea_fanvil.policy.loader import load_policy, parse_policy
    from kea_fanvil.policy.models import Delivery, Device, Match, Policy, Provisioning, Site
    from kea_fanvil.policy.problems import PolicyProblem

__all__ = [
    "Decision",
    "Delivery",
    "Device",
    "EncodingError",
    "Engine",
    "KeaFanvilError",
    "Match",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "Provisioning",
    "RenderError",
    "Request",
    "Site",
    "VendorClass",
    "__version__",
    "decide",
    "load_policy",
    "normalize_mac",
    "parse_policy",
    "parse_vendor_class",
]

# Where each public name lives (the imports above, for type checkers, say the same).
_HOME = {
    **dict.fromkeys(("Decision", "Engine", "Request", "decide"), "kea_fanvil.engine"),
    **dict.fromkeys(
        ("EncodingError", "KeaFanvilError", "PolicyError", "RenderError"), "kea_fanvil.errors"
    ),
    **dict.fromkeys(
        ("VendorClass", "normalize_mac", "parse_vendor_class"), "kea_fanvil.fanvil.identify"
    ),
    **dict.fromkeys(("load_policy", "parse_policy"), "kea_fanvil.policy.loader"),
    **dict.fromkeys(
        ("Delivery", "Device", "Match", "Policy", "Provisioning", "Site"),
        "kea_fanvil.policy.models",
    ),
    "PolicyProblem": "kea_fanvil.policy.problems",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'kea_fanvil' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once: later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
