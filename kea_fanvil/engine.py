"""The decision engine: request facts in, provisioning options out. Pure: no I/O, no Kea.

:class:`Engine` compiles a :class:`Policy` once (dictionaries, byte prefixes, integer subnets,
encoded options) so that one decision costs a few dictionary and set look-ups; the Kea hook
calls :meth:`Engine.decide_raw` for every response and needs it to be cheap.

Order of identification: an inventory device, then the vendor class (option 60), then the MAC
prefix. Order of the URL: the device's, then the first site whose subnet holds the relay
address (giaddr) or the offered address (yiaddr), then the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from kea_fanvil.fanvil.identify import (
    PrefixMatcher,
    VendorClass,
    mac_bytes,
    parse_vendor_class,
)
from kea_fanvil.policy import dhcp_options
from kea_fanvil.policy.dhcp_options import DhcpOptions
from kea_fanvil.policy.files import model_key
from kea_fanvil.policy.models import Delivery, Device, Policy
from kea_fanvil.wire import options

__all__ = [
    "CompiledTable",
    "Decision",
    "Engine",
    "MatchedBy",
    "Options",
    "RawDecision",
    "Request",
    "decide",
    "device_phone_options",
    "encode_url_options",
    "phone_options",
]

MatchedBy = Literal["device", "vendor-class", "oui"]
Options = tuple[tuple[int, bytes], ...]
RawDecision = tuple[Options, bytes | None]
_NO_ADDRESS = b"\0\0\0\0"
# The decision table (Engine.table): magic, end marker and "no index", as decision_table.h says.
_TABLE_MAGIC = b"KFT2"
_TABLE_END = b"KFTE"
_NONE = 0xFFFFFFFF


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def _option_set(found: Options) -> bytes:
    out = bytearray(len(found).to_bytes(2, "little"))
    for code, data in found:
        out += bytes([code]) + len(data).to_bytes(2, "little") + data
    return bytes(out)


@dataclass(frozen=True)
class Request:
    """What the engine needs to know of one DHCP exchange."""

    mac: bytes
    vendor_class: bytes | None = None  # option 60 data
    prl: bytes | None = None  # option 55 data: the option codes the client asked for
    giaddr: bytes = _NO_ADDRESS  # relay agent address from the query
    yiaddr: bytes = _NO_ADDRESS  # address offered in the response


@dataclass(frozen=True)
class CompiledTable:
    """:meth:`Engine.compile`'s result: the decision table and what its indices name.

    The hook's records of matched requests carry a decision as indices into the table (URL,
    boot file, site); the inventory reads them here instead of deciding again in Python."""

    data: bytes
    urls: tuple[str, ...]  # in table order; urls[0] is the policy's provisioning.url
    boot_files: tuple[str, ...]
    sites: tuple[str, ...]  # the site names, in policy order (the table's)


@dataclass(frozen=True)
class Decision:
    """What the server should add to its response, and why."""

    matched_by: MatchedBy | None
    url: str | None = None
    options: Options = ()  # (code, data) in the order they go on the wire
    boot_file: str | None = None  # also the BOOTP file field
    site: str | None = None
    device: str | None = None  # the inventory entry's name, or its MAC
    vendor_class: VendorClass | None = field(default=None)

    @property
    def model(self) -> str:
        return self.vendor_class.model if self.vendor_class else ""

    @property
    def firmware(self) -> str:
        return self.vendor_class.firmware if self.vendor_class else ""


@dataclass(frozen=True)
class _Device:
    label: str
    url: str | None
    boot_file: str | None
    extras: Options  # its phone options merged over its model's (policy.dhcp_options)


@dataclass(frozen=True)
class _Site:
    name: str
    networks: tuple[tuple[int, int], ...]  # (network, netmask) as integers
    url: str | None
    boot_file: str | None
    extras: Options


class Engine:
    """A policy compiled for fast decisions. Immutable after construction, so thread-safe."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        delivery = policy.delivery
        self._always = delivery.always_send
        self._vendor_prefixes = tuple(
            p.lower().encode() for p in policy.match.vendor_class_prefixes
        )
        self.mac_prefixes = policy.match.mac_prefixes()
        self._prefixes = PrefixMatcher(self.mac_prefixes)
        section = policy.dhcp_options or DhcpOptions()
        # Interned: 100,000 devices of a few models share a few tuples, not one each.
        interned: dict[Options, Options] = {(): ()}
        by_model = dhcp_options.encode_models(section)
        self._devices = {
            mac_bytes(d.mac): _Device(
                d.name or d.mac,
                d.url,
                d.boot_file,
                interned.setdefault(extras := device_phone_options(section, d, by_model), extras),
            )
            for d in policy.devices
        }
        self._sites = tuple(
            _Site(
                s.name,
                tuple((int(n.network_address), int(n.netmask)) for n in s.subnets),
                s.url,
                s.boot_file,
                dhcp_options.encode(s.dhcp_options, section),
            )
            for s in policy.sites
        )
        self._default_extras = dhcp_options.encode(section.default, section)
        # Memoised encodings: a policy has few distinct (URL, boot file, options) sets unless
        # its devices override them, and encoding per packet would dominate a decision's cost.
        self._encoded_cache: dict[tuple[str, str | None, Options, Options], RawDecision] = {}

    def _site(self, giaddr: bytes, yiaddr: bytes) -> _Site | None:
        if not self._sites:
            return None
        addresses = [int.from_bytes(a, "big") for a in (giaddr, yiaddr) if a != _NO_ADDRESS]
        for site in self._sites:
            for network, mask in site.networks:
                for address in addresses:
                    if address & mask == network:
                        return site
        return None

    def _encoded(
        self, url: str, boot: str | None, device_extras: Options, site_extras: Options
    ) -> RawDecision:
        key = (url, boot, device_extras, site_extras)
        found = self._encoded_cache.get(key)
        if found is None:
            chosen = encode_url_options(self.policy.delivery, url)
            file_field = None
            if boot is not None:
                file_field = options.encode_bootfile_name(boot)
                chosen = (*chosen, (options.OPTION_BOOTFILE_NAME, file_field))
            # The policy keeps the URL's codes and the phone options' apart (cross_check).
            extras = dhcp_options.merge(device_extras, site_extras, self._default_extras)
            chosen = tuple(sorted((*chosen, *extras)))
            # Racing threads may both fill the same key with equal values: harmless.
            found = self._encoded_cache[key] = (chosen, file_field)
        return found

    def _resolve(
        self, mac: bytes, vendor_class: bytes | None, giaddr: bytes, yiaddr: bytes
    ) -> tuple[MatchedBy, str, str | None, _Site | None, _Device | None] | None:
        device = self._devices.get(mac)
        if device is not None:
            matched: MatchedBy = "device"
        elif vendor_class and vendor_class.lower().startswith(self._vendor_prefixes):
            matched = "vendor-class"
        elif self._prefixes.match(mac) is not None:
            matched = "oui"
        else:
            return None
        site = self._site(giaddr, yiaddr)
        url = (device and device.url) or (site and site.url) or self.policy.provisioning.url
        boot = (device and device.boot_file) or (site and site.boot_file) or None
        return matched, url, boot, site, device

    def _select(
        self,
        url: str,
        boot: str | None,
        device: _Device | None,
        site: _Site | None,
        prl: bytes | None,
    ) -> RawDecision:
        chosen, file_field = self._encoded(
            url, boot, device.extras if device else (), site.extras if site else ()
        )
        if not self._always:
            asked = prl or b""
            chosen = tuple(o for o in chosen if o[0] in asked)
        return chosen, file_field

    def decide_raw(
        self,
        mac: bytes,
        vendor_class: bytes | None,
        prl: bytes | None,
        giaddr: bytes,
        yiaddr: bytes,
    ) -> RawDecision | None:
        """The hook's entry: None for a client that is not a phone of ours, else
        (options, file field) with options as (code, data) sorted by code."""
        resolved = self._resolve(mac, vendor_class, giaddr, yiaddr)
        if resolved is None:
            return None
        _, url, boot, site, device = resolved
        return self._select(url, boot, device, site, prl)

    def explain(
        self, mac: bytes, vendor_class: bytes | None, giaddr: bytes, yiaddr: bytes
    ) -> tuple[MatchedBy, str, str | None, str | None] | None:
        """(matched by, URL, boot file, site name) without the options: what the inventory
        records, at a fraction of :meth:`decide`'s cost. None when not a phone of ours."""
        resolved = self._resolve(mac, vendor_class, giaddr, yiaddr)
        if resolved is None:
            return None
        matched, url, boot, site, _ = resolved
        return matched, url, boot, site.name if site else None

    def table(self) -> bytes:
        """This engine as the flat decision table the C++ hook evaluates per packet."""
        return self.compile().data

    def compile(self) -> CompiledTable:
        """This engine as the flat decision table the C++ hook evaluates per packet.

        The format and its evaluation are defined in kea_fanvil/kea_hook/src/decision_table.h
        (format 2); the hook's answers must equal :meth:`decide_raw`'s byte for byte, which
        tests/test_decision_table.py checks on generated policies. Built from the very
        structures :meth:`decide_raw` uses, so the two cannot read a policy differently.
        """
        urls: dict[str, int] = {self.policy.provisioning.url: 0}
        boots: dict[str, int] = {}

        def url_index(url: str | None) -> int:
            return _NONE if url is None else urls.setdefault(url, len(urls))

        def boot_index(boot: str | None) -> int:
            return _NONE if boot is None else boots.setdefault(boot, len(boots))

        extras: dict[Options, int] = {}

        def extras_index(found: Options) -> int:
            return _NONE if not found else extras.setdefault(found, len(extras))

        default_extras = extras_index(self._default_extras)

        sites = bytearray(_u32(len(self._sites)))
        for site in self._sites:
            sites += _u32(url_index(site.url)) + _u32(boot_index(site.boot_file))
            sites += _u32(extras_index(site.extras)) + _u32(len(site.networks))
            for network, mask in site.networks:
                sites += _u32(network) + _u32(mask)
        devices = bytearray(_u32(len(self._devices)))
        for mac, device in self._devices.items():
            devices += bytes([len(mac)]) + mac
            devices += _u32(url_index(device.url)) + _u32(boot_index(device.boot_file))
            devices += _u32(extras_index(device.extras))
        out = bytearray(_TABLE_MAGIC)
        out += _u32(1 if self._always else 0)
        out += _u32(len(urls))
        for url in urls:  # insertion order is index order
            out += _option_set(encode_url_options(self.policy.delivery, url))
        out += _u32(len(boots))
        for boot in boots:
            data = options.encode_bootfile_name(boot)
            out += len(data).to_bytes(2, "little") + data
        out += _u32(len(extras))
        for found in extras:
            out += _option_set(found)
        out += _u32(0)  # the default URL is urls[0]
        out += _u32(default_extras)
        out += _u32(len(self._vendor_prefixes))
        for prefix in self._vendor_prefixes:
            out += len(prefix).to_bytes(2, "little") + prefix
        prefixes = [bytes.fromhex(p.replace(":", "")) for p in self.mac_prefixes]
        out += _u32(len(prefixes))
        for raw in prefixes:
            out += bytes([len(raw)]) + raw
        out += sites + devices + _TABLE_END
        return CompiledTable(
            bytes(out), tuple(urls), tuple(boots), tuple(site.name for site in self._sites)
        )

    def decide(self, request: Request) -> Decision:
        """Everything about one decision, for the CLI and tests."""
        resolved = self._resolve(request.mac, request.vendor_class, request.giaddr, request.yiaddr)
        if resolved is None:
            return Decision(None)
        vendor = parse_vendor_class(request.vendor_class) if request.vendor_class else None
        matched, url, boot, site, device = resolved
        chosen, _ = self._select(url, boot, device, site, request.prl)
        return Decision(
            matched,
            url,
            chosen,
            boot,
            site.name if site else None,
            device.label if device else None,
            vendor,
        )


