"""The policy: which clients are Fanvil phones, which URL each gets, and how it is delivered.

The pydantic models hold every rule a policy must obey; :mod:`kea_fanvil.policy.loader` reads a
file into them and turns validation errors into file:line messages. Models are frozen so a
policy, once loaded, can be shared by the engine across threads.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    model_validator,
)

from kea_fanvil.errors import EncodingError
from kea_fanvil.fanvil.identify import (
    default_prefixes,
    normalize_mac,
    normalize_prefix,
    ouis_of_organization,
)
from kea_fanvil.fanvil.naming import url_problem
from kea_fanvil.policy.dhcp_options import DhcpOptions, PhoneOptions
from kea_fanvil.policy.files import CustomFileName, FileSettings, FilesPolicy, ModelName
from kea_fanvil.redact import mask
from kea_fanvil.wire import options
from kea_fanvil.yaml_types import YamlBoolWord, read_as_number

__all__ = [
    "BootFile",
    "Delivery",
    "Device",
    "Location",
    "Mac",
    "MacPrefix",
    "Match",
    "Policy",
    "Provisioning",
    "Site",
    "Subnets",
    "Text",
    "Url",
    "cross_check",
    "invisible_character",
    "phone_option_levels",
    "shadowed_sites",
    "shared_checks",
    "site_overlaps",
    "url_limit",
    "uses_files",
]


def _check_url(value: str) -> str:
    problem = url_problem(value)
    if problem:
        raise ValueError(problem)
    try:
        options.encode_tftp_server_name(value)  # ASCII, no spaces, fits one option
    except EncodingError as exc:
        raise ValueError(str(exc)) from None
    return value


def invisible_character(value: str) -> str | None:
    """The first character of ``value`` that is not visible text or a plain space (control,
    format, line or paragraph separators, surrogates), as U+XXXX, or None.

    Such characters end a comment or a statement in the configurations rendered from a policy
    (a newline in a site name would start a live dhcpd statement), and hide in a terminal.
    """
    for char in value:
        if not (char.isprintable() or char == " "):
            return f"U+{ord(char):04X}"
    return None


def _check_text(value: str) -> str:
    found = invisible_character(value)
    if found is not None:
        raise ValueError(
            f"holds {found}, a control or invisible character; a name is one line of visible text"
        )
    return value


def _check_boot_file(value: str) -> str:
    try:
        options.encode_bootfile_name(value)
    except EncodingError as exc:
        raise ValueError(str(exc)) from None
    return value


def _unquoted_number(value: Any, what: str) -> None:
    # YAML 1.1 reads unquoted 10:00:00:00:00:01 as a base-60 integer and 001565000001 as an
    # octal one; pydantic would only say "Input should be a valid string".
    problem = read_as_number(value, what, echo=True)
    if problem:
        raise ValueError(problem)


def _mac(value: Any) -> Any:
    _unquoted_number(value, "MAC address")
    return normalize_mac(value) if isinstance(value, str) else value


def _prefix(value: Any) -> Any:
    _unquoted_number(value, "MAC prefix")
    return normalize_prefix(value) if isinstance(value, str) else value


def _networks(value: Any) -> Any:
    """One CIDR or a list of them, as a list of networks (errors name the bad entry)."""
    items = value if isinstance(value, list) else [value]
    networks = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{item!r} is not a subnet; write it as 198.18.64.0/18")
        try:
            networks.append(ipaddress.IPv4Network(item.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IPv4 subnet in CIDR form: {exc}") from None
    if not networks:
        raise ValueError("at least one subnet is needed")
    return networks


Url = Annotated[str, AfterValidator(_check_url)]
# Free text that reaches rendered configurations (comments, user-context) and terminals.
Text = Annotated[str, AfterValidator(_check_text)]
BootFile = Annotated[str, AfterValidator(_check_boot_file)]
# Strict: in lax mode pydantic would take YAML's !!binary bytes as a str that never went
# through the normalisation (and would later break the engine's bytes.fromhex).
Mac = Annotated[str, Strict(), BeforeValidator(_mac)]
MacPrefix = Annotated[str, Strict(), BeforeValidator(_prefix)]
# json_schema_input_type: `kea-fanvil schema` must take what the loader takes (one CIDR
# string, or a list of them), not only what the validator makes of it.
Subnets = Annotated[
    list[ipaddress.IPv4Network],
    BeforeValidator(_networks, json_schema_input_type=str | list[str]),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Provisioning(_Model):
    url: Url = Field(
        description="Default provisioning URL. $mac and $input are left for the phone to expand."
    )


def _option_43(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` as false; take it as the "off" the user wrote. `on`/`yes`/
    # `true` mean "send it" in its default form: left alone, pydantic would take True as the
    # integer 1 and send the URL encapsulated as sub-option 1, which Fanvil firmware cannot read.
    if isinstance(value, bool):
        return "string" if value else "off"
    if isinstance(value, YamlBoolWord):  # a bare yes/no/on/off (the loader keeps the word)
        return "string" if value.lower() in ("yes", "on") else "off"
    return value


class Delivery(_Model):
    option_66: bool = Field(True, description="Send the URL in option 66 (RFC 2132 9.4).")
    option_43: Annotated[
        Literal["string", "off"] | Annotated[int, Field(ge=1, le=254)],
        BeforeValidator(
            _option_43,
            json_schema_input_type=Literal["string", "off"]
            | Annotated[int, Field(ge=1, le=254)]
            | bool,
        ),
    ] = Field(
        "string",
        description='"string": the bare URL (what Fanvil firmware reads); "off"; or a '
        "sub-option code 1..254 to carry the URL encapsulated (TR-069 uses 1).",
    )
    custom_option: Annotated[int, Field(ge=128, le=254)] | None = Field(
        None, description="Also send the URL as this site-specific option (128..254)."
    )
    always_send: bool = Field(
        True,
        description="Send the options even when the phone did not ask for them in option 55.",
    )

    @model_validator(mode="after")
    def _delivers_somewhere(self) -> Delivery:
        # Here rather than on Policy, so the error points at the `delivery` entry.
        if not (self.option_66 or self.option_43 != "off" or self.custom_option):
            raise ValueError("sends the URL nowhere: enable option_66, option_43 or custom_option")
        return self

    def url_limit(self) -> int:
        """The longest URL every enabled carrier can hold."""
        return url_limit(self.option_43)


def url_limit(option_43: object) -> int:
    """The longest URL every carrier holds when option 43 is ``option_43`` (validated, or as
    read from YAML): one option, less a sub-option's code and length octets."""
    sub_option = isinstance(option_43, int) and not isinstance(option_43, bool)  # YAML's `on`
    return options.MAX_OPTION_DATA - (2 if sub_option else 0)


