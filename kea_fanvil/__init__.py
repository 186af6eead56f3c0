"""kea-fanvil: one validated policy that steers Fanvil IP phones to their provisioning server."""

from __future__ import annotations

from kea_fanvil.engine import Decision, Engine, Request, decide
from kea_fanvil.errors import EncodingError, KeaFanvilError, PolicyError, RenderError
from kea_fanvil.fanvil.identify import VendorClass, normalize_mac, parse_vendor_class
from kea_fanvil.policy.loader import load_policy, parse_policy
from kea_fanvil.policy.models import Delivery, Device, Match, Policy, Provisioning, Site
from kea_fanvil.policy.problems import PolicyProblem
from kea_fanvil.version import __version__

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