def encode_url_options(delivery: Delivery, url: str) -> Options:
    """The options carrying ``url`` under ``delivery``, sorted by code (the order Kea packs)."""
    encoded: list[tuple[int, bytes]] = []
    if delivery.option_43 == "string":
        encoded.append((options.OPTION_VENDOR_SPECIFIC, options.encode_vendor_string(url)))
    elif isinstance(delivery.option_43, int):
        data = options.encode_vendor_suboption(delivery.option_43, url)
        encoded.append((options.OPTION_VENDOR_SPECIFIC, data))
    if delivery.option_66:
        encoded.append((options.OPTION_TFTP_SERVER_NAME, options.encode_tftp_server_name(url)))
    if delivery.custom_option is not None:
        code = delivery.custom_option
        encoded.append((code, options.encode_custom_option(code, url)))
    return tuple(encoded)


def phone_options(policy: Policy) -> DhcpOptions:
    """The policy's ``dhcp_options`` section, or its defaults when the policy has none."""
    return policy.dhcp_options or DhcpOptions()


def device_phone_options(
    section: DhcpOptions, device: Device, by_model: Mapping[str, Options] | None = None
) -> Options:
    """A device's own phone options merged over its model's: what it gets before its site's
    and the default's (policy.dhcp_options explains the order). ``by_model`` is
    :func:`~kea_fanvil.policy.dhcp_options.encode_models` of ``section``, computed once by a
    caller going through many devices."""
    own = dhcp_options.encode(device.dhcp_options, section)
    if device.model is None or not section.models:
        return own
    models = dhcp_options.encode_models(section) if by_model is None else by_model
    model = models.get(model_key(device.model), ())
    return dhcp_options.merge(own, model) if model else own


def decide(policy: Policy, request: Request) -> Decision:
    """One decision from a policy (compiles it each call; keep an :class:`Engine` for many)."""
    return Engine(policy).decide(request)
