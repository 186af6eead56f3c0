"""The policy as dnsmasq configuration (checked against dnsmasq 2.90).

How each rule of the engine (:mod:`kea_fanvil.engine`) is expressed:

- **Vendor class.** ``dhcp-vendorclass`` is a case-sensitive *substring* match, so it is not
  used. ``dhcp-match=set:fanvil,60,<hex>`` with a colon-separated hex value is a *prefix*
  match ("the option sent may have unmatched data past the end of the value", dnsmasq(8)),
  still case-sensitive: every upper/lower-case spelling of the prefix's ASCII letters gets its
  own line (64 lines for ``Fanvil``), which is exactly the engine's ASCII-case-insensitive
  prefix. A one-byte prefix cannot be written as a hex match (dnsmasq reads it as a number and
  substring-matches it) and a prefix with more than :data:`MAX_CASE_LETTERS` letters would need
  too many lines: both raise :class:`RenderError`.
- **MAC prefix.** ``dhcp-mac=set:fanvil,0c:38:3e:*:*:*``.
- **Devices.** ``dhcp-mac`` with the full address (not ``dhcp-host``, which would compete with
  the administrator's own ``dhcp-host`` lines for the same phone).
- **Sites.** dnsmasq cannot test giaddr; a site is known by the tag of the ``dhcp-range`` the
  address comes from: ``set:fanvil-site-<name>`` (see :func:`site_tag`). In full mode the
  renderer writes those ranges itself; in a fragment the administrator tags their ranges.
- **Precedence.** Every option line carries ``tag:`` and ``tag:!`` conditions that make the
  device, site and default lines mutually exclusive, so no line order or dnsmasq tie-break
  rule decides (range tags are "second class" in dnsmasq, but a ``tag:!`` on one is
  re-checked with them, dnsmasq(8) "The tag system").
- **Phone options** (``policy.dhcp_options``), per code, as the URL is: each distinct set of
  device options (a device's own merged over its model's) has a tag, ``fanvil-opts<k>``, set by
  the device's ``dhcp-mac`` line, and ``tag-if`` gives its devices :func:`dev_option_tag` for
  each code the set holds (``fanvil-dev-o42``); the site and default lines for that code carry
  ``tag:!fanvil-dev-o<code>`` and the site conditions. dnsmasq reads a value by its own option
  table, so each is written in the form that gives the engine's bytes: 42 (ntp-server, an
  address list that refuses hex) as dotted addresses; 100 and 101 (posix-timezone,
  tzdb-timezone, names for which hex would be sent as its characters) as quoted strings with
  ``\\`` and ``\"`` escaped; 120 (sip-server, whose text dnsmasq re-encodes as RFC 3361
  names) as hex; 2 and the VLAN code as hex or a quoted string (:func:`_value`). An NTP
  address 0.0.0.0 (which dnsmasq replaces with its own address) and a VLAN code dnsmasq
  defines (150) are refused.
- **always_send** -> ``dhcp-option-force``, else ``dhcp-option``.
- **Boot file** -> ``dhcp-boot`` (the BOOTP file field) plus ``dhcp-option[-force]=...,67,...``.
  dnsmasq moves dhcp-boot's name out of the file field into option 67 when the client asks for
  67, unless ``dhcp-no-override`` is set: full mode sets it; a fragment cannot (it is global),
  so there a phone asking for 67 gets an empty file field.

Known differences on the wire (measured, see integration/test_render_dnsmasq_wire.py):
dnsmasq always appends a NUL to options 66 and 67 ("buggy PXE" work-around in its source,
whatever the value's form), so they carry ``URL + b"\\0"``. The phone options (2, 42, 100,
101, 120 and the VLAN code, in every vlan_format) go out exactly as the engine encodes them:
no NUL after 100 and 101.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterable
from typing import TypeVar

from kea_fanvil.engine import Options, encode_url_options
from kea_fanvil.errors import RenderError
from kea_fanvil.policy.models import Policy
from kea_fanvil.render import (
    FullConfig,
    PhoneOptionLevels,
    check_custom_code,
    check_vlan_code,
    comment_text,
    phone_option_levels,
    policy_digest,
)
from kea_fanvil.wire import options
from kea_fanvil.wire import phone_options as phone

__all__ = [
    "DEV_BOOT_TAG",
    "DEV_URL_TAG",
    "MAX_CASE_LETTERS",
    "PHONE_TAG",
    "TARGET",
    "dev_option_tag",
    "render",
    "site_tag",
]

TARGET = "dnsmasq"
PHONE_TAG = "fanvil"
DEV_URL_TAG = "fanvil-dev-url"
DEV_BOOT_TAG = "fanvil-dev-boot"
MAX_CASE_LETTERS = 10  # 2**10 = 1024 dhcp-match lines for one vendor class prefix
_SAFE_STRING = re.compile(r"[A-Za-z0-9._~:/?@!$&()*+;=%\[\]{}|^`<>-]+")
_TAG_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_T = TypeVar("_T", str, bytes)


def render(policy: Policy, full: FullConfig | None = None) -> str:
    """dnsmasq configuration lines for ``policy``; a complete file when ``full`` is given."""
    check_custom_code(policy, TARGET)
    check_vlan_code(policy, TARGET, shown="dnsmasq 2.90")
    levels = phone_option_levels(policy)
    lines = _header(policy)
    site_tags = [site_tag(site.name) for site in policy.sites]
    _check_sites(policy, site_tags)
    if full is not None:
        lines += _full(policy, full, site_tags)
    lines += ["", "# Which clients are Fanvil phones (tag fanvil)."]
    lines += _vendor_class_lines(policy)
    for prefix in policy.match.mac_prefixes():
        octets = prefix.split(":")
        lines.append(f"dhcp-mac=set:{PHONE_TAG},{':'.join(octets + ['*'] * (6 - len(octets)))}")
    lines += _device_lines(policy, levels)
    lines += _option_lines(policy, site_tags)
    lines += _phone_option_lines(policy, site_tags, levels)
    return "\n".join(lines) + "\n"


def site_tag(name: str) -> str:
    """The dnsmasq tag that marks the ``dhcp-range``\\ s of a site."""
    return f"fanvil-site-{name}"


def dev_option_tag(code: int) -> str:
    """The tag of the devices that send phone option ``code`` themselves (or their model)."""
    return f"fanvil-dev-o{code}"


def _header(policy: Policy) -> list[str]:
    digest = policy_digest(policy)
    return [
        f"# Generated by kea-fanvil from a version {policy.version} policy "
        f"(sha256 {digest}). Do not edit: regenerate.",
        "# Target: dnsmasq >= 2.90. Options 66 and 67 go out with a trailing NUL (dnsmasq).",
    ]


def _check_sites(policy: Policy, tags: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, (site, tag) in enumerate(zip(policy.sites, tags, strict=True)):
        where = f"sites[{i}] ({site.name})"
        if not _TAG_NAME.fullmatch(site.name):
            raise RenderError(
                TARGET,
                where,
                "a site name becomes a dnsmasq tag: use only letters, digits, '.', '_' and '-'",
            )
        first = seen.setdefault(tag, i)
        if first != i:
            raise RenderError(TARGET, where, f"tag {tag} is already sites[{first}]'s")


def _full(policy: Policy, full: FullConfig, site_tags: list[str]) -> list[str]:
    subnet = full.subnet
    lines = [
        "",
        "# Complete configuration: DHCP only (port=0 turns DNS off).",
        "port=0",
        f"interface={full.interface}",
        "bind-interfaces",
        "no-ping",  # dnsmasq pings each address before offering it (about 3 s) otherwise
        "dhcp-authoritative",
        # Keep dhcp-boot's name in the BOOTP file field even when the client asks for option
        # 67 (dnsmasq would otherwise move it to option 67 and leave the field empty).
        "dhcp-no-override",
    ]
    if full.state_dir is not None:
        lines.append(f"dhcp-leasefile={full.state_dir.rstrip('/')}/dnsmasq.leases")
    for first, last, site in _pool_segments(policy, full.pool):
        tag = f"set:{site_tags[site]}," if site is not None else ""
        lines.append(f"dhcp-range={tag}{first},{last},{subnet.netmask},1h")
    return lines


def _pool_segments(
    policy: Policy, pool: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
) -> list[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address, int | None]]:
    """Split the pool where site subnets begin and end; each part has its first site."""
    low, high = int(pool[0]), int(pool[1])
    cuts = {low, high + 1}
    for each in policy.sites:
        for net in each.subnets:
            for edge in (int(net.network_address), int(net.broadcast_address) + 1):
                if low < edge <= high:
                    cuts.add(edge)
    bounds = sorted(cuts)
    segments: list[tuple[int, int, int | None]] = []
    for start, stop in itertools.pairwise(bounds):
        address = ipaddress.IPv4Address(start)
        site = next(
            (i for i, s in enumerate(policy.sites) if any(address in n for n in s.subnets)),
            None,
        )
        if segments and segments[-1][2] == site and segments[-1][1] == start - 1:
            segments[-1] = (segments[-1][0], stop - 1, site)
        else:
            segments.append((start, stop - 1, site))
    return [(ipaddress.IPv4Address(a), ipaddress.IPv4Address(b), site) for a, b, site in segments]


def _vendor_class_lines(policy: Policy) -> list[str]:
    lines: dict[str, None] = {}
    for i, prefix in enumerate(policy.match.vendor_class_prefixes):
        where = f"match.vendor_class_prefixes[{i}] ({prefix})"
        data = prefix.lower().encode()
        if len(data) < 2:
            raise RenderError(
                TARGET,
                where,
                "dnsmasq can prefix-match option 60 only on 2 bytes or more "
                "(a one-byte value is read as a number and matched anywhere)",
            )
        letters = [j for j, b in enumerate(data) if 0x61 <= b <= 0x7A]
        if len(letters) > MAX_CASE_LETTERS:
            raise RenderError(
                TARGET,
                where,
                f"dnsmasq matches option 60 case-sensitively; {len(letters)} letters would need "
                f"{2 ** len(letters)} dhcp-match lines (at most {MAX_CASE_LETTERS} letters)",
            )
        for upper in itertools.product((False, True), repeat=len(letters)):
            variant = bytearray(data)
            for j, up in zip(letters, upper, strict=True):
                if up:
                    variant[j] -= 0x20
            lines[f"dhcp-match=set:{PHONE_TAG},60,{bytes(variant).hex(':')}"] = None
    if lines:
        return [
            "# Option 60 starts with a prefix, in any letter case (one line per spelling).",
            *lines,
        ]
    return []


def _device_lines(policy: Policy, levels: PhoneOptionLevels) -> list[str]:
    if not policy.devices:
        return []
    lines = ["", "# Inventory devices."]
    urls = _distinct(d.url for d in policy.devices)
    boots = _distinct(d.boot_file for d in policy.devices)
    sets = _distinct_sets(levels.devices)
    for device, extras in zip(policy.devices, levels.devices, strict=True):
        lines.append(f"dhcp-mac=set:{PHONE_TAG},{device.mac}")
        if extras:
            lines.append(f"dhcp-mac=set:fanvil-opts{sets[extras]},{device.mac}")
        if device.url:
            lines.append(f"dhcp-mac=set:{DEV_URL_TAG},{device.mac}")
            lines.append(f"dhcp-mac=set:fanvil-url{urls[device.url]},{device.mac}")
        if device.boot_file:
            lines.append(f"dhcp-mac=set:{DEV_BOOT_TAG},{device.mac}")
            lines.append(f"dhcp-mac=set:fanvil-boot{boots[device.boot_file]},{device.mac}")
    return lines


def _distinct_sets(levels: Iterable[Options]) -> dict[Options, int]:
    """Each distinct non-empty set of device phone options, numbered in first-seen order."""
    found: dict[Options, int] = {}
    for level in levels:
        if level and level not in found:
            found[level] = len(found)
    return found


def _distinct(values: Iterable[str | None]) -> dict[str, int]:
    found: dict[str, int] = {}
    for value in values:
        if value is not None and value not in found:
            found[value] = len(found)
    return found


def _site_choices(
    policy: Policy, site_tags: list[str], field: str
) -> list[tuple[list[str], str | None]]:
    """(tag conditions, site value or None) for each way the first matching site is chosen.

    The engine takes the first site whose subnet matches; a site without a value for ``field``
    still hides the sites after it. Sites after the last one with a value change nothing.
    """
    return _choices([getattr(site, field) for site in policy.sites], site_tags)


def _choices(values: list[_T | None], site_tags: list[str]) -> list[tuple[list[str], _T | None]]:
    """:func:`_site_choices` for one value per site (None: the site does not set it)."""
    last = max((i for i, v in enumerate(values) if v), default=-1)
    choices: list[tuple[list[str], _T | None]] = []
    for i in range(last + 1):
        conditions = [f"tag:!{site_tags[j]}" for j in range(i)] + [f"tag:{site_tags[i]}"]
        choices.append((conditions, values[i]))
    choices.append(([f"tag:!{site_tags[j]}" for j in range(last + 1)], None))
    return choices


def _option_lines(policy: Policy, site_tags: list[str]) -> list[str]:
    delivery = policy.delivery
    keyword = "dhcp-option-force" if delivery.always_send else "dhcp-option"
    default = policy.provisioning.url
    lines = ["", f"# The URL ({'sent always' if delivery.always_send else 'sent when asked'})."]

    def url_lines(conditions: list[str], url: str) -> None:
        tags = ",".join(conditions)
        lines.append(f"# {comment_text(url)}")
        for code, data in encode_url_options(delivery, url):
            lines.append(f"{keyword}={tags},{code},{_value(code, data)}")

    for url, k in _distinct(d.url for d in policy.devices).items():
        url_lines([f"tag:fanvil-url{k}"], url)
    not_device = [f"tag:{PHONE_TAG}"] + ([f"tag:!{DEV_URL_TAG}"] if policy.devices else [])
    for conditions, site_url in _site_choices(policy, site_tags, "url"):
        url_lines(not_device + conditions, site_url or default)

    boot_lines: list[str] = []

    def boot(conditions: list[str], name: str, where: str) -> None:
        tags = ",".join(conditions)
        boot_lines.append(f"dhcp-boot={tags},{_boot_name(name, where)}")
        data = options.encode_bootfile_name(name)
        boot_lines.append(f"{keyword}={tags},67,{_value(67, data)}")

    boots = _distinct(d.boot_file for d in policy.devices)
    for name, k in boots.items():
        i = next(i for i, d in enumerate(policy.devices) if d.boot_file == name)
        boot([f"tag:fanvil-boot{k}"], name, f"devices[{i}] ({policy.devices[i].mac})")
    not_device = [f"tag:{PHONE_TAG}"] + ([f"tag:!{DEV_BOOT_TAG}"] if policy.devices else [])
    if any(site.boot_file for site in policy.sites):
        for i, (conditions, choice) in enumerate(_site_choices(policy, site_tags, "boot_file")):
            if choice:
                boot(not_device + conditions, choice, f"sites[{i}] ({policy.sites[i].name})")
    if boot_lines:
        lines += ["", "# Boot file (BOOTP file field, option 67).", *boot_lines]
    return lines


def _phone_option_lines(
    policy: Policy, site_tags: list[str], levels: PhoneOptionLevels
) -> list[str]:
    """Per phone option code: the device lines, then the site and default lines, made
    mutually exclusive by tags as the URL's are (a device that sends the code has
    :func:`dev_option_tag`, set by ``tag-if`` from its option set's tag)."""
    if not levels.codes:
        return []
    always = policy.delivery.always_send
    keyword = "dhcp-option-force" if always else "dhcp-option"
    lines = ["", f"# Phone options ({'sent always' if always else 'sent when asked'})."]
    sets = _distinct_sets(levels.devices)
    for extras, k in sets.items():
        lines += [f"tag-if=set:{dev_option_tag(code)},tag:fanvil-opts{k}" for code, _ in extras]
        lines += [
            f"{keyword}=tag:fanvil-opts{k},{code},{_phone_value(code, data)}"
            for code, data in extras
        ]
    device_codes = levels.device_codes()
    default = dict(levels.default)
    for code in levels.codes:
        not_device = [f"tag:{PHONE_TAG}"]
        if code in device_codes:
            not_device.append(f"tag:!{dev_option_tag(code)}")
        per_site = [dict(extras).get(code) for extras in levels.sites]
        for conditions, data in _choices(per_site, site_tags):
            chosen = data if data is not None else default.get(code)
            if chosen is not None:
                tags = ",".join(not_device + conditions)
                lines.append(f"{keyword}={tags},{code},{_phone_value(code, chosen)}")
    return lines


