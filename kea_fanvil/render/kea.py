"""The policy as Kea ``Dhcp4`` client classes, for Kea without the hook (checked on the wire
with 2.2.0, 2.6.3 and 3.0.4).

The output depends on the Kea version it is for (``kea_version``; the CLI's ``--kea-version``,
the installed Kea's by default); what differs is in :class:`~kea_fanvil.kea_install.KeaInstall`.

How each rule of the engine (:mod:`kea_fanvil.engine`) is expressed:

- **Phones.** One class, ``FANVIL``, whose test is the vendor-class prefix, the MAC prefixes and
  the inventory MACs. From 2.5.2 the case-insensitive prefix is
  ``substring(lcase(option[60].hex),0,6) == 0x66616e76696c`` (``lcase`` lowers ASCII letters
  only, as the engine's ``bytes.lower`` does); Kea 2.2 has no ``lcase()``, so there it is
  written per character: ``(substring(option[60].hex,i,1) == 0x46 or ... == 0x66)``.
- **Precedence.** Kea takes each option (and ``boot-file-name``, the ``file`` field) from the
  first class, in definition order, that defines it (measured with 2.2.0). Classes are
  therefore written ``FANVIL``, devices, sites in policy order, then ``fanvil-default`` with the
  default URL: a device's URL or boot file beats its site's, which beats the default, per
  field, as in the engine.
- **Sites.** Kea classifies a query before it picks an address, so a test cannot see the
  offered address (yiaddr); it can see the relay address (``pkt4.giaddr``). In a fragment a
  site is rendered as a relay-address test only when asked (``sites_by_relay``), since a direct
  client on the site's subnet then gets the default URL; otherwise a policy with sites is
  refused. In full mode the only addresses Kea offers are the pool's, so the offered-address
  half is decided here: a site holding the whole pool always matches, one holding none of it
  matches by relay address, one holding part of it is refused. Each site class also tests
  ``not member()`` of the earlier sites that can match the same query, so a later site never
  fills in a URL or boot file the first matching site leaves unset (the engine takes only the
  first site).
- **Option bytes.** Every value is written as hex with ``csv-format: false``, so what goes on
  the wire is exactly the engine's encoding (no escaping, no NUL). Option 43 has no data format
  in Kea (it encapsulates a space); each class that sends it redefines it as ``binary``, which
  Kea allows for 43 inside a class. Codes 128..254 need no definition for hex data.
- **Phone options** (``policy.dhcp_options``: 2, 42, 100, 101, 120 and the VLAN code) are
  option-data in the same classes, hex with ``csv-format: false``: a device's own merged over
  its model's in its device class (a device whose model alone sets options gets a class too),
  the site's in its site class, the default's in ``fanvil-default``; Kea's first-class-wins rule
  gives device > site > default per code. Kea defines 2 (time-offset, int32), 42
  (ntp-servers, ipv4-address array), 100 (pcode) and 101 (tcode, strings) and parses the hex
  by those definitions at configuration time (``kea-dhcp4 -t`` accepts it; the bytes on the
  wire are the engine's); no Kea release defines 120 (``DHO_SIP_SERVERS`` is commented out in
  2.2.0, 2.6.3 and 3.0.4), so it goes out as binary. A VLAN code Kea defines
  (data/server_option_codes.tsv) is refused; the default, 132, is not defined.
  Caveat (measured with 2.2.0): option-data in a subnet (or pool, shared network or host
  reservation) beats a class's, so a subnet's own ``ntp-servers`` reaches the phones instead
  of the policy's; leave these codes out of the subnets that serve phones.
- **always_send** -> ``"always-send": true`` on each option; the BOOTP file field is a header
  field and is set whenever a boot file is decided.
- **Full mode** puts leases in ``/var/lib/kea`` and the control socket in ``/run/kea``, the only
  folders Kea 2.6.3 and later accept, and writes 3.0's ``control-sockets`` list for 3.0 (which
  still reads 2.x's single ``control-socket``; 2.6 refuses the list).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from kea_fanvil.engine import Options, encode_url_options
from kea_fanvil.errors import RenderError
from kea_fanvil.kea_install import KeaInstall, KeaVersion
from kea_fanvil.policy.models import Policy, Site
from kea_fanvil.render import (
    FullConfig,
    PhoneOptionLevels,
    check_custom_code,
    check_vlan_code,
    phone_option_levels,
    policy_digest,
)
from kea_fanvil.wire import options

__all__ = [
    "DEFAULT_CLASS",
    "DEFAULT_KEA_VERSION",
    "OLDEST_KEA_VERSION",
    "OPTION_43_AS_BINARY",
    "PHONE_CLASS",
    "TARGET",
    "control_socket",
    "render",
]

TARGET = "kea"
PHONE_CLASS = "FANVIL"
DEFAULT_CLASS = "fanvil-default"
# Kea's option 43 encapsulates a space and has no data format; a class may redefine it.
OPTION_43_AS_BINARY = {"name": "fanvil-vendor-specific", "code": 43, "type": "binary"}
# The oldest Kea supported, and the default: its output (no lcase, one control-socket) also
# loads in 2.6; 3.0 needs its own full configuration.
OLDEST_KEA_VERSION: KeaVersion = (2, 2, 0)
DEFAULT_KEA_VERSION = OLDEST_KEA_VERSION


def render(
    policy: Policy,
    full: FullConfig | None = None,
    *,
    sites_by_relay: bool = False,
    kea_version: KeaVersion = DEFAULT_KEA_VERSION,
) -> str:
    """Kea JSON: the keys to merge into ``Dhcp4``, or a complete configuration with ``full``."""
    kea = KeaInstall.for_version(kea_version)
    if kea_version < OLDEST_KEA_VERSION:
        raise RenderError(
            TARGET, "kea version", f"{kea.version_text} is older than the oldest supported Kea, 2.2"
        )
    check_custom_code(policy, TARGET, kea_version, f"Kea {kea.version_text}")
    check_vlan_code(policy, TARGET, kea_version, f"Kea {kea.version_text}")
    levels = phone_option_levels(policy)
    if policy.sites and not sites_by_relay and full is None:
        site = policy.sites[0]
        raise RenderError(
            TARGET,
            f"sites[0] ({site.name})",
            "Kea classifies a query before it picks an address, so a client class cannot "
            "test the offered address; render sites by relay address only with "
            "--sites-by-relay (direct clients on a site's subnet then get the default URL), "
            "or render a full configuration (--full: the pool tells which sites hold the offered "
            "address), or use the hook (`kea-fanvil render kea-hook`), which matches both",
        )
    classes = [
        _phone_class(policy, kea),
        *_device_classes(policy, levels),
        *_site_classes(policy, full, levels),
    ]
    classes.append(
        _options_class(
            policy,
            DEFAULT_CLASS,
            f"member('{PHONE_CLASS}')",
            policy.provisioning.url,
            None,
            levels.default,
        )
    )
    dhcp4: dict[str, Any] = {"client-classes": classes}
    if full is not None:
        dhcp4 = _full(full, kea) | dhcp4
    digest = policy_digest(policy)
    document = {
        "Dhcp4": {
            "user-context": {
                "generated-by": f"kea-fanvil from a version 1 policy (sha256 {digest}); "
                "regenerate rather than edit"
            },
            **dhcp4,
        }
    }
    # UTF-8 as is: Kea's JSON parser reads \u escapes only up to \u00ff ("Unsupported unicode
    # escape"), so a device name in any other script would make the file unreadable.
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _option_data(
    policy: Policy, url: str | None, boot: str | None, extras: Options
) -> list[dict[str, Any]]:
    encoded: list[tuple[int, bytes]] = []
    if url is not None:
        encoded += encode_url_options(policy.delivery, url)
    if boot is not None:
        encoded.append((options.OPTION_BOOTFILE_NAME, options.encode_bootfile_name(boot)))
    # The phone options: their codes never meet the URL's (policy cross_check).
    encoded += extras
    out = []
    for code, data in sorted(encoded):
        entry: dict[str, Any] = {"code": code, "csv-format": False, "data": data.hex()}
        if policy.delivery.always_send:
            entry["always-send"] = True
        out.append(entry)
    return out


def _vendor_class_test(prefix: str, kea: KeaInstall) -> str:
    """Option 60 starts with ``prefix``, as the engine tests it: the data with its ASCII letters
    lowered (``bytes.lower``) starts with ``prefix.lower()`` encoded in UTF-8."""
    wanted = prefix.lower().encode()
    if kea.has_lcase:
        # An upper-case ASCII letter is never the result of lowering: such a prefix (only
        # ``str.lower`` of a non-ASCII letter can yield one) never matches, as in the engine.
        if wanted != wanted.lower():
            return "false"
        return f"(substring(lcase(option[60].hex),0,{len(wanted)}) == 0x{wanted.hex()})"
    terms = []
    for i, char in enumerate(wanted):
        # The data bytes whose ASCII-lowered value is ``char``: an upper-case ASCII letter is
        # never the result of lowering (only ``str.lower`` of a non-ASCII letter can yield
        # one), so such a prefix can never match, as in the engine.
        spellings = sorted(v for v in range(256) if bytes([v]).lower()[0] == char)
        if not spellings:
            return "false"
        alternatives = [f"substring(option[60].hex,{i},1) == 0x{c:02x}" for c in spellings]
        terms.append(
            alternatives[0] if len(alternatives) == 1 else f"({' or '.join(alternatives)})"
        )
    return "(" + " and ".join(terms) + ")"


def _mac_test(prefix: str) -> str:
    raw = bytes.fromhex(prefix.replace(":", ""))
    if len(raw) == 6:
        return f"pkt4.mac == 0x{raw.hex()}"
    return f"substring(pkt4.mac,0,{len(raw)}) == 0x{raw.hex()}"


def _phone_class(policy: Policy, kea: KeaInstall) -> dict[str, Any]:
    """FANVIL: which clients are phones. It sends nothing itself; later classes test it."""
    tests = [_vendor_class_test(p, kea) for p in policy.match.vendor_class_prefixes]
    tests += [_mac_test(p) for p in policy.match.mac_prefixes()]
    tests += [_mac_test(d.mac) for d in policy.devices]
    if not tests:
        raise RenderError(TARGET, "match", "no vendor class, MAC prefix or device to match")
    return {"name": PHONE_CLASS, "test": " or ".join(tests)}


def _options_class(
    policy: Policy, name: str, test: str, url: str | None, boot: str | None, extras: Options
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "test": test}
    data = _option_data(policy, url, boot, extras)
    if any(d["code"] == options.OPTION_VENDOR_SPECIFIC for d in data):
        entry["option-def"] = [OPTION_43_AS_BINARY]
    entry["option-data"] = data
    if boot is not None:
        entry["boot-file-name"] = boot
    return entry


def _device_classes(policy: Policy, levels: PhoneOptionLevels) -> list[dict[str, Any]]:
    out = []
    for device, extras in zip(policy.devices, levels.devices, strict=True):
        if device.url is None and device.boot_file is None and not extras:
            continue  # matched by FANVIL; everything comes from the site or default
        name = f"fanvil-device-{device.mac.replace(':', '')}"
        entry = _options_class(
            policy, name, _mac_test(device.mac), device.url, device.boot_file, extras
        )
        if device.name:
            entry["user-context"] = {"name": device.name}
        out.append(entry)
    return out


def _giaddr_test(network: ipaddress.IPv4Network) -> str:
    """``pkt4.giaddr`` inside ``network``: whole bytes compared, a partial byte enumerated."""
    packed = network.network_address.packed
    whole, bits = divmod(network.prefixlen, 8)
    terms = []
    if whole:
        terms.append(f"substring(pkt4.giaddr,0,{whole}) == 0x{packed[:whole].hex()}")
    if bits:
        step = 1 << (8 - bits)
        values = range(packed[whole], packed[whole] + step)
        alternatives = [f"substring(pkt4.giaddr,{whole},1) == 0x{v:02x}" for v in values]
        terms.append("(" + " or ".join(alternatives) + ")")
    if not terms:  # 0.0.0.0/0: any relayed query
        terms.append("not (pkt4.giaddr == 0.0.0.0)")
    return "(" + " and ".join(terms) + ")"


def _pool_share(site: Site, full: FullConfig) -> str:
    """How much of the full configuration's pool the site holds: "all", "none" or "part"."""
    first, last = (int(a) for a in full.pool)
    held = 0
    for network in ipaddress.collapse_addresses(site.subnets):
        low = max(first, int(network.network_address))
        high = min(last, int(network.broadcast_address))
        held += max(0, high - low + 1)
    if held == last - first + 1:
        return "all"
    return "none" if held == 0 else "part"


