"""Fixtures for the namespace lab; every test under integration/ is marked `integration`.

The tests skip, with the reason, when not root or when `ip`/`ss`/`kea-dhcp4` are missing,
except when the environment variable CI is set: CI has everything, so there they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lab import Lab, netns_pair, require

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _lab_requirements(request: pytest.FixtureRequest) -> None:
    if HERE in request.node.path.parents:
        require("ip", "ss", "kea-dhcp4")


@pytest.fixture
def lab() -> Iterator[Lab]:
    with netns_pair("kf") as pair:
        yield pair
