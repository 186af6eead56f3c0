"""What the provisioning files carry (spec sections 3 and 5), as keys of the policy.

The `files:` section (format, versions, encryption, settings per model) and the device keys
`model`, `custom_file` and `settings` feed `kea-fanvil files build` only. The engine, the Kea
hook and the renderers never read them, and :mod:`kea_fanvil.policy.models` excludes them from
dumps: a DHCP configuration's fingerprint does not move when they change, and no dump can carry an
encryption key. Validation errors hide the input value for the same reason (a value may be a
password or a key).

Rules about one entry live here; rules across entries (file names that collide, a model whose
Common file nobody names) are :func:`kea_fanvil.files.build.files_problems`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from kea_fanvil.fanvil.config_formats import VERSION
from kea_fanvil.fanvil.crypto import (
    DEFAULT_ENCRYPTION_MODE,
    DEFAULT_PADDING,
    EncryptionMode,
    Padding,
    key_problem,
)
from kea_fanvil.fanvil.naming import url_problem
from kea_fanvil.yaml_types import YamlBoolWord, YamlInt, read_as_number

__all__ = [
    "DEFAULT_FIRST_VERSION",
    "FIRMWARE_PROTOCOLS",
    "MAX_FILE_NAME",
    "AesKey",
    "AutoUpdate",
    "ConfigKey",
    "ConfigValue",
    "CustomFileName",
    "Encryption",
    "Extra",
    "FileName",
    "FileSettings",
    "FileUrl",
    "FilesPolicy",
    "Firmware",
    "ModelFiles",
    "ModelName",
    "SectionName",
    "Text",
    "Version",
    "check_file_name",
    "model_key",
]

# spec 5.1.2: "Auto Image Protocol specifies the download protocol to be used. (1 = FTP,
# 2=TFTP, 4=HTTP)". FIELD-NOTES adds 5 = HTTPS for newer keys; the spec's key does not list it.
FIRMWARE_PROTOCOLS = {"ftp": 1, "tftp": 2, "http": 4}
# One above the "Current Config Version 2.0002" of spec 4.1's example page: a phone applies a
# file whose version differs from (FIELD-NOTES: is higher than) the one it has (spec 3.6).
DEFAULT_FIRST_VERSION = "2.0003"

# Control characters end a CFG line; the rest cannot be written in UTF-8 or in XML 1.0 (2.2).
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_SECTION = re.compile(r"[A-Z][A-Z0-9_]*")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
# A file name the phone asks for in a URL path or a TFTP request: no folders, no hidden files
# (the manifest is one), nothing a URL would need to escape.
_FILE_NAME = re.compile(r"[A-Za-z0-9_$][A-Za-z0-9_.$@+=,~-]*")
MAX_FILE_NAME = 127  # an ID-oriented name travels in the BOOTP file field (RFC 951)


def _not_a_number(value: Any, what: str) -> None:
    # YAML 1.1 reads 2.10 as 2.1 and 0123 as 83: a value the admin typed must reach the file as
    # typed, so numbers are refused where text is expected, without echoing a possible secret.
    problem = read_as_number(value, what)
    if problem:
        raise ValueError(problem)
    _not_a_bool_word(value, what)


def _not_a_bool_word(value: Any, what: str) -> None:
    if isinstance(value, YamlBoolWord):
        raise ValueError(
            f"YAML 1.1 reads a bare {value} as a boolean; for this {what} write 1 or 0 (what "
            "Fanvil files use), or put it in quotes to keep the word"
        )


def _text(value: Any) -> Any:
    _not_a_number(value, "value")
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValueError("holds a line break or another control character; a value is one line")
    return value


def _config_value(value: Any) -> Any:
    """Free-form values: text, plain decimal integers, and true/false as the 1/0 Fanvil files
    use. Whatever YAML would turn into something other than what was typed is refused."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, YamlInt):
        raise ValueError(
            f"YAML 1.1 reads {value.text} as the number {int(value)}, not as typed; put it in "
            "quotes"
        )
    if isinstance(value, int):
        return str(value)
    _not_a_bool_word(value, "value")
    if isinstance(value, float):
        raise ValueError(
            "YAML read this value as a decimal number and would drop trailing zeros; "
            "put it in quotes"
        )
    if value is None:
        return ""
    return _text(value)


def _file_url(value: str) -> str:
    if _CONTROL.search(value) or " " in value:
        raise ValueError("a URL holds no spaces or control characters")
    problem = url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _server(value: str) -> str:
    if "://" in value:
        return _file_url(value)
    if not value or _CONTROL.search(value) or " " in value:
        raise ValueError(
            f"{value!r} is neither a URL (http://host/firmware) nor a host name or address"
        )
    return value


