"""Hostile policy text never adds a statement to a rendered configuration (issue: a site name
holding a newline put a live `option domain-name-servers` into dhcpd.conf).

Generated policies carry quotes, braces, '#', ';', newlines, NUL, separators and bidi controls
in every text field that reaches a rendered file. Each is refused when it loads, refused by the
renderer with a reason, or rendered with exactly the statements of the harmless baseline; and
what is rendered passes the real server's own parser (`dhcpd -t`, `dnsmasq --test`,
`kea-dhcp4 -t`), the judge of what a statement is.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from injection import (
    BASELINE,
    HOSTILE,
    SITE,
    VISIBLE,
    dnsmasq_lines_are_known,
    load,
    policy_text,
    render,
    skeleton,
)
from lab import not_packaged

from kea_fanvil.kea_install import installed
from kea_fanvil.policy.models import Policy

TARGETS = ("dhcpd", "dnsmasq", "kea")
FIELDS = st.tuples(SITE, HOSTILE, HOSTILE, VISIBLE, VISIBLE)
MANY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each example starts three real parsers: fewer of them.
REAL = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _baseline(target: str) -> object:
    policy = load(BASELINE)
    assert policy is not None
    text = render(target, policy)
    assert text is not None
    return skeleton(target, text)


@MANY
@given(FIELDS)
def test_hostile_text_adds_no_statement(fields: tuple[str, str, str, str, str]) -> None:
    policy = load(policy_text(*fields))
    if policy is None:
        return
    for target in TARGETS:
        text = render(target, policy)
        if text is None:
            continue
        assert skeleton(target, text) == _baseline(target), (target, text)
        if target == "dnsmasq":
            assert dnsmasq_lines_are_known(text), text


@pytest.mark.parametrize(
    "site",
    [
        "evil\noption domain-name-servers 6.6.6.6;\n#",
        "x\r\ndhcp-option=6,6.6.6.6",
        "a\u2028b",
        "tab\there",
        "nul\x00",
    ],
)
def test_the_reported_site_names_are_refused(site: str) -> None:
    assert load(policy_text(site, "desk", "Fanvil", "x", "x.cfg")) is None


def _check(argv: list[str], path: Path, text: str) -> None:
    path.write_text(text)
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}{done.stderr}\n{text}"


# Printable, so the loader takes them: the renderers must escape them, and each does render.
CRAFTED = [
    ("hq", 'desk"; option x 1; # {', 'Fan"vil;#', 'a";option\\x{}', 'b\\";x{'),
    ("hq", "}\\n{", "Fan'vil", "x,dhcp-option=6,6.6.6.6#", "b,c#d"),
    ("hq", "Ā 名前 \\u0041", "Fanvil", "%0a%0doption=1", "x.cfg"),
]


@pytest.mark.parametrize("fields", CRAFTED)
def test_crafted_text_is_rendered_and_parsed(fields: tuple[str, str, str, str, str]) -> None:
    policy = load(policy_text(*fields))
    assert policy is not None
    rendered = {t: render(t, policy) for t in TARGETS}
    assert rendered["dhcpd"] is not None and rendered["kea"] is not None
    for target, text in rendered.items():
        if text is not None:
            assert skeleton(target, text) == _baseline(target), (target, text)
    _parse_all(policy)


@REAL
@given(FIELDS)
def test_real_parsers_accept_what_is_rendered(fields: tuple[str, str, str, str, str]) -> None:
    policy = load(policy_text(*fields))
    if policy is not None:
        _parse_all(policy)


def _parse_all(policy: Policy) -> None:
    with tempfile.TemporaryDirectory(prefix="kf-inject-") as tmp:
        folder = Path(tmp)
        for target in TARGETS:
            text = render(target, policy, installed().version)
            if text is None:
                continue
            if target == "dhcpd":
                if not_packaged("dhcpd") or not shutil.which("dhcpd", path="/usr/sbin"):
                    continue  # the structure test above still judged it
                conf = folder / "d.conf"
                _check(["/usr/sbin/dhcpd", "-t", "-cf", str(conf)], conf, text)
            elif target == "dnsmasq":
                conf = folder / "m.conf"
                _check(["dnsmasq", "--test", f"--conf-file={conf}"], conf, text)
            else:
                conf = folder / "k.json"
                _check(["kea-dhcp4", "-t", str(conf)], conf, text)
