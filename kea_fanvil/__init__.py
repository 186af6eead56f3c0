"""kea-fanvil: one validated policy that steers Fanvil IP phones to their provisioning server."""

from __future__ import annotations

from .engine import Decision, Engine, Request, decide
from .errors import EncodingError, KeaFanvilError, PolicyError, PolicyProblem, RenderError
from .identify import VendorClass, normalize_mac, parse_vendor_class
from .policy import Delivery, Device, Match, Policy, Provisioning, Site
from .policy_file import load_policy, parse_policy

__version__ = "0.1.0"

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