def _protocol(value: Any) -> Any:
    names = ", ".join(f"{name} ({number})" for name, number in FIRMWARE_PROTOCOLS.items())
    if isinstance(value, str):
        if value.strip().lower() == "https":
            raise ValueError(
                f"spec 5.1.2 numbers only {names}: for an HTTPS server use format 1 (`url`)"
            )
        number = FIRMWARE_PROTOCOLS.get(value.strip().lower())
        if number is None:
            raise ValueError(f"{value!r} is not one of {names} (spec 5.1.2)")
        return number
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in FIRMWARE_PROTOCOLS.values():
            raise ValueError(f"{value} is not one of {names} (spec 5.1.2)")
        return value
    raise ValueError(f"give one of {names} (spec 5.1.2)")


def _aes_key(value: Any) -> Any:
    problem = key_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _section(value: Any) -> Any:
    if isinstance(value, str) and not _SECTION.fullmatch(value):
        inner = re.fullmatch(r"<?\s*([A-Za-z0-9_]+)\s+CONFIG\s+MODULE\s*>?", value, re.IGNORECASE)
        hint = re.sub(r"[^A-Z0-9_]+", "_", (inner[1] if inner else value).strip().upper())
        hint = hint if _SECTION.fullmatch(hint) else "SIP"
        raise ValueError(
            f"section {value!r}: write the name in capitals without CONFIG MODULE, e.g. "
            f"{hint!r} for <{hint} CONFIG MODULE>"
        )
    return value


def _config_key(value: Any) -> Any:
    _not_a_number(value, "key")
    if isinstance(value, str):
        if not value or value != value.strip():
            raise ValueError(f"key {value!r}: no leading or trailing spaces (the file pads keys)")
        bad = _CONTROL.search(value) or re.search(r"[:<>]", value)
        if bad or value.startswith("#"):
            raise ValueError(
                f"key {value!r}: a CFG line is `Key :Value`, so a key holds no ':', '<', '>' or "
                "control characters and does not start with '#'"
            )
    return value


def check_file_name(value: str, allow_mac: bool = False) -> str | None:
    """Why ``value`` cannot be a provisioning file's name, or None."""
    if len(value) > MAX_FILE_NAME:
        return f"file name is {len(value)} characters; at most {MAX_FILE_NAME}"
    if not _FILE_NAME.fullmatch(value):
        return (
            f"{value!r} is not a plain file name: letters, digits and . _ - @ + = , ~ only, "
            "no folders, not starting with '.'"
        )
    if "$" in value and (not allow_mac or value.replace("$mac", "").count("$")):
        return (
            f"{value!r}: only a custom file name may hold a variable, and only $mac"
            if allow_mac
            else f"{value!r}: '$' is not allowed in this file name"
        )
    return None


def _file_name(value: str) -> str:
    problem = check_file_name(value)
    if problem:
        raise ValueError(problem)
    return value


def _custom_file_name(value: str) -> str:
    problem = check_file_name(value, allow_mac=True)
    if problem:
        raise ValueError(problem)
    return value


def _model_name(value: Any) -> Any:
    _not_a_number(value, "model")
    if isinstance(value, str) and not _MODEL.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a model name such as C62 or X4U")
    return value.strip() if isinstance(value, str) else value


def _version(value: Any) -> Any:
    _not_a_number(value, "version")
    if isinstance(value, str) and not VERSION.fullmatch(value):
        raise ValueError(f"{value!r} is not a version N.NNNN such as 2.0003")
    return value


Text = Annotated[str, BeforeValidator(_text)]
FileUrl = Annotated[str, BeforeValidator(_text), AfterValidator(_file_url)]
# What the loader takes beside text, so that `kea-fanvil schema` accepts it too.
ConfigValue = Annotated[
    str, BeforeValidator(_config_value, json_schema_input_type=str | int | bool | None)
]
ConfigKey = Annotated[str, BeforeValidator(_config_key)]
SectionName = Annotated[str, BeforeValidator(_section)]
ModelName = Annotated[str, BeforeValidator(_model_name)]
FileName = Annotated[str, AfterValidator(_file_name)]
CustomFileName = Annotated[str, AfterValidator(_custom_file_name)]
Version = Annotated[str, BeforeValidator(_version)]
AesKey = Annotated[SecretStr, BeforeValidator(_aes_key)]


def model_key(name: str) -> str:
    """The model as the Common file table knows it (option 60 spells it in any case)."""
    return name.strip().upper()