class Match(_Model):
    vendor_class_prefixes: list[
        Annotated[str, Field(min_length=1), AfterValidator(_check_text)]
    ] = Field(
        default_factory=lambda: ["Fanvil"],
        description="Option 60 prefixes (case-insensitive) that mark a Fanvil phone.",
    )
    ouis: list[MacPrefix] = Field(
        default_factory=default_prefixes,
        description="MAC prefixes (1 to 5 bytes) that mark a Fanvil phone.",
    )
    oui_organizations: list[Annotated[str, Field(min_length=3), AfterValidator(_check_text)]] = (
        Field(
            default_factory=list,
            description="Also match every IEEE OUI whose organization contains this text "
            "(netaddr's bundled registry, offline).",
        )
    )

    def mac_prefixes(self) -> tuple[str, ...]:
        """Every MAC prefix that marks a phone: `ouis`, then each organization's, in order."""
        prefixes = list(self.ouis)
        for org in self.oui_organizations:
            prefixes += [p for p, _ in ouis_of_organization(org)]
        return tuple(dict.fromkeys(prefixes))


class Site(_Model):
    name: Annotated[str, Field(min_length=1), AfterValidator(_check_text)]
    subnet: Subnets = Field(
        description="Subnet(s) matched against the relay address (giaddr) or the offered address."
    )
    url: Url | None = None
    boot_file: BootFile | None = None
    dhcp_options: PhoneOptions | None = Field(
        None, description="VLAN, SIP, NTP and time options for the site's phones."
    )

    @property
    def subnets(self) -> list[ipaddress.IPv4Network]:
        return self.subnet


