"""Renderers: the same policy as configuration for other DHCP servers.

Each target module exposes ``render(policy, full=None) -> str``: a fragment to merge into an
existing configuration, or with :class:`FullConfig` a complete configuration that runs as is.
Output is deterministic (same policy, same bytes). What a target cannot express raises
:class:`~kea_fanvil.errors.RenderError` naming the policy entry.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from importlib import resources

from kea_fanvil.engine import Options, device_phone_options, phone_options
from kea_fanvil.errors import RenderError
from kea_fanvil.policy import dhcp_options
from kea_fanvil.policy.models import Policy

__all__ = [
    "DefinedCode",
    "FullConfig",
    "PhoneOptionLevels",
    "check_custom_code",
    "check_vlan_code",
    "comment_text",
    "defined_code",
    "phone_option_levels",
    "policy_digest",
]

# A Linux interface name (IFNAMSIZ: 15 bytes) as the three servers take it on their command
# lines and in their configuration: no spaces, quotes, '/', ',' or '#'.
_INTERFACE = re.compile(r"[A-Za-z0-9_.@-]{1,15}")
# An absolute folder every target can name unquoted (dnsmasq has no quoting for paths).
_STATE_DIR = re.compile(r"/[A-Za-z0-9_./@+-]*")


@dataclass(frozen=True)
class FullConfig:
    """What a complete configuration needs beyond the policy."""

    interface: str
    subnet: ipaddress.IPv4Network
    pool: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
    # Where servers need their own files (leases, control socket); None = the target's default.
    state_dir: str | None = None

    def __post_init__(self) -> None:
        # Both end up in rendered files verbatim: refused here rather than escaped per target.
        if not _INTERFACE.fullmatch(self.interface):
            raise ValueError(
                f"interface '{comment_text(self.interface)}': an interface name is 1 to 15 "
                "letters, digits, '.', '_', '@' or '-'"
            )
        if self.state_dir is not None and (
            not _STATE_DIR.fullmatch(self.state_dir) or "/../" in f"{self.state_dir}/"
        ):
            raise ValueError(
                f"state folder '{comment_text(self.state_dir)}': an absolute path of letters, "
                "digits and . _ / @ + - only, without '..'"
            )


def comment_text(text: str) -> str:
    """``text`` for a one-line comment in any rendered file: printable ASCII stays, everything
    else (a newline would end the comment and start a statement) becomes a backslash escape.

    The policy refuses control characters in its text already; this keeps a renderer safe
    whatever it is handed."""
    return "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode() for c in text)


@dataclass(frozen=True)
class DefinedCode:
    """An option code a server defines itself (data/server_option_codes.tsv)."""

    server: str
    since: tuple[int, ...]
    code: int
    name: str
    format: str


@functools.cache
def _defined_codes() -> tuple[DefinedCode, ...]:
    text = resources.files("kea_fanvil").joinpath("data/server_option_codes.tsv").read_text()
    rows = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            server, since, code, name, form = line.split("\t")
            release = tuple(map(int, since.split(".")))
            rows.append(DefinedCode(server, release, int(code), name, form))
    return tuple(rows)


def defined_code(server: str, code: int, version: tuple[int, ...] = ()) -> DefinedCode | None:
    """What ``server`` (at ``version``; any when empty) already defines at option ``code``."""
    for row in _defined_codes():
        if row.server == server and row.code == code and (not version or version >= row.since):
            return row
    return None


def check_custom_code(
    policy: Policy, server: str, version: tuple[int, ...] = (), shown: str = ""
) -> None:
    """Refuse a custom_option code the server defines with a format of its own, saying what
    it defines there: the server's configuration test would refuse the URL. ``shown``: how
    the message names the server (with its version)."""
    code = policy.delivery.custom_option
    found = defined_code(server, code, version) if code is not None else None
    if found is not None:
        raise RenderError(
            server,
            "delivery.custom_option",
            f"{shown or server} defines option {code} itself, as {found.name} "
            f"({found.format}), and refuses a URL there; choose another code from 128-254 "
            "for the phones (the Kea hook sends any code)",
        )


def check_vlan_code(
    policy: Policy, server: str, version: tuple[int, ...] = (), shown: str = ""
) -> None:
    """Refuse a ``dhcp_options.vlan_option`` the server defines with a format of its own (as
    :func:`check_custom_code` does for the URL's code), when some level sends a VLAN."""
    section = phone_options(policy)
    code = section.vlan_option
    if not any(code in dict(level) for level in phone_option_levels(policy).all_levels()):
        return
    found = defined_code(server, code, version)
    if found is not None:
        raise RenderError(
            server,
            "dhcp_options.vlan_option",
            f"{shown or server} defines option {code} itself, as {found.name} "
            f"({found.format}), and would not send the VLAN's bytes there; choose another "
            "code from 128-254 (set the phones' DHCPOptionVlan to match)",
        )


@dataclass(frozen=True)
class PhoneOptionLevels:
    """The phone options (policy.dhcp_options) of each level a renderer writes, encoded:
    per code, a device's beat its site's, which beat the default's (the engine's order)."""

    default: Options
    sites: tuple[Options, ...]  # in policy.sites order
    devices: tuple[Options, ...]  # in policy.devices order, each with its model's merged in

    def all_levels(self) -> tuple[Options, ...]:
        return (self.default, *self.sites, *self.devices)

    @property
    def codes(self) -> tuple[int, ...]:
        """Every code some level sends, in order."""
        return tuple(sorted({code for level in self.all_levels() for code, _ in level}))

    def device_codes(self) -> frozenset[int]:
        """The codes some device sends itself (its own or its model's)."""
        return frozenset(code for level in self.devices for code, _ in level)


def phone_option_levels(policy: Policy) -> PhoneOptionLevels:
    """The policy's phone options at the three levels a renderer writes."""
    section = phone_options(policy)
    by_model = dhcp_options.encode_models(section)
    return PhoneOptionLevels(
        dhcp_options.encode(section.default, section),
        tuple(dhcp_options.encode(s.dhcp_options, section) for s in policy.sites),
        tuple(device_phone_options(section, d, by_model) for d in policy.devices),
    )


def policy_digest(policy: Policy) -> str:
    """A short fingerprint of the validated policy, for the "generated by" header lines."""
    text = policy.model_dump_json()
    if policy.dhcp_options is not None and policy.dhcp_options.models:
        # Device.model is left out of dumps (the provisioning files' field), but here it picks
        # each device's model options, so it moves the output and must move the fingerprint.
        text += "\n" + ",".join(d.model or "" for d in policy.devices)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
