"""Hostile policy text and the rendered configurations (helpers for the injection tests).

Every text a policy carries into a rendered file (site and device names, vendor-class
prefixes, URLs, boot files, time-zone strings) is drawn from characters that end comments,
strings or statements in dhcpd, dnsmasq or Kea JSON. A policy holding them must be refused when
it loads, or refused by the renderer with a reason, or rendered with exactly the statements the
same policy renders with harmless text: never one more. ``skeleton`` says what "the
statements" are for each format.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import yaml
from hypothesis import strategies as st

from kea_fanvil import PolicyError, RenderError, parse_policy
from kea_fanvil.policy.models import Policy
from kea_fanvil.render import FullConfig, dhcpd, dnsmasq, kea

# What ends or opens something in one of the three formats, and what hides in a terminal.
PRINTABLE_SPECIALS = [*"\"'\\{};#,=$:/[]()<>|&!*?%@^`~ "]
INVISIBLE = [*"\n\r\t\x00\x0b\x0c\x1b\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u200b"]
_VISIBLE = st.one_of(
    st.sampled_from(PRINTABLE_SPECIALS), st.characters(categories=["L", "M", "N", "P", "S"])
)
_ANY = st.one_of(st.sampled_from(PRINTABLE_SPECIALS + INVISIBLE), st.characters())
# Mostly text the loader accepts, so the renderers' escaping is what is tested; now and then
# an invisible character, which the loader must refuse.
HOSTILE = st.one_of(
    st.text(_VISIBLE, min_size=1, max_size=24),
    st.text(_VISIBLE, min_size=1, max_size=24),
    st.text(_ANY, min_size=1, max_size=24),
)
# Site names that dnsmasq and Kea can name (letters, digits, . _ -), or hostile ones.
SITE = st.one_of(st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True), HOSTILE)
VISIBLE = st.text(st.sampled_from([chr(c) for c in range(0x21, 0x7F)]), min_size=1, max_size=40)

FULL = FullConfig(
    "lo",  # `kea-dhcp4 -t` checks that a subnet's interface exists
    ipaddress.IPv4Network("198.18.0.0/24"),
    (ipaddress.IPv4Address("198.18.0.100"), ipaddress.IPv4Address("198.18.0.199")),
)


def policy_text(site: str, device: str, prefix: str, path: str, boot: str) -> str:
    """A policy with each hostile value in its place, as YAML (so the loader sees it too)."""
    document = {
        "version": 1,
        "provisioning": {"url": f"http://prov.example.com/{path}"},
        "delivery": {"option_43": "string", "custom_option": 160},
        "match": {"vendor_class_prefixes": [prefix]},
        "sites": [
            {
                "name": site,
                "subnet": "198.18.64.0/18",
                "url": f"http://site.example.com/{path}",
                "boot_file": boot,
                # Phone options carry text too: a POSIX TZ string is any visible ASCII.
                "dhcp_options": {"posix_timezone": boot, "vlan": 20},
            }
        ],
        "devices": [
            {
                "mac": "0c:38:3e:11:3a:f8",
                "name": device,
                "boot_file": boot,
                "dhcp_options": {"posix_timezone": path},
            }
        ],
    }
    return yaml.safe_dump(document, allow_unicode=True)


BASELINE = policy_text("site", "desk", "Fanvil", "x", "x.cfg")


def load(text: str) -> Policy | None:
    """The policy, or None when the loader refuses it (which must be with a reason)."""
    try:
        return parse_policy(text, "hostile.yaml")
    except PolicyError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        return None


def render(
    target: str, policy: Policy, kea_version: tuple[int, int, int] = (2, 6, 3)
) -> str | None:
    """The rendered configuration, or None when the renderer refuses (with a reason)."""
    try:
        if target == "kea":
            return kea.render(policy, FULL, kea_version=kea_version)
        module = dhcpd if target == "dhcpd" else dnsmasq
        return module.render(policy, FULL)
    except RenderError as exc:
        assert str(exc).startswith(f"{target}: ")
        return None


def _dhcpd_statements(text: str) -> list[str]:
    """dhcpd's statement punctuation outside strings and comments, in order (its lexer: '#'
    to the end of the line is a comment, '"' strings take backslash escapes)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char in ";{}":
            out.append(char)
        i += 1
    return out


# An option name alone (`bind-interfaces`) or before its value (`dhcp-range=...`).
_DNSMASQ_KEY = re.compile(r"([a-z][a-z0-9-]*)(?:=|$)")


def _dnsmasq_keys(text: str) -> list[str]:
    """dnsmasq reads one option per line; '#' starts a comment line. Each statement line's
    option name ('?' and the line when it has none)."""
    keys = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = _DNSMASQ_KEY.match(line)
        keys.append(found[1] if found else f"?{line}")
    return keys


def _dnsmasq_statements(text: str) -> list[str]:
    """The statements other than dhcp-match, whose count follows the prefix's letters."""
    return [k for k in _dnsmasq_keys(text) if k != "dhcp-match"]


def _kea_structure(value: Any) -> Any:
    """The JSON document with every string blanked: what the parser builds, minus contents."""
    if isinstance(value, dict):
        return {k: _kea_structure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_kea_structure(v) for v in value]
    return "" if isinstance(value, str) else value


def skeleton(target: str, text: str) -> Any:
    if target == "dhcpd":
        return _dhcpd_statements(text)
    if target == "dnsmasq":
        return _dnsmasq_statements(text)
    return _kea_structure(json.loads(text))


def dnsmasq_lines_are_known(text: str) -> bool:
    """Every statement line is one of the options the renderer writes (dhcp-match included)."""
    policy = load(BASELINE)
    assert policy is not None
    baseline = render("dnsmasq", policy)
    assert baseline is not None
    return set(_dnsmasq_keys(text)) <= set(_dnsmasq_keys(baseline)) | {"dhcp-match"}