class Device(_Model):
    mac: Mac
    name: Text | None = None
    url: Url | None = None
    boot_file: BootFile | None = Field(
        None, description="ID-oriented file name: sent as option 67 and in the BOOTP file field."
    )
    dhcp_options: PhoneOptions | None = Field(
        None, description="VLAN, SIP, NTP and time options for this phone alone."
    )
    # Read by `kea-fanvil files build` only; exclude=True keeps them out of dumps, so the
    # renderers' policy fingerprint (and output) does not move when they change.
    model: ModelName | None = Field(
        None, exclude=True, description="The phone's model (C62, X4U): picks its Common file."
    )
    custom_file: CustomFileName | None = Field(
        None,
        exclude=True,
        description="Custom file name set in the phone's web page (spec 3.4); $mac allowed.",
    )
    settings: FileSettings | None = Field(
        None,
        exclude=True,
        description="What the phone's own files (MAC-oriented, ID-oriented, custom) carry.",
    )


class Policy(_Model):
    version: Literal[1]
    provisioning: Provisioning
    delivery: Delivery = Delivery()
    match: Match = Field(default_factory=Match)
    sites: list[Site] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
    dhcp_options: DhcpOptions | None = Field(
        None,
        description="The phone's other options (VLAN, SIP servers, NTP, time offset, time "
        "zone): the default, per model, and the encoding settings.",
    )
    devices_file: Text | None = Field(
        None,
        description="CSV inventory (columns mac,url,boot_file,name,model), relative to the "
        "policy file; its devices are added to `devices`. Suited to large inventories.",
    )
    files: FilesPolicy | None = Field(
        None,
        exclude=True,  # holds encryption keys; read by `kea-fanvil files build` only
        description="Provisioning files (spec sections 3 and 5): format, versions, encryption, "
        "settings per model.",
    )
    # How many of `devices` the policy file lists itself; the rest came from devices_file.
    # Set by the loader (kea_fanvil.policy.loader), None for a policy built otherwise.
    _inline_devices: int | None = PrivateAttr(default=None)

    @property
    def inline_devices(self) -> int:
        return len(self.devices) if self._inline_devices is None else self._inline_devices

    def summary(self) -> str:
        """One line on what the policy does, for logs (passwords masked)."""
        return mask(
            f"{len(self.devices)} devices, {len(self.sites)} sites, "
            f"default URL {self.provisioning.url}"
        )


Location = tuple[str | int, ...]


def cross_check(policy: Policy) -> list[tuple[Location, str]]:
    """Rules that span several entries, as (location, message) in file order.

    Kept out of the model validators so each problem keeps its own location (a model
    validator can only blame the whole document).
    """
    problems = shared_checks(
        policy.delivery.url_limit(),
        [(("provisioning", "url"), policy.provisioning.url)]
        + [(("sites", i, "url"), s.url) for i, s in enumerate(policy.sites) if s.url]
        + [(("devices", i, "url"), d.url) for i, d in enumerate(policy.devices) if d.url],
        [(("sites", i, "name"), s.name) for i, s in enumerate(policy.sites)],
        [(("devices", i, "mac"), d.mac) for i, d in enumerate(policy.devices)],
        policy.delivery.option_43,
    )
    problems += _phone_option_problems(policy)
    return problems