def _site_name(i: int, site: Site) -> str:
    if site.name != "".join(c for c in site.name if c.isalnum() or c in "-_."):
        raise RenderError(
            TARGET,
            f"sites[{i}] ({site.name})",
            "a site name for Kea may hold letters, digits, '-', '_' and '.'",
        )
    return f"fanvil-site-{site.name}"


def _site_classes(
    policy: Policy, full: FullConfig | None, levels: PhoneOptionLevels
) -> list[dict[str, Any]]:
    """One class per site, in policy order, each excluding the earlier sites that can match
    the same query: the engine takes its URL and boot file from the first matching site only,
    while Kea would fill an option the first class leaves unset from a later class."""
    names = [_site_name(i, site) for i, site in enumerate(policy.sites)]
    always: list[bool] = []  # the site holds the offered address of every query (full mode)
    out = []
    for i, site in enumerate(policy.sites):
        share = "none" if full is None else _pool_share(site, full)
        if share == "part":
            assert full is not None
            raise RenderError(
                TARGET,
                f"sites[{i}] ({site.name})",
                f"its subnet holds part of the pool {full.pool[0]}-{full.pool[1]}; Kea "
                "classifies a query before it picks an address, so which part an address "
                "falls in cannot be tested. Make the site hold all of the pool or none of it, "
                "or use the hook (`kea-fanvil render kea-hook`)",
            )
        always.append(share == "all")
        earlier = [
            names[j]
            for j, other in enumerate(policy.sites[:i])
            if always[i]
            or always[j]
            or any(a.overlaps(b) for a in site.subnets for b in other.subnets)
        ]
        terms = [f"member('{PHONE_CLASS}')", *(f"not member('{n}')" for n in earlier)]
        if not always[i]:
            terms.append("(" + " or ".join(_giaddr_test(n) for n in site.subnets) + ")")
        entry = _options_class(
            policy, names[i], " and ".join(terms), site.url, site.boot_file, levels.sites[i]
        )
        if full is not None:
            entry["user-context"] = {
                "matches": "every query: the site holds the whole pool"
                if always[i]
                else "relayed queries whose relay address is in the site's subnet"
            }
        out.append(entry)
    return out


