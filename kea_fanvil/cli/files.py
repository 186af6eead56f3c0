"""``kea-fanvil files``: build the provisioning files of a policy, and decrypt one to check it.

Registered on the main command by :mod:`kea_fanvil.cli.app`. Nothing here prints an encryption key:
build output says which key (common or device) encrypted a file, decrypt reads keys from the
policy or a key file, never from the command line (where `ps` and shell history would keep it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Column, Table

from kea_fanvil import safe_files
from kea_fanvil.cli import resync
from kea_fanvil.cli.common import err, fail, load, out
from kea_fanvil.errors import FilesError, InventoryError
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
from kea_fanvil.files import htpasswd, serve_config
from kea_fanvil.files import learn as access_log
from kea_fanvil.files.build import BuildReport, State, build, key_for
from kea_fanvil.kea_hook.inventory import DEFAULT_DB, read_meta, record_sightings
from kea_fanvil.policy.loader import locator
from kea_fanvil.policy.plan import unbuilt_boot_files

__all__ = [
    "EPILOG",
    "SHORT_KINDS",
    "SHOWN_ROWS",
    "build_command",
    "decrypt_command",
    "files",
    "learn_command",
    "nginx_command",
    "serve_config_group",
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
      kea-fanvil files serve-config nginx policy.yaml --root /srv/fanvil --auth device \\
          --htpasswd /etc/nginx/kea-fanvil --out /etc/nginx/sites-available/fanvil
      kea-fanvil files learn /var/log/nginx/kea-fanvil-access.log
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
@resync.build_notify_options
def build_command(
    policy: Path, out_dir: Path, dry_run: bool, show_all: bool, as_json: bool, **notify: Any
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

    \b
    --notify then tells the phones whose files changed to fetch them (SIP NOTIFY
    check-sync, at the address the inventory last saw them; docs/resync.md):
      kea-fanvil files build policy.yaml --out /srv/fanvil --notify
    """
    loaded = load(policy, check_files=True)
    notifier = resync.BuildNotifier.from_options(notify)
    try:
        report = build(loaded, out_dir, dry_run=dry_run)
    except FilesError as exc:
        fail(str(exc))
    changes = resync.after_build(report, loaded)
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
        document = _report_json(report)
        if notifier is not None:
            document["notify"] = notifier.send(changes, as_json=True, dry_run=dry_run)
        click.echo(json.dumps(document, indent=2))
        resync.exit_for(document.get("notify"))
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
    if notifier is not None:
        resync.exit_for(notifier.send(changes, as_json=False, dry_run=dry_run))


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


# --- serve-config: the guarded nginx site, and learning phones from its log --------------------

GUARD_EPILOG = "Docs: docs/guarded-files.md. Policy errors exit 1, usage errors 2."


@files.group("serve-config", epilog=GUARD_EPILOG)
def serve_config_group() -> None:
    """Render a web server's site that serves each built file only to its phones."""


def _absolute(value: str | None) -> str | None:
    # Relative paths would be read against nginx's prefix, not the folder the admin meant.
    return None if value is None else os.path.abspath(value)