def _phone_value(code: int, data: bytes) -> str:
    """A phone option's value that dnsmasq 2.90 sends as exactly ``data``.

    dnsmasq reads values by its own table (``dnsmasq --help dhcp``): 42 (ntp-server) takes
    addresses only, 100 and 101 (posix-timezone, tzdb-timezone) take text only (hex would be
    sent as its characters), 120 (sip-server) re-encodes text as RFC 3361 names. Hence:
    addresses for 42, a quoted string for 100 and 101, hex for 120, and :func:`_value`'s
    choice otherwise."""
    if code == phone.OPTION_NTP_SERVERS:
        addresses = [ipaddress.IPv4Address(data[i : i + 4]) for i in range(0, len(data), 4)]
        if any(a.packed == bytes(4) for a in addresses):
            raise RenderError(
                TARGET,
                "dhcp_options (ntp_servers)",
                "dnsmasq sends its own address in place of 0.0.0.0; list the NTP server's "
                "real address",
            )
        return ",".join(map(str, addresses))
    if code in (phone.OPTION_POSIX_TIMEZONE, phone.OPTION_TZDB_TIMEZONE):
        # Visible ASCII (policy); inside quotes dnsmasq keeps ',' and '#' and reads \\ and \".
        return '"' + data.decode("ascii").replace("\\", "\\\\").replace('"', '\\"') + '"'
    if code == phone.OPTION_SIP_SERVERS:
        return data.hex(":")
    if len(data) == 1 and not _SAFE_STRING.fullmatch(data.decode("latin-1")):
        # One hex byte is read as a number by dnsmasq; no encoder makes one (VLAN "decimal"
        # is text, the integers are 2 or 4 octets).
        raise RenderError(
            TARGET, "dhcp_options", f"option {code}: dnsmasq cannot send the single byte {data!r}"
        )
    return _value(code, data)


def _value(code: int, data: bytes) -> str:
    """An option value dnsmasq sends as exactly ``data`` (66 and 67 get dnsmasq's NUL).

    A quoted string when it holds no character dnsmasq's parser treats specially, else hex
    (binary sub-options, URLs with commas, quotes, backslashes or '#').
    """
    text = data.decode("latin-1")
    if _SAFE_STRING.fullmatch(text):
        return f'"{text}"'
    return data.hex(":")


def _boot_name(name: str, where: str) -> str:
    # dhcp-boot takes a file name, not hex; every boot file the policy accepts is ASCII
    # without spaces, so only the characters dnsmasq's parser treats specially are refused.
    if not _SAFE_STRING.fullmatch(name):
        raise RenderError(
            TARGET,
            where,
            f"boot file {name!r}: dnsmasq's dhcp-boot cannot hold , \" ' \\ or #",
        )
    return name
