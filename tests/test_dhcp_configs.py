"""dhcp-configs/ holds the example policy and what each renderer makes of it, kept in sync.

Regenerate after a renderer change with:  .venv/bin/python tests/test_dhcp_configs.py
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from kea_fanvil import load_policy
from kea_fanvil.kea_install import LINE_PATCH

CONFIGS = Path(__file__).resolve().parent.parent / "dhcp-configs"
EXAMPLE = CONFIGS / "example-policy.yaml"
RENDERED = {
    "kea": "example-policy.kea.json",  # Kea 2.2: no lcase()
    "kea-2.6": "example-policy.kea-2.6.json",  # Kea 2.6 and 3.0 (a fragment: no socket)
    "dnsmasq": "example-policy.dnsmasq.conf",
    "dhcpd": "example-policy.dhcpd.conf",
}


def _render(target: str) -> str:
    module = importlib.import_module(f"kea_fanvil.render.{target.split('-')[0]}")
    extra: dict[str, object] = {}
    if target.startswith("kea"):
        # The example has sites; Kea's classes can match them by relay address only.
        extra["sites_by_relay"] = True
        extra["kea_version"] = (2, 6, LINE_PATCH) if target == "kea-2.6" else (2, 2, 0)
    text: str = module.render(load_policy(EXAMPLE), None, **extra)
    return text


def test_example_policy_is_valid() -> None:
    policy = load_policy(EXAMPLE)
    assert policy.provisioning.url == "http://prov.example.com/fanvil/$mac.cfg"
    assert [s.name for s in policy.sites] == ["branch-a", "lab"]
    assert len(policy.devices) == 2


@pytest.mark.parametrize("target", sorted(RENDERED))
def test_rendered_examples_are_in_sync(target: str) -> None:
    expected = (CONFIGS / RENDERED[target]).read_text()
    assert _render(target) == expected, (
        f"dhcp-configs/{RENDERED[target]} is stale: run python tests/test_dhcp_configs.py"
    )


if __name__ == "__main__":
    for target, name in sorted(RENDERED.items()):
        if len(sys.argv) > 1 and target not in sys.argv[1:]:
            continue
        (CONFIGS / name).write_text(_render(target))
        print(f"wrote dhcp-configs/{name}")