class _FilesModel(BaseModel):
    # hide_input_in_errors: a value may be a password or a key; pydantic would print it.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Firmware(_FilesModel):
    """Firmware update (spec 5.1): format 1 by URL, or format 2 by server, name and protocol."""

    url: FileUrl | None = Field(
        None, description="Format 1: `Auto Image URL`, the firmware's URL (http://ip/firmware)."
    )
    server: Annotated[str, BeforeValidator(_text), AfterValidator(_server)] | None = Field(
        None, description="Format 2: `Auto Image Server`, the firmware server (a URL or a host)."
    )
    name: Text | None = Field(None, description="Format 2: `Auto Image Name`, the file's name.")
    protocol: (
        Annotated[
            int,
            BeforeValidator(
                _protocol, json_schema_input_type=Literal["ftp", "tftp", "http", 1, 2, 4]
            ),
        ]
        | None
    ) = Field(
        None,
        description="Format 2: `Auto Image Protocol`, ftp (1), tftp (2) or http (4); by default "
        "the scheme of `server`.",
    )
    version: Text | None = Field(None, description="`Auto Image Version`: the firmware version.")
    user: Text | None = Field(None, description="`Auto Image User`, if the server needs one.")
    password: Text | None = Field(None, description="`Auto Image Password`.")

    @model_validator(mode="after")
    def _one_format(self) -> Firmware:
        second = [n for n in ("server", "name", "protocol") if getattr(self, n) is not None]
        if self.url is not None and second:
            raise ValueError(
                f"give `url` (format 1) or `server` and `name` (format 2), not both "
                f"(also set: {', '.join(second)})"
            )
        if self.url is None and (self.server is None or self.name is None):
            raise ValueError("needs `url` (format 1), or `server` and `name` (format 2)")
        if self._server_scheme() == "https":
            raise ValueError(
                "spec 5.1.2 numbers no protocol for HTTPS (1 = FTP, 2 = TFTP, 4 = HTTP): for an "
                "HTTPS server use format 1 (`url`)"
            )
        if self.url is None and self.protocol_number is None:
            raise ValueError(
                "format 2 needs `protocol` (ftp, tftp or http) when `server` is not a URL"
            )
        scheme = self._server_scheme()
        expected = FIRMWARE_PROTOCOLS.get(scheme)
        if self.protocol is not None and expected is not None and expected != self.protocol:
            given = next(n for n, v in FIRMWARE_PROTOCOLS.items() if v == self.protocol)
            raise ValueError(
                f"`protocol` {given} ({self.protocol}) contradicts the {scheme}:// server URL"
            )
        return self

    def _server_scheme(self) -> str:
        if self.server is None or "://" not in self.server:
            return ""
        return urlsplit(self.server).scheme.lower()

    @property
    def protocol_number(self) -> int | None:
        """Format 2's protocol: the one given, else the server URL's (None for format 1)."""
        if self.url is not None:
            return None
        return self.protocol or FIRMWARE_PROTOCOLS.get(self._server_scheme())


class AutoUpdate(_FilesModel):
    """The `<AUTOUPDATE CONFIG MODULE>` keys of spec section 5."""

    firmware: Firmware | None = None
    phonebook_url: FileUrl | None = Field(None, description="Phonebook update URL (spec 5.2).")
    certificate_url: FileUrl | None = Field(
        None, description="Authentication certificate update URL (spec 5.3)."
    )


Extra = dict[SectionName, dict[ConfigKey, ConfigValue]]


class FileSettings(_FilesModel):
    """What one file (or every Common file) carries."""

    auto_update: AutoUpdate | None = None
    extra: Extra = Field(
        default_factory=dict,
        description="Any other keys, by section: {SIP: {'SIP1 Phone Number': '201'}} writes "
        "<SIP CONFIG MODULE> with that line.",
    )


class ModelFiles(FileSettings):
    """Settings of one model's Common file, on top of `files.common`."""

    common_file: FileName | None = Field(
        None,
        description="The Common file's name, for a model no known source names "
        "(kea_fanvil/data/common_config_files.tsv).",
    )


class Encryption(_FilesModel):
    """AES keys of spec 3.5; the mode and padding are settings because Fanvil's are unknown."""

    mode: EncryptionMode = Field(
        DEFAULT_ENCRYPTION_MODE,
        description="aes-256-ecb, or aes-256-cbc with the IV before the ciphertext. Not "
        "verified against a phone.",
    )
    padding: Padding = Field(DEFAULT_PADDING, description="pkcs7, or zero (NUL bytes).")
    common_key: AesKey | None = Field(
        None, description="64 hex digits: encrypts the Common files (the phone's Common AES Key)."
    )
    device_key: AesKey | None = Field(
        None,
        description="64 hex digits: encrypts MAC-oriented, ID-oriented and custom files "
        "(the phone's Config Encrypt Key).",
    )

    @model_validator(mode="after")
    def _some_key(self) -> Encryption:
        if self.common_key is None and self.device_key is None:
            raise ValueError("give common_key, device_key or both (64 hex digits each)")
        return self


class FilesPolicy(_FilesModel):
    """The `files:` section: how `kea-fanvil files build` writes the provisioning files."""

    format: Literal["cfg", "xml"] = Field(
        "cfg", description="cfg (<<VOIP CONFIG FILE>>) or xml (<VOIP_CONFIG_FILE>)."
    )
    first_version: Version = Field(
        DEFAULT_FIRST_VERSION,
        description="Version of a file's first build; each change adds 0.0001.",
    )
    encryption: Encryption | None = None
    common: FileSettings = Field(
        default_factory=FileSettings, description="Settings in every model's Common file."
    )
    models: dict[ModelName, ModelFiles] = Field(
        default_factory=dict,
        description="Per model (C62, X4U, ...): Common file settings on top of `common`. A "
        "model listed here gets its Common file even if no device names it.",
    )