def _listen(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(serve_config.parse_listen(v) for v in values) or ("80",)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _allow(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[serve_config.Network, ...] | None:
    try:
        return tuple(serve_config.parse_allow(v) for v in values) or None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@serve_config_group.command("nginx", epilog=GUARD_EPILOG)
@click.argument("policy", type=click.Path(path_type=Path, dir_okay=False), metavar="POLICY")
@click.option(
    "--root",
    required=True,
    help="The folder `files build --out` writes (the files are served from there).",
)
@click.option(
    "--listen",
    multiple=True,
    callback=_listen,
    help="PORT, ADDRESS:PORT or [IPV6]:PORT to listen on (repeatable; default 80).",
)
@click.option(
    "--server-name", "server_names", multiple=True, help="nginx server_name (repeatable)."
)
@click.option(
    "--allow",
    multiple=True,
    callback=_allow,
    metavar="CIDR",
    help="Serve the files to this network (repeatable) instead of the policy's site subnets.",
)
@click.option(
    "--auth",
    type=click.Choice(["none", "device"]),
    default="none",
    show_default=True,
    help="device: each file asks for the user:password its device's URL carries.",
)
@click.option(
    "--htpasswd",
    "htpasswd_dir",
    metavar="DIR",
    help="With --auth device: the folder the password files are written to (hashed, 0640).",
)
@click.option(
    "--htpasswd-group",
    default="www-data",
    show_default=True,
    help="The group nginx's workers run as: it owns the password files.",
)
@click.option(
    "--access-log",
    default=serve_config.ACCESS_LOG,
    show_default=True,
    help="Where nginx logs the requests `files learn` reads.",
)
@click.option("--prefix", default="/", show_default=True, help="URL path the files sit under.")
@click.option("--tls-cert", help="Serve HTTPS with this certificate (PEM; with --tls-key).")
@click.option("--tls-key", help="The certificate's private key.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the site to this file (replaced atomically) instead of printing it.",
)
def nginx_command(
    policy: Path,
    root: str,
    listen: tuple[str, ...],
    server_names: tuple[str, ...],
    allow: tuple[serve_config.Network, ...] | None,
    auth: serve_config.Auth,
    htpasswd_dir: str | None,
    htpasswd_group: str,
    access_log: str,
    prefix: str,
    tls_cert: str | None,
    tls_key: str | None,
    out_file: Path | None,
) -> None:
    """Print an nginx site serving POLICY's built files, each only to its phones.

    \b
    Only the names the policy builds are served, each from its own `location =`:
      - to the addresses of the policy's sites (all of them; --allow CIDR instead), 403
        for any other address;
      - with --auth device, only with the user:password of the URL its device is handed
        (the device's url, else the sites' and provisioning.url's), 401 otherwise; Common
        files take any URL's credentials. The passwords go, hashed, to password files in
        --htpasswd DIR (group --htpasswd-group, mode 0640); the site holds none;
      - every other name, the manifest and dotfiles included, is 404, before any password
        is asked for.
    Requests are logged as JSON lines (log_format kea_fanvil) that `files learn` reads.

    \b
    The output goes inside nginx's http block (Debian includes sites-enabled/ there):
      kea-fanvil files build policy.yaml --out /srv/fanvil
      kea-fanvil files serve-config nginx policy.yaml --root /srv/fanvil \\
          --listen 198.18.0.1:80 --auth device --htpasswd /etc/nginx/kea-fanvil \\
          --out /etc/nginx/sites-available/fanvil
      ln -s ../sites-available/fanvil /etc/nginx/sites-enabled/fanvil
      nginx -t && systemctl reload nginx
    Run it again after each change of devices or URLs (and `files build`).
    """
    if htpasswd_dir is not None and auth != "device":
        raise click.UsageError("--htpasswd is for --auth device")
    loaded = load(policy, check_files=True)
    site = serve_config.NginxSite(
        root=_absolute(root) or root,
        listen=listen,
        server_names=server_names,
        allow=allow,
        auth=auth,
        htpasswd_dir=_absolute(htpasswd_dir),
        access_log=_absolute(access_log) or access_log,
        prefix=prefix,
        tls_cert=_absolute(tls_cert),
        tls_key=_absolute(tls_key),
    )
    try:
        problems = serve_config.nginx_problems(loaded, site)
        if problems:
            locate = locator(policy)
            for loc, message in problems:
                err.print(f"{locate(loc)}: {message}", markup=False, soft_wrap=True)
            fail(f"{policy}: cannot be served so ({len(problems)} problem(s) above)")
        rendered = serve_config.render_nginx(loaded, site)
    except FilesError as exc:
        fail(str(exc))
    for note in rendered.notes:
        err.print(f"note: {note}", markup=False, soft_wrap=True)
    _warn_unbuilt(Path(site.root), rendered)
    if site.htpasswd_dir is not None:
        _write_password_files(Path(site.htpasswd_dir), rendered, htpasswd_group)
    if out_file is None or str(out_file) == "-":
        click.echo(rendered.config, nl=False)
        return
    try:
        written = safe_files.write_atomic(out_file, rendered.config.encode())
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    err.print(
        f"wrote {written}: {len(rendered.files)} files served to "
        f"{', '.join(map(str, rendered.allowed))}",
        markup=False,
        soft_wrap=True,
    )


def _warn_unbuilt(root: Path, rendered: serve_config.Rendered) -> None:
    missing = [g.name for g in rendered.files if not (root / g.name).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        err.print(
            f"warning: {root} lacks {shown}: run `kea-fanvil files build POLICY --out {root}` "
            "(until then nginx answers 404 for them, after the access checks)",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )


def _write_password_files(folder: Path, rendered: serve_config.Rendered, group: str) -> None:
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True, mode=0o750)
            shutil.chown(folder, group=group)
        changed = sum(
            htpasswd.write(folder / name, users, group)
            for name, users in sorted(rendered.passwords.items())
        )
    except (OSError, LookupError) as exc:
        fail(f"cannot prepare {folder}: {exc}")
    except FilesError as exc:
        fail(str(exc))
    err.print(
        f"password files in {folder}: {len(rendered.passwords)}, {changed} changed",
        markup=False,
        soft_wrap=True,
    )


@files.command("learn", epilog=GUARD_EPILOG)
@click.argument("log", type=click.Path(path_type=Path, dir_okay=False), metavar="LOG")
@click.option(
    "--inventory",
    metavar="PATH",
    default=DEFAULT_DB,
    show_default=True,
    help="The inventory to record the phones in: the hook's SQLite file (created if missing) "
    "or its PostgreSQL URI (no password in it: passfile=...).",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also take the policy's Common file names, and a new phone's site from its address.",
)
@click.option("--prefix", default="/", show_default=True, help="The site's --prefix.")
@click.option(
    "--source",
    default="nginx",
    show_default=True,
    help="Name of the log's server: each source remembers how far it was read.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be recorded; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def learn_command(
    log: Path,
    inventory: str,
    policy_path: Path | None,
    prefix: str,
    source: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Record the phones in LOG, the access log of `serve-config nginx`, in the inventory.

    \b
    A request counts when it succeeded (200, 304) and the phone's User-Agent
    (`Fanvil X4 2.10.2.6887 0c383e07e16c`: model, firmware, MAC) names the same MAC as the
    MAC-oriented file asked for, or asked for a Common file. Each phone's row gets the
    model, firmware and address of its newest request, last_seen its time, times_seen one
    more per request; a phone new to the inventory is `matched_by: http`. What only DHCP
    knows (URL, site, relay) is left as the Kea hook wrote it.

    \b
    Reading a log again, or the rotated log and then the new one, counts each request once:
    the inventory remembers the newest request learnt, per --source.
      kea-fanvil files learn /var/log/nginx/kea-fanvil-access.log --policy policy.yaml
      kea-fanvil devices --json
    """
    common: set[str] = set()
    sites: list[Any] = []
    if policy_path is not None:
        loaded = load(policy_path, check_files=True)
        common = {g.name for g in serve_config.guarded_files(loaded) if g.kind == "common"}
        sites = list(loaded.sites)
    key = f"http-learned:{source}"
    try:
        mark = access_log.Watermark.load(read_meta(inventory, key))
        report = access_log.learn(access_log.read_lines(log), mark, common, prefix)
    except (FilesError, InventoryError) as exc:
        fail(str(exc))

    def site_of(address: str) -> str:
        ip = ipaddress.ip_address(address)
        return next((s.name for s in sites if any(ip in n for n in s.subnets)), "")

    rows = [
        (s.mac, s.model, s.firmware, s.address, site_of(s.address), s.time)
        for s in report.sightings
    ]
    phones = len({s.mac for s in report.sightings})
    if not dry_run:
        try:
            record_sightings(inventory, rows, (key, mark.dump()))
        except InventoryError as exc:
            fail(str(exc))
    summary = {
        "log": str(log),
        "inventory": inventory,
        "dry_run": dry_run,
        "lines": report.lines,
        "recorded": len(report.sightings),
        "phones": phones,
        "already_learnt": report.already,
        "not_a_phone_file": report.other,
        "mac_mismatch": report.mismatched,
        "unreadable": report.unreadable,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    verb = "would record" if dry_run else "recorded"
    out.print(
        f"{log}: {report.lines} lines; {verb} {len(report.sightings)} requests of {phones} "
        f"phones in {inventory}; skipped {report.already} already learnt, {report.other} "
        f"not a phone fetching its file, {report.mismatched} with a User-Agent naming "
        f"another MAC than the file, {report.unreadable} unreadable",
        markup=False,
        soft_wrap=True,
    )
