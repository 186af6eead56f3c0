"""The only functions the C++ Kea hook calls (hook/python_bridge.cc).

The hook passes plain values and gets plain values back, so nothing here knows of Kea. ``load``
never raises: it returns the error text for Kea's log. ``decide`` may raise on a real bug; the
hook catches that, sends the response unchanged and counts an error.
"""

from __future__ import annotations

import gc

from .engine import Engine, RawDecision
from .errors import KeaFanvilError
from .policy_file import load_policy

_engine: Engine | None = None


def load(policy_path: str) -> str:
    """Load the policy for the hook: "" on success, else the reason, for Kea's log."""
    global _engine
    try:
        engine = Engine(load_policy(policy_path))
    except KeaFanvilError as exc:
        return str(exc)
    except Exception as exc:  # the hook must get text, never a Python exception
        return f"{policy_path}: unexpected {type(exc).__name__}: {exc}"
    # A large inventory is hundreds of thousands of long-lived objects: keep the cyclic
    # collector from walking them all, with the GIL held, in the middle of Kea's packet path.
    gc.unfreeze()
    _engine = engine
    gc.collect()
    gc.freeze()
    return ""


def decide(
    mac: bytes, opt60: bytes | None, opt55: bytes | None, giaddr: bytes, yiaddr: bytes
) -> RawDecision | None:
    """None when the client is not one of our phones, else (options, BOOTP file field)."""
    engine = _engine
    if engine is None:
        raise RuntimeError("decide() called before a policy was loaded")
    return engine.decide_raw(mac, opt60, opt55, giaddr, yiaddr)
