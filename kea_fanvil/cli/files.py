"""``kea-fanvil files``: build the provisioning files of a policy, and decrypt one to check it.

Registered on the main command by :mod:`kea_fanvil.cli.app`. Nothing here prints an encryption key:
build output says which key (common or device) encrypted a file, decrypt reads keys from the
policy or a key file, never from the command line (where `ps` and shell history would keep it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Column, Table

from kea_fanvil import safe_files
from kea_fanvil.cli.common import err, fail, load, out
from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil import config_formats
from kea_fanvil.fanvil import crypto as file_crypto
from kea_fanvil.fanvil.crypto import (
    DEFAULT_ENCRYPTION_MODE,
    DEFAULT_PADDING,
    EncryptionMode,
    KeyKind,
    Padding,
)
from kea_fanvil.fanvil.naming import FileKind
from kea_fanvil.files.build import BuildReport, State, build, key_for
from kea_fanvil.policy.loader import locator
from kea_fanvil.policy.plan import unbuilt_boot_files

__all__ = [
    "EPILOG",
    "SHORT_KINDS",
    "SHOWN_ROWS",
    "build_command",
    "decrypt_command",
    "files",
]

EPILOG = (
    "Docs: docs/provisioning-files.md (formats, versions, encryption, nginx and tftpd-hpa). "
    "Policy errors exit 1, usage errors 2."
)
SHOWN_ROWS = 40  # build lists at most this many files unless --all
SHORT_KINDS: dict[FileKind, str] = {
    "common": "Common",
    "mac": "MAC",
    "id": "ID",
    "custom": "custom",
}


@click.group(epilog=EPILOG)
def files() -> None:
    """Build the provisioning files phones download (spec sections 3 and 5).

    After DHCP hands a phone its URL, the phone downloads its model's Common file, then its
    MAC-oriented file (or the ID-oriented or custom file). `files build` writes them from the
    same policy that steers DHCP, so the address, the names and the contents come from one
    place; serve the folder with nginx or tftpd-hpa (docs/provisioning-files.md).

    \b
      kea-fanvil files build policy.yaml --out /srv/fanvil
      kea-fanvil files decrypt /srv/fanvil/0c383e113af8.cfg --policy policy.yaml
    """


def _encryption_text(report: BuildReport) -> str:
    enc = report.encryption
    if enc is None:
        return "not encrypted"
    which = [n for n, k in (("Common", enc.common_key), ("device", enc.device_key)) if k]
    return (
        f"{' and '.join(which)} files encrypted, {enc.mode} with {enc.padding} padding "
        "(not verified against a phone)"
    )


def _report_json(report: BuildReport) -> dict[str, Any]:
    enc = report.encryption
    return {
        "out_dir": str(report.out_dir),
        "format": report.file_format,
        "dry_run": report.dry_run,
        "encryption": None
        if enc is None
        else {
            "mode": enc.mode,
            "padding": enc.padding,
            "common_files": enc.common_key is not None,
            "device_files": enc.device_key is not None,
        },
        "files": [
            {
                "name": f.name,
                "kind": f.kind,
                "for": f.owner,
                "version": f.version,
                "state": f.state,
                "encrypted_with": f.encrypted_with,
                "size": f.size,
            }
            for f in report.files
        ],
    }


@files.command("build", epilog=EPILOG)
@click.argument("policy", type=click.Path(path_type=Path, dir_okay=False), metavar="POLICY")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write into (created if missing); the folder your HTTP or TFTP server serves.",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--all", "show_all", is_flag=True, help="List every file, unchanged ones too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def build_command(
    policy: Path, out_dir: Path, dry_run: bool, show_all: bool, as_json: bool
) -> None:
    """Write POLICY's provisioning files into --out.

    \b
    One Common file per model in use (a device's `model`, or files.models), named as spec
    3.1 says (C62: f0C006200000.cfg); one MAC-oriented file per device (0c383e113af8.cfg);
    an ID-oriented file for a device with a boot_file and a custom file for one with a
    custom_file. CFG by default, XML with files.format: xml; names stay .cfg either way.

    A file's Version goes up by 0.0001 only when its content changes, so running this again
    on an unchanged policy rewrites nothing and phones do not reboot for nothing. The
    versions live in DIR/.kea-fanvil-manifest.json: keep it with the files. Files the policy
    no longer describes are deleted (only files the manifest lists).
    """
    loaded = load(policy, check_files=True)
    try:
        report = build(loaded, out_dir, dry_run=dry_run)
    except FilesError as exc:
        fail(str(exc))
    locate = locator(policy)
    built = {f.name for f in report.files if f.state != "removed"}
    for i, name in unbuilt_boot_files(loaded, built):
        err.print(
            f"warning: {locate(('sites', i, 'boot_file'))}: site "
            f"{loaded.sites[i].name!r} hands out boot file {name!r}, which this build does "
            "not write (ID-oriented files come from devices' boot_file); its phones will ask "
            "for it",
            style="yellow",
            soft_wrap=True,
        )
    if as_json:
        click.echo(json.dumps(_report_json(report), indent=2))
        return
    rows = [f for f in report.files if show_all or f.state != "unchanged" or f.kind == "common"]
    if rows:
        # File names stay whole (they are copied into URLs and greps); the owner may fold.
        table = Table(
            Column("file", no_wrap=True),
            Column("kind", no_wrap=True),
            Column("for", overflow="fold", min_width=17),  # a whole MAC
            Column("version", no_wrap=True),
            Column("state", no_wrap=True),
            Column("key", no_wrap=True),
        )
        for f in rows[:SHOWN_ROWS] if not show_all else rows:
            table.add_row(
                f.name,
                SHORT_KINDS[f.kind] if f.kind else "-",
                f.owner,
                f.version,
                f.state,
                f.encrypted_with or "-",
            )
        out.print(table)
        if not show_all and len(rows) > SHOWN_ROWS:
            out.print(f"... and {len(rows) - SHOWN_ROWS} more (--all lists them)", markup=False)
    if not any(f.kind == "common" for f in report.files):
        err.print(
            "note: no model in use, so no Common file: give devices a `model`, or list models "
            "under files.models",
            markup=False,
            soft_wrap=True,
        )
    states: tuple[State, ...] = ("new", "changed", "unchanged", "restored", "removed")
    counts = ", ".join(f"{report.count(s)} {s}" for s in states if report.count(s))
    verb = "would write" if dry_run else "wrote"
    out.print(
        f"{verb} {report.out_dir}: {report.file_format.upper()}, {_encryption_text(report)}; "
        f"{counts or 'nothing to do'}",
        markup=False,
        soft_wrap=True,
    )


def _read_key_file(path: Path) -> bytes:
    try:
        text = sys.stdin.read() if str(path) == "-" else safe_files.read_text(path, 1 << 16)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        fail(f"cannot read the key file {path}: {reason}")
    try:
        return file_crypto.parse_key(text.strip(), f"key file {path}")
    except FilesError as exc:
        fail(str(exc))


def _policy_key(
    policy_path: Path, file: Path, kind: KeyKind | None
) -> tuple[KeyKind, bytes, EncryptionMode, Padding]:
    loaded = load(policy_path, check_files=True)
    encryption = loaded.files.encryption if loaded.files else None
    if encryption is None:
        fail(f"{policy_path} encrypts no file (it has no files.encryption)")
    if kind is None:
        kind = key_for(loaded, file.name)
        if kind is None:
            raise click.UsageError(
                f"{file.name} is not a file {policy_path} builds; say which key decrypts it "
                "with --common or --device"
            )
    secret = encryption.common_key if kind == "common" else encryption.device_key
    if secret is None:
        fail(f"{policy_path} has no {kind}_key: its {kind} files are not encrypted")
    return kind, bytes.fromhex(secret.get_secret_value()), encryption.mode, encryption.padding


@files.command("decrypt", epilog=EPILOG, short_help="Decrypt a built file to check it and its key.")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Take the key, mode and padding from this policy's files.encryption.",
)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="A file holding the key (64 hex digits); - reads standard input.",
)
@click.option("--common", is_flag=True, help="Use the Common files' key.")
@click.option("--device", is_flag=True, help="Use the device files' key.")
@click.option(
    "--mode",
    type=click.Choice(["aes-256-ecb", "aes-256-cbc"]),
    help=f"AES mode (default: the policy's, else {DEFAULT_ENCRYPTION_MODE}).",
)
@click.option(
    "--padding",
    type=click.Choice(["pkcs7", "zero"]),
    help=f"Padding (default: the policy's, else {DEFAULT_PADDING}).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the plain file here instead of printing it ('-': print): mode 0600 when new, "
    "an existing file loses the rights of 'other' (it may hold passwords).",
)
def decrypt_command(
    file: Path,
    policy_path: Path | None,
    key_file: Path | None,
    common: bool,
    device: bool,
    mode: EncryptionMode | None,
    padding: Padding | None,
    output: Path | None,
) -> None:
    """Decrypt FILE, a file `files build` encrypted, and print it: to check a file or a key.

    The key comes from --policy (the Common key for a Common file, the device key for the
    others, told apart by the file's name) or from --key-file, never from the command line.
    Succeeds only if the result is a Fanvil configuration file, and reports its version.
    Fanvil's AES mode is not public: what works here is not proven to work on a phone.
    """
    if (policy_path is None) == (key_file is None):
        raise click.UsageError("give the key with --policy POLICY or --key-file FILE (one)")
    if common and device:
        raise click.UsageError("--common and --device name different keys: give one")
    kind: KeyKind | None = "common" if common else "device" if device else None
    try:
        data = safe_files.read_bytes(file)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    plain = config_formats.read_version(data)
    if plain is not None:
        fail(f"{file} is not encrypted: it is a {plain[0].upper()} file, version {plain[1]}")
    if policy_path is not None:
        kind, key, policy_mode, policy_padding = _policy_key(policy_path, file, kind)
        mode, padding = mode or policy_mode, padding or policy_padding
    else:
        assert key_file is not None
        key = _read_key_file(key_file)
        mode, padding = mode or DEFAULT_ENCRYPTION_MODE, padding or DEFAULT_PADDING
    which = f"the {kind} key" if kind else "the key"
    try:
        text = file_crypto.decrypt(data, key, mode, padding)
    except FilesError as exc:
        fail(f"cannot decrypt {file} with {which} ({mode}, {padding} padding): {exc}")
    found = config_formats.read_version(text)
    if found is None:
        fail(
            f"{file} decrypted with {which} ({mode}, {padding} padding) is not a Fanvil "
            "configuration file (no <<VOIP CONFIG FILE>> or <VOIP_CONFIG_FILE> header): the "
            "key, the mode or the padding is not the one it was encrypted with"
        )
    summary = (
        f"{file}: decrypted with {which} ({mode}, {padding} padding): "
        f"{found[0].upper()} file, version {found[1]}"
    )
    if output is None or str(output) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    else:
        try:
            # Secret: passwords in clear. A new file is 0600; an existing one loses the rights
            # of "other" and keeps its owner and group.
            written = safe_files.write_atomic(output, text, secret=True)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        summary += f"; wrote {written}"
    err.print(summary, markup=False, soft_wrap=True)
