"""The public API is what __init__ lists; a change to it must be deliberate."""

from __future__ import annotations

import kea_fanvil

API = [
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


def test_public_api_is_stable_and_sorted() -> None:
    assert kea_fanvil.__all__ == API
    assert sorted(kea_fanvil.__all__) == kea_fanvil.__all__
    for name in API:
        assert hasattr(kea_fanvil, name), name


def test_every_public_name_is_the_one_its_module_defines() -> None:
    import importlib

    for name in API:
        value = getattr(kea_fanvil, name)
        if name != "__version__":
            assert value is getattr(importlib.import_module(value.__module__), name), name
    assert set(kea_fanvil._HOME) | {"__version__"} == set(API)
