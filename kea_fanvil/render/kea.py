"""The policy as Kea ``Dhcp4`` client classes, for Kea without the hook (checked with 2.2.0).

How each rule of the engine (:mod:`kea_fanvil.engine`) is expressed:

- **Phones.** One class, ``FANVIL``, whose test is the vendor-class prefix, the MAC prefixes and
  the inventory MACs. Kea 2.2 has no ``lcase()``, so the case-insensitive prefix is written per
  character: ``(substring(option[60].hex,i,1) == 0x46 or substring(option[60].hex,i,1) == 0x66)``.
- **Precedence.** Kea takes each option (and ``boot-file-name``) from the first class, in
  definition order, that defines it. Classes are therefore written device first, then sites in
  policy order, then ``FANVIL`` with the default URL: a device's URL beats its site's, and the
  first matching site wins, as in the engine.
- **Sites.** Kea classifies a query before it picks an address, so a test cannot see the
  offered address (yiaddr); it can see the relay address. A site is rendered as a test on
  ``pkt4.giaddr`` only when asked (``sites_by_relay``), since a direct client on the site's
  subnet then gets the default URL; otherwise a policy with sites is refused. The hook matches
  both.
- **Option bytes.** Every value is written as hex with ``csv-format: false``, so what goes on
  the wire is exactly the engine's encoding (no escaping, no NUL). Option 43 has no data format
  in Kea (it encapsulates a space); the ``FANVIL`` class redefines it as ``binary``, which Kea
  allows for 43 inside a class. Codes 128..254 need no definition for hex data.
- **always_send** -> ``"always-send": true`` on each option; the BOOTP file field is a header
  field and is set whenever a boot file is decided.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import options
from ..engine import Engine, encode_url_options
from ..errors import RenderError
from ..policy import Policy
from . import FullConfig

TARGET = "kea"
PHONE_CLASS = "FANVIL"
DEFAULT_CLASS = "fanvil-default"
# Kea's option 43 encapsulates a space and has no data format; a class may redefine it.
OPTION_43_AS_BINARY = {"name": "fanvil-vendor-specific", "code": 43, "type": "binary"}


def render(policy: Policy, full: FullConfig | None = None, *, sites_by_relay: bool = False) -> str:
    """Kea JSON: the keys to merge into ``Dhcp4``, or a complete configuration with ``full``."""
    if policy.sites and not sites_by_relay:
        site = policy.sites[0]
        raise RenderError(
            TARGET,
            f"sites[0] ({site.name})",
            "Kea classifies a query before it picks an address, so a client class cannot "
            "test the offered address; render sites by relay address only with "
            "--sites-by-relay (direct clients on a site's subnet then get the default URL), "
            "or use the hook (`kea-fanvil render kea-hook`), which matches both",
        )
    classes = [_phone_class(policy), *_device_classes(policy), *_site_classes(policy)]
    classes.append(
        _options_class(
            policy, DEFAULT_CLASS, f"member('{PHONE_CLASS}')", policy.provisioning.url, None
        )
    )
    dhcp4: dict[str, Any] = {"client-classes": classes}
    if full is not None:
        dhcp4 = _full(full) | dhcp4
    digest = hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:16]
    document = {
        "Dhcp4": {
            "user-context": {
                "generated-by": f"kea-fanvil from a version 1 policy (sha256 {digest}); "
                "regenerate rather than edit"
            },
            **dhcp4,
        }
    }
    return json.dumps(document, indent=2) + "\n"


def _option_data(policy: Policy, url: str | None, boot: str | None) -> list[dict[str, Any]]:
    encoded: list[tuple[int, bytes]] = []
    if url is not None:
        encoded += encode_url_options(policy.delivery, url)
    if boot is not None:
        encoded.append((options.OPTION_BOOTFILE_NAME, options.encode_bootfile_name(boot)))
    out = []
    for code, data in sorted(encoded):
        entry: dict[str, Any] = {"code": code, "csv-format": False, "data": data.hex()}
        if policy.delivery.always_send:
            entry["always-send"] = True
        out.append(entry)
    return out


def _vendor_class_test(prefix: str) -> str:
    terms = []
    for i, char in enumerate(prefix.encode()):
        # ASCII letters only, as the engine's bytes.lower() does.
        spellings = sorted({char, *bytes([char]).lower(), *bytes([char]).upper()})
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


def _phone_class(policy: Policy) -> dict[str, Any]:
    """FANVIL: which clients are phones. It sends nothing itself; later classes test it."""
    tests = [_vendor_class_test(p) for p in policy.match.vendor_class_prefixes]
    tests += [_mac_test(p) for p in Engine(policy).mac_prefixes]
    tests += [_mac_test(d.mac) for d in policy.devices]
    if not tests:
        raise RenderError(TARGET, "match", "no vendor class, MAC prefix or device to match")
    return {"name": PHONE_CLASS, "test": " or ".join(tests)}


def _options_class(
    policy: Policy, name: str, test: str, url: str | None, boot: str | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "test": test}
    data = _option_data(policy, url, boot)
    if any(d["code"] == options.OPTION_VENDOR_SPECIFIC for d in data):
        entry["option-def"] = [OPTION_43_AS_BINARY]
    entry["option-data"] = data
    if boot is not None:
        entry["boot-file-name"] = boot
    return entry


def _device_classes(policy: Policy) -> list[dict[str, Any]]:
    out = []
    for device in policy.devices:
        if device.url is None and device.boot_file is None:
            continue  # matched by FANVIL; URL and boot file come from the site or default
        name = f"fanvil-device-{device.mac.replace(':', '')}"
        entry = _options_class(policy, name, _mac_test(device.mac), device.url, device.boot_file)
        if device.name:
            entry["user-context"] = {"name": device.name}
        out.append(entry)
    return out


def _giaddr_test(network: Any) -> str:
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


def _site_classes(policy: Policy) -> list[dict[str, Any]]:
    out = []
    for i, site in enumerate(policy.sites):
        if site.name != "".join(c for c in site.name if c.isalnum() or c in "-_."):
            raise RenderError(
                TARGET,
                f"sites[{i}] ({site.name})",
                "a site name for Kea may hold letters, digits, '-', '_' and '.'",
            )
        networks = " or ".join(_giaddr_test(n) for n in site.subnets)
        test = f"member('{PHONE_CLASS}') and ({networks})"
        out.append(
            _options_class(policy, f"fanvil-site-{site.name}", test, site.url, site.boot_file)
        )
    return out


def _full(full: FullConfig) -> dict[str, Any]:
    state = full.state_dir or "/var/lib/kea"
    return {
        "interfaces-config": {"interfaces": [full.interface]},
        "lease-database": {
            "type": "memfile",
            "persist": True,
            "name": f"{state}/kea-leases4.csv",
        },
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