def _full(full: FullConfig, kea: KeaInstall) -> dict[str, Any]:
    """The rest of a configuration that runs as is: one interface, one subnet, one pool."""
    if full.state_dir and kea.restricts_paths:
        raise RenderError(
            TARGET,
            "--state-dir",
            f"Kea {kea.version_text} keeps lease files in {kea.data_dir} and control sockets "
            f"in {kea.socket_dir} only (Kea 2.6.3 and later refuse other folders); leave "
            "--state-dir out",
        )
    leases = f"{full.state_dir or kea.data_dir}/kea-leases4.csv"
    socket = f"{full.state_dir or kea.socket_dir}/kea4-ctrl-socket"
    return {
        "interfaces-config": {"interfaces": [full.interface]},
        # For `config-reload` and `kea-shell` (see docs/kea-native.md).
        **control_socket(kea, socket),
        "lease-database": {"type": "memfile", "persist": True, "name": leases},
        "valid-lifetime": 3600,
        "subnet4": [
            {
                "id": 1,
                "subnet": str(full.subnet),
                "interface": full.interface,
                "pools": [{"pool": f"{full.pool[0]} - {full.pool[1]}"}],
            }
        ],
    }


def control_socket(kea: KeaInstall, path: str) -> dict[str, Any]:
    """The ``Dhcp4`` key of a unix control socket at ``path``: 2.x's ``control-socket``, or the
    ``control-sockets`` list that supersedes it in 3.0."""
    entry = {"socket-type": "unix", "socket-name": path}
    if kea.control_sockets_list:
        return {"control-sockets": [entry]}
    return {"control-socket": entry}