def phone_option_levels(policy: Policy) -> list[tuple[Location, PhoneOptions]]:
    """Every level of phone options the policy sets, with its location."""
    section = policy.dhcp_options
    found: list[tuple[Location, PhoneOptions]] = []
    if section is not None:
        found.append((("dhcp_options", "default"), section.default))
        found += [(("dhcp_options", "models", m), o) for m, o in section.models.items()]
    found += [
        (("sites", i, "dhcp_options"), s.dhcp_options)
        for i, s in enumerate(policy.sites)
        if s.dhcp_options is not None
    ]
    found += [
        (("devices", i, "dhcp_options"), d.dhcp_options)
        for i, d in enumerate(policy.devices)
        if d.dhcp_options is not None
    ]
    return found


def _phone_option_problems(policy: Policy) -> list[tuple[Location, str]]:
    problems: list[tuple[Location, str]] = [
        (("dhcp_options", "models", name), f"{name!r} repeats {earlier!r} (case is ignored)")
        for name, earlier in (policy.dhcp_options.repeated_models() if policy.dhcp_options else [])
    ]
    return problems + _vlan_clash(policy)


def _vlan_clash(policy: Policy) -> list[tuple[Location, str]]:
    # One code cannot carry both the URL and the VLAN: the phone would read one as the other.
    section = policy.dhcp_options or DhcpOptions()
    if policy.delivery.custom_option != section.vlan_option:
        return []
    if not any(o.vlan is not None for _, o in phone_option_levels(policy)):
        return []
    where: Location = (
        ("dhcp_options", "vlan_option") if policy.dhcp_options else ("delivery", "custom_option")
    )
    return [
        (
            where,
            f"option {section.vlan_option} would carry both the URL (delivery.custom_option) "
            "and the VLAN (dhcp_options.vlan_option); give one of them another code",
        )
    ]


def shared_checks(
    limit: int,
    urls: Sequence[tuple[Location, str]],
    site_names: Sequence[tuple[Location, str]],
    macs: Sequence[tuple[Location, str]],
    option_43: object,
) -> list[tuple[Location, str]]:
    """URL lengths and duplicate site names and MACs, over whatever entries are known: the
    whole policy, or, when some entries are invalid, the ones that are not (so one bad MAC
    does not hide a duplicate elsewhere)."""
    problems: list[tuple[Location, str]] = []
    for loc, url in urls:
        if len(url) > limit:
            problems.append(
                (
                    loc,
                    f"URL is {len(url)} bytes; option 43 sub-option {option_43} holds at "
                    f"most {limit}",
                )
            )
    entries: Sequence[tuple[Location, str]]
    for what, entries in (("site", site_names), ("device", macs)):
        first: dict[str, Location] = {}
        for loc, value in entries:
            earlier = first.setdefault(value, loc)
            if earlier != loc:
                shown = f"{value!r}" if what == "site" else value
                problems.append((loc, f"{shown} is already {_where(earlier)}"))
    return problems


def _where(loc: Location) -> str:
    return f"{loc[0]}[{loc[1]}]"


def shadowed_sites(policy: Policy) -> list[tuple[int, list[str]]]:
    """(index, earlier site names) of each site whose subnets the earlier sites cover
    entirely: the engine takes the first matching site, so it never matches."""
    found = []
    for i, site in enumerate(policy.sites):
        earlier = policy.sites[:i]
        covered = list(ipaddress.collapse_addresses(n for s in earlier for n in s.subnets))
        if earlier and all(any(net.subnet_of(c) for c in covered) for net in site.subnets):
            names = [s.name for s in earlier if _overlap(s, site)]
            found.append((i, names))
    return found


def site_overlaps(policy: Policy) -> list[tuple[str, str]]:
    """(earlier site, later site) for each pair whose subnets overlap; the earlier one wins."""
    found = []
    for i, a in enumerate(policy.sites):
        for b in policy.sites[i + 1 :]:
            if _overlap(a, b):
                found.append((a.name, b.name))
    return found


def _overlap(a: Site, b: Site) -> bool:
    return any(na.overlaps(nb) for na in a.subnets for nb in b.subnets)


def uses_files(policy: Policy) -> bool:
    """True when the policy says anything about the provisioning files."""
    return policy.files is not None or any(
        d.model is not None or d.custom_file is not None or d.settings is not None
        for d in policy.devices
    )
