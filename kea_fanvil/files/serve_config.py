"""An nginx site that serves each built file only to the phones it is for (docs/guarded-files.md).

The files hold SIP passwords, and a MAC address is no secret: anyone who can guess one could
fetch its file from a folder served as a whole. The site rendered here serves **only the names
the policy builds** (:func:`kea_fanvil.policy.plan.plan`), each from an exact ``location =``
that allows the addresses of the policy's sites (or ``--allow``) and, with per-device
authentication, asks for the user and password that device's URL carries. Every other name is
answered 404 by ``location /``, which holds no access rule: nginx's access phase (``allow``/
``deny``, ``auth_basic``) runs before the content phase, so a name that is not served can never
answer 401 and so reveals nothing of which names exist. Dotfiles (the manifest) are never a
served name.

Within a served name, ``deny`` runs before ``auth_basic`` (nginx runs the access module's
handler first): an address outside the allowed networks gets 403 without being asked for a
password, an allowed one without the right password 401.

Every value that reaches the configuration (file names, paths, networks, addresses, server
names) is checked against a character set nginx reads literally and is written quoted where
nginx allows: nothing a policy or a command line says can add a statement, a block, or a
``$variable`` (which nginx would expand in ``root``, ``alias``, ``access_log`` and
``auth_basic_user_file``). Passwords never reach the configuration; they go to the password
files (:mod:`kea_fanvil.files.htpasswd`), hashed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil.naming import FileKind
from kea_fanvil.policy.models import Location, Policy
from kea_fanvil.policy.plan import plan

__all__ = [
    "ACCESS_LOG",
    "LOG_FORMAT",
    "LOG_FORMAT_NAME",
    "REALM",
    "Auth",
    "Guarded",
    "NginxSite",
    "Rendered",
    "guarded_files",
    "nginx_problems",
    "parse_allow",
    "parse_listen",
    "render_nginx",
]

Auth = Literal["none", "device"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Problem = tuple[Location, str]

REALM = "Fanvil provisioning"
ACCESS_LOG = "/var/log/nginx/kea-fanvil-access.log"
LOG_FORMAT_NAME = "kea_fanvil"
# One JSON object per request (escape=json: quotes, backslashes and control characters of the
# request come out escaped, so a hostile User-Agent cannot forge a line). What `kea-fanvil
# files learn` reads: kea_fanvil.files.learn.
LOG_FORMAT = (
    '{"time":$msec,"remote":"$remote_addr","status":$status,"method":"$request_method",'
    '"uri":"$uri","request":"$request_uri","agent":"$http_user_agent","user":"$remote_user",'
    '"bytes":$body_bytes_sent}'
)

# What nginx reads literally inside "...": no quote, backslash, "$", space, ";", "{", "}" or
# control character can pass. Paths and names outside it are refused, not escaped.
_PATH = re.compile(r"/[A-Za-z0-9._@+=,~/-]*")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+=,~-]*")  # check_file_name's set, without "$"
_SERVER_NAME = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*\.?|_")
_CREDENTIAL = re.compile(r"[\x21-\x7e]+")  # visible ASCII: a password file holds one line


def _quoted_path(value: str, what: str) -> str:
    if not _PATH.fullmatch(value) or "//" in value:
        raise FilesError(
            f"{what} {value!r}: nginx would not read it literally; an absolute path of "
            "letters, digits and . _ - @ + = , ~ / only (no spaces, quotes, '$' or ';')"
        )
    return f'"{value}"'


@dataclass(frozen=True)
class NginxSite:
    """How to serve: what the command line says (validated by :func:`render_nginx`)."""

    root: str  # the folder `files build --out` wrote
    listen: tuple[str, ...] = ("80",)  # as parse_listen returns them
    server_names: tuple[str, ...] = ()
    allow: tuple[Network, ...] | None = None  # None: every site's subnets
    auth: Auth = "none"
    htpasswd_dir: str | None = None  # with auth "device"
    access_log: str = ACCESS_LOG
    prefix: str = "/"  # the URL path the files sit under, "/" or "/fanvil/"
    tls_cert: str | None = None
    tls_key: str | None = None


@dataclass(frozen=True)
class Guarded:
    """One served name: who may have it."""

    name: str
    kind: FileKind
    devices: tuple[str, ...]  # MACs; () for a Common file (every phone of the model)
    htpasswd: str | None = None  # the password file's name in htpasswd_dir


@dataclass
class Rendered:
    config: str
    allowed: tuple[Network, ...]
    files: tuple[Guarded, ...]
    # Password file name -> (user, password): secrets, for htpasswd.write only.
    passwords: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def parse_listen(value: str) -> str:
    """``PORT``, ``ADDRESS:PORT`` or ``[IPV6]:PORT`` as nginx's ``listen`` takes it."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    if not port.isdigit() or not 0 < int(port) < 65536 or port.startswith("0"):
        raise ValueError(f"{value!r}: give PORT, ADDRESS:PORT or [IPV6]:PORT (port 1-65535)")
    if not host:
        return port
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        raise ValueError(f"{value!r}: {host!r} is not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address):
        if bare == host:
            raise ValueError(f"{value!r}: write an IPv6 address in brackets, [{bare}]:{port}")
        return f"[{address}]:{port}"
    return f"{address}:{port}"


def parse_allow(value: str) -> Network:
    """A network (CIDR) the files may be served to."""
    try:
        return ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network in CIDR form ({exc})") from None


# --- which names, for whom ----------------------------------------------------------------------


def guarded_files(policy: Policy) -> list[Guarded]:
    """Every name the policy builds, with the devices each belongs to, in the plan's order."""
    owners: dict[str, list[str]] = {}
    for device in policy.devices:
        mac12 = device.mac.replace(":", "")
        names = [f"{mac12}.cfg", device.boot_file, device.custom_file]
        for name in names:
            if name is not None:
                owners.setdefault(name.replace("$mac", mac12), []).append(device.mac)
    found = []
    for item in plan(policy):
        devices = () if item.kind == "common" else tuple(dict.fromkeys(owners.get(item.name, [])))
        found.append(Guarded(item.name, item.kind, devices))
    return found


@dataclass(frozen=True)
class _Credential:
    user: str
    password: str
    where: Location


def _credential(url: str, where: Location) -> tuple[_Credential | None, str | None]:
    """The (user, password) a URL carries, or why it cannot be a password file's entry."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return None, "is not a URL"
    if not password:
        return None, None
    user, password = unquote(user or ""), unquote(password)
    if not user:
        return None, "carries a password but no user name"
    for what, value in (("user", user), ("password", password)):
        if not _CREDENTIAL.fullmatch(value):
            return None, f"its {what} holds a space or a character that is not visible ASCII"
        if "$" in value:
            # Whether the phone expands $mac inside a URL's user or password is not known.
            return None, f"its {what} holds '$' (whether a phone expands $mac there is unknown)"
    if ":" in user:
        return None, "its user name holds ':' (percent-encoded), which a password file cannot"
    return _Credential(user, password, where), None


def _where(loc: Location) -> str:
    return f"{loc[0]}[{loc[1]}].{loc[2]}" if len(loc) == 3 else ".".join(map(str, loc))


class _Credentials:
    """Every URL's credentials, and the ones each device's phone may carry."""

    def __init__(self, policy: Policy) -> None:
        self.problems: list[Problem] = []
        self.urls: dict[Location, _Credential | None] = {}
        urls: list[tuple[Location, str]] = [(("provisioning", "url"), policy.provisioning.url)]
        urls += [(("sites", i, "url"), s.url) for i, s in enumerate(policy.sites) if s.url]
        urls += [(("devices", i, "url"), d.url) for i, d in enumerate(policy.devices) if d.url]
        for loc, url in urls:
            found, problem = _credential(url, loc)
            if problem:
                self.problems.append((loc, f"with --auth device: the URL {problem}"))
            self.urls[loc] = found
        self.shared = [loc for loc in self.urls if loc[0] != "devices"]

    def of_device(self, policy: Policy, index: int) -> list[Location]:
        """Where the URLs a device may be handed come from: its own, else (the site is only
        known when it asks for an address) every site's and the default."""
        if policy.devices[index].url:
            return [("devices", index, "url")]
        return self.shared


def _users(
    locs: Sequence[Location], creds: _Credentials, problems: list[Problem], for_what: str
) -> list[tuple[str, str]]:
    users: dict[str, _Credential] = {}
    for loc in locs:
        cred = creds.urls.get(loc)
        if cred is None:
            if loc not in {p[0] for p in creds.problems + problems}:  # once per URL
                problems.append(
                    (
                        loc,
                        f"with --auth device: {for_what} (and maybe more) may be fetched "
                        "with this URL, which carries no user:password; give the URL one, or "
                        "the devices URLs of their own, or serve without --auth",
                    )
                )
            continue
        first = users.setdefault(cred.user, cred)
        if first.password != cred.password:
            problems.append(
                (
                    loc,
                    f"with --auth device: user {cred.user!r} has another password in "
                    f"{_where(first.where)}, and {for_what} must accept both; a password "
                    "file holds one password per user: give the URLs different user names",
                )
            )
    return [(c.user, c.password) for c in users.values()]


def _htpasswd_name(item: Guarded) -> str:
    if not item.devices:
        return "common.htpasswd"
    if len(item.devices) == 1:
        return f"{item.devices[0].replace(':', '')}.htpasswd"
    digest = hashlib.sha256(",".join(sorted(item.devices)).encode()).hexdigest()[:12]
    return f"shared-{digest}.htpasswd"


# --- rendering ----------------------------------------------------------------------------------


def _allowed(policy: Policy, site: NginxSite) -> tuple[tuple[Network, ...], list[Problem]]:
    if site.allow is not None:
        return site.allow, []
    nets = list(ipaddress.collapse_addresses(n for s in policy.sites for n in s.subnets))
    if not nets:
        return (), [
            (
                ("sites",),
                "the policy has no sites, so no addresses to serve the files to: give "
                "--allow CIDR (repeatable; --allow 0.0.0.0/0 serves every address)",
            )
        ]
    return tuple(nets), []


def nginx_problems(policy: Policy, site: NginxSite) -> list[Problem]:
    """What stops the policy being served so, as (policy location, message)."""
    return _render(policy, site)[1]


def render_nginx(policy: Policy, site: NginxSite) -> Rendered:
    """The site (an include for nginx's ``http`` block: a ``log_format`` and a ``server``).

    FilesError for a value nginx would not read literally, or a policy that cannot be served
    as asked (the messages name the policy field; :func:`nginx_problems` lists them apart)."""
    rendered, problems = _render(policy, site)
    if problems:
        raise FilesError("; ".join(f"{_where(loc)}: {msg}" for loc, msg in problems))
    assert rendered is not None
    return rendered


def _check_site(site: NginxSite) -> None:
    _quoted_path(site.root, "--root")
    _quoted_path(site.access_log, "--access-log")
    if site.htpasswd_dir is not None:
        _quoted_path(site.htpasswd_dir, "--htpasswd")
    if site.auth == "device" and site.htpasswd_dir is None:
        raise FilesError("--auth device needs --htpasswd DIR, the folder of the password files")
    if not _PATH.fullmatch(site.prefix) or not site.prefix.endswith("/") or "//" in site.prefix:
        raise FilesError(
            f"--prefix {site.prefix!r}: a URL path such as / or /fanvil/, starting and ending "
            "with '/', of letters, digits and . _ - @ + = , ~ only"
        )
    if any(part in (".", "..") for part in PurePosixPath(site.prefix).parts):
        raise FilesError(f"--prefix {site.prefix!r}: no . or .. segments")
    for name in site.server_names:
        if not _SERVER_NAME.fullmatch(name):
            raise FilesError(
                f"--server-name {name!r}: a host name (prov.example.com, *.example.com) or _"
            )
    for value in site.listen:
        try:
            if parse_listen(value) != value:
                raise ValueError(f"{value!r}: write it as {parse_listen(value)}")
        except ValueError as exc:
            raise FilesError(f"--listen {exc}") from None
    if (site.tls_cert is None) != (site.tls_key is None):
        raise FilesError("TLS needs both --tls-cert and --tls-key")
    for path, what in ((site.tls_cert, "--tls-cert"), (site.tls_key, "--tls-key")):
        if path is not None:
            _quoted_path(path, what)


def _render(policy: Policy, site: NginxSite) -> tuple[Rendered | None, list[Problem]]:
    _check_site(site)
    allowed, problems = _allowed(policy, site)
    files = guarded_files(policy)
    for item in files:
        if not _NAME.fullmatch(item.name):  # the loader refuses them; a built Policy may not
            problems.append((("files",), f"{item.name!r} is not a name nginx can match literally"))
    passwords: dict[str, list[tuple[str, str]]] = {}
    notes: list[str] = []
    if site.auth == "device":
        creds = _Credentials(policy)
        problems += creds.problems
        index = {d.mac: i for i, d in enumerate(policy.devices)}
        with_auth = []
        for item in files:
            if item.devices:
                locs = list(
                    dict.fromkeys(
                        loc for mac in item.devices for loc in creds.of_device(policy, index[mac])
                    )
                )
                what = f"{item.name} (for {', '.join(item.devices)})"
            else:
                locs = list(creds.urls)
                what = f"the Common file {item.name}"
            name = _htpasswd_name(item)
            passwords[name] = _users(locs, creds, problems, what)
            with_auth.append(Guarded(item.name, item.kind, item.devices, name))
        files = with_auth
        sharing = sum(1 for d in policy.devices if not d.url)
        if sharing:
            notes.append(
                f"{sharing} device(s) have no URL of their own: their files take the "
                "credentials of the site and default URLs, shared with other phones"
            )
    if problems:
        return None, list(dict.fromkeys(problems))
    return Rendered(_text(site, allowed, files), allowed, tuple(files), passwords, notes), []


def _text(site: NginxSite, allowed: Sequence[Network], files: Sequence[Guarded]) -> str:
    tls = site.tls_cert is not None
    lines = [
        "# Rendered by `kea-fanvil files serve-config nginx`: the provisioning files, each only",
        "# to the addresses allowed (403 otherwise) and, with --auth device, with its device's",
        "# password (401); every other name 404, before any password is asked for.",
        "# Include it inside nginx's http block (Debian: /etc/nginx/sites-enabled/).",
        f"log_format {LOG_FORMAT_NAME} escape=json '{LOG_FORMAT}';",
        "",
        "server {",
    ]
    lines += [f"    listen {value}{' ssl' if tls else ''};" for value in site.listen]
    if site.server_names:
        lines.append(f"    server_name {' '.join(site.server_names)};")
    if tls:
        assert site.tls_cert is not None and site.tls_key is not None
        lines.append(f"    ssl_certificate {_quoted_path(site.tls_cert, '--tls-cert')};")
        lines.append(f"    ssl_certificate_key {_quoted_path(site.tls_key, '--tls-key')};")
    lines += [
        f"    access_log {_quoted_path(site.access_log, '--access-log')} {LOG_FORMAT_NAME};",
        "    server_tokens off;",
        "    autoindex off;",
        "    default_type application/octet-stream;",
        "",
        "    # Not a name the policy builds (the manifest and every dotfile included): 404,",
        "    # with no access rule on the way, so no 401 or 403 tells a name exists.",
        "    location / { return 404; }",
    ]
    root = site.root.rstrip("/") or "/"
    for item in files:
        path = f"{site.prefix}{item.name}"
        who = "every phone of the model" if not item.devices else ", ".join(item.devices)
        lines += ["", f"    # {item.kind}: {who}", f'    location = "{path}" {{']
        alias = _quoted_path(f"{root.rstrip('/')}/{item.name}", "--root")
        lines.append(f"        alias {alias};")
        lines += [f"        allow {net};" for net in allowed]
        lines.append("        deny all;")
        if item.htpasswd is not None:
            assert site.htpasswd_dir is not None
            password_file = f"{site.htpasswd_dir.rstrip('/')}/{item.htpasswd}"
            lines.append(f'        auth_basic "{REALM}";')
            lines.append(
                f"        auth_basic_user_file {_quoted_path(password_file, '--htpasswd')};"
            )
        lines.append("    }")
    lines += ["}", ""]
    return "\n".join(lines)
