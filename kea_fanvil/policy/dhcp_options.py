"""The phone's other DHCP options: voice VLAN, SIP servers, NTP, time offset and time zone.

One :class:`PhoneOptions` says what to send; it stands in the policy's ``dhcp_options``
section as the default and per model, and on each site and device. Per option, the most
specific level that sets it wins: the device, then the device's ``model``, then its site,
then the default (:func:`merge`, in that order, as the engine calls it). The model is the one
the policy gives the device, not the one option 60 names: option 60 is a phone setting that
factory phones may not send (FIELD-NOTES), and dnsmasq cannot test it exactly, so a model read
from it could not give the same bytes on every server.

Encodings are in :mod:`kea_fanvil.wire.phone_options`, each citing its RFC; the VLAN's is a
setting here because Fanvil does not publish it.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kea_fanvil.errors import EncodingError
from kea_fanvil.policy.files import ModelName, model_key
from kea_fanvil.wire import phone_options as enc

__all__ = [
    "DhcpOptions",
    "EncodedOptions",
    "PhoneOptions",
    "encode",
    "encode_models",
    "merge",
]

EncodedOptions = tuple[tuple[int, bytes], ...]  # (code, data), sorted by code, codes unique


def _checked(encoder: Any) -> Any:
    """An AfterValidator running ``encoder`` for its checks: a value that would not encode is
    refused when the policy loads, with the encoder's reason."""

    def check(value: Any) -> Any:
        try:
            encoder(value)
        except EncodingError as exc:
            raise ValueError(str(exc)) from None
        return value

    return check


def _sip_servers(value: list[str]) -> list[str]:
    return [s.strip() for s in value]


class PhoneOptions(BaseModel):
    """What one level (default, model, site, device) sends; unset fields fall to the next."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vlan: Annotated[int, Field(ge=1, le=4094)] | None = Field(
        None,
        description="Voice VLAN ID (1..4094), sent in dhcp_options.vlan_option (Fanvil's "
        "DHCPOptionVlan, default 132) in dhcp_options.vlan_format.",
    )
    sip_servers: (
        Annotated[
            list[str],
            Field(min_length=1),
            AfterValidator(_sip_servers),
            AfterValidator(_checked(enc.encode_sip_servers)),
        ]
        | None
    ) = Field(
        None,
        description="Option 120 (RFC 3361): SIP server addresses, or host names (not both).",
    )
    ntp_servers: (
        Annotated[
            list[ipaddress.IPv4Address],
            Field(min_length=1),
            AfterValidator(_checked(enc.encode_ntp_servers)),
        ]
        | None
    ) = Field(None, description="Option 42 (RFC 2132 8.3): NTP server addresses, in order.")
    time_offset: (
        Annotated[int, Field(ge=-enc.TIME_OFFSET_LIMIT, le=enc.TIME_OFFSET_LIMIT)] | None
    ) = Field(
        None,
        description="Option 2 (RFC 2132 3.4): seconds east of UTC, e.g. 3600 for UTC+1.",
    )
    posix_timezone: Annotated[str, AfterValidator(_checked(enc.encode_posix_timezone))] | None = (
        Field(
            None,
            description="Option 100 (RFC 4833 PCode): a POSIX TZ string such as "
            "CET-1CEST,M3.5.0,M10.5.0/3.",
        )
    )
    tzdb_timezone: Annotated[str, AfterValidator(_checked(enc.encode_tzdb_timezone))] | None = (
        Field(
            None,
            description="Option 101 (RFC 4833 TCode): a TZ database name such as Europe/Zurich.",
        )
    )


class DhcpOptions(BaseModel):
    """The policy's ``dhcp_options`` section: the encoding settings, the default, per model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vlan_option: Annotated[int, Field(ge=128, le=254)] = Field(
        enc.VLAN_OPTION_DEFAULT,
        description="The code the phones read their VLAN from (Fanvil's DHCPOptionVlan; "
        "default 132).",
    )
    vlan_format: enc.VlanFormat = Field(
        "vlan-a",
        description='How the VLAN is written: "vlan-a" (the text VLAN-A=20;), "decimal" '
        '("20"), "u16" or "u32" (big-endian integers). Which one Fanvil firmware reads is '
        "not published: unverified.",
    )
    default: PhoneOptions = Field(
        default_factory=PhoneOptions, description="What every phone gets."
    )
    models: dict[ModelName, PhoneOptions] = Field(
        default_factory=dict,
        description="Per model (a device's `model` in the policy or its devices_file; case "
        "is ignored): overrides the default and the site.",
    )

    def repeated_models(self) -> list[tuple[str, str]]:
        """(name, earlier name) for each model named twice (case is ignored)."""
        seen: dict[str, str] = {}
        found = []
        for name in self.models:
            earlier = seen.setdefault(model_key(name), name)
            if earlier != name:
                found.append((name, earlier))
        return found


def encode(options: PhoneOptions | None, section: DhcpOptions) -> EncodedOptions:
    """One level's options as (code, data) sorted by code; () for None or nothing set."""
    if options is None:
        return ()
    out: list[tuple[int, bytes]] = []
    if options.time_offset is not None:
        out.append((enc.OPTION_TIME_OFFSET, enc.encode_time_offset(options.time_offset)))
    if options.ntp_servers is not None:
        out.append((enc.OPTION_NTP_SERVERS, enc.encode_ntp_servers(options.ntp_servers)))
    if options.posix_timezone is not None:
        data = enc.encode_posix_timezone(options.posix_timezone)
        out.append((enc.OPTION_POSIX_TIMEZONE, data))
    if options.tzdb_timezone is not None:
        out.append((enc.OPTION_TZDB_TIMEZONE, enc.encode_tzdb_timezone(options.tzdb_timezone)))
    if options.sip_servers is not None:
        out.append((enc.OPTION_SIP_SERVERS, enc.encode_sip_servers(options.sip_servers)))
    if options.vlan is not None:
        out.append((section.vlan_option, enc.encode_vlan(options.vlan, section.vlan_format)))
    return tuple(sorted(out))


def encode_models(section: DhcpOptions) -> dict[str, EncodedOptions]:
    """Each model's options, encoded, by :func:`~kea_fanvil.policy.files.model_key` (the
    first spelling wins; the policy refuses a model named twice)."""
    found: dict[str, EncodedOptions] = {}
    for name, options in section.models.items():
        found.setdefault(model_key(name), encode(options, section))
    return found


def merge(*levels: EncodedOptions) -> EncodedOptions:
    """Levels from the most specific to the least: per code, the first level that has it."""
    chosen: dict[int, bytes] = {}
    for level in levels:
        for code, data in level:
            chosen.setdefault(code, data)
    return tuple(sorted(chosen.items()))
