"""Download a provisioning file the way a phone would: HTTP(S), TFTP or FTP, every wait bounded.

- HTTP and HTTPS through httpx, one GET per file, redirects not followed (whether a phone
  follows them is not documented, so a redirect is reported, not hidden). A user and password
  in the URL (spec 4.1) answer the server's challenge, Basic or Digest (RFC 7617, RFC 7616).
  Certificates are checked against the system's CAs, or only `ca_file`'s, unless `insecure`.
  Proxy variables are ignored: the phone talks to the server directly.
- TFTP through tftpy (RFC 1350), octet mode, no options; the file name is the URL's path
  without its leading "/" (RFC 3617 section 2).
- FTP through the standard library's ftplib, passive mode, the user and password of the URL or
  anonymous, one CWD per directory of the path, then RETR (RFC 1738 section 3.2).

Each network operation times out after `timeout` seconds and one file is abandoned after
`TOTAL_TIMEOUT_FACTOR` x `timeout`; more than `max_bytes` is an error (configuration files are
small, and the probe keeps them in memory). `fetch` never raises for what the network or the
server does: the result says what went wrong.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import logging
import ssl
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import httpx

from kea_fanvil.errors import KeaFanvilError
from kea_fanvil.fanvil.config_formats import read_version
from kea_fanvil.redact import shown

__all__ = [
    "DEFAULT_MAX_BYTES",
    "TOTAL_TIMEOUT_FACTOR",
    "FetchResult",
    "FetchSettings",
    "config_version",
    "fetch",
]

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
TOTAL_TIMEOUT_FACTOR = 12

def config_version(data: bytes) -> str | None:
    """The config version a downloaded file states (:func:`kea_fanvil.fanvil.config_formats.
    read_version`); None when it states none, encrypted files included: decrypt them with
    `kea-fanvil files decrypt`."""
    found = read_version(data)
    return found[1] if found else None


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 5.0
    tftp_retries: int = 3  # tries per TFTP packet
    insecure: bool = False
    ca_file: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    user_agent: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One download. `url` keeps its password (mask it to show it); `data` is the file."""

    url: str
    ok: bool
    status: str  # what the server said: "200 OK", "226 Transfer complete.", "TFTP ..."
    size: int | None = None
    version: str | None = None
    sha256: str | None = None
    error: str | None = None
    seconds: float = 0.0
    data: bytes = field(default=b"", repr=False)

    def as_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        return {
            "url": shown(self.url, show_secrets),
            "ok": self.ok,
            "status": self.status,
            "size": self.size,
            "version": self.version,
            "sha256": self.sha256,
            "error": shown(self.error, show_secrets),
            "seconds": round(self.seconds, 3),
        }


class _Failed(KeaFanvilError):
    """A download went wrong; `status` is the server's word when it said one."""

    def __init__(self, message: str, status: str = "") -> None:
        super().__init__(message)
        self.status = status


class _Sink:
    """Collects a download, enforcing the size limit and the overall deadline as it grows."""

    def __init__(self, max_bytes: int, deadline: float, total: float) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.total = total

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _Failed(f"still downloading after {self.total:g} s; abandoned")

    def write(self, chunk: bytes) -> int:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise _Failed(f"larger than {self.max_bytes} bytes; abandoned")
        self.check_time()
        self.chunks.append(bytes(chunk))
        return len(chunk)

    def data(self) -> bytes:
        return b"".join(self.chunks)


def fetch(url: str, settings: FetchSettings | None = None) -> FetchResult:
    """Download `url` (http, https, tftp or ftp) as the phone would; never raises for I/O."""
    settings = settings or FetchSettings()
    started = time.monotonic()
    total = settings.timeout * TOTAL_TIMEOUT_FACTOR
    sink = _Sink(settings.max_bytes, started + total, total)
    try:
        status = _download(url, settings, sink)
    except _Failed as exc:
        seconds = time.monotonic() - started
        return FetchResult(url, False, exc.status, error=str(exc), seconds=seconds)
    data = sink.data()
    return FetchResult(
        url,
        True,
        status,
        size=len(data),
        version=config_version(data),
        sha256=hashlib.sha256(data).hexdigest(),
        seconds=time.monotonic() - started,
        data=data,
    )


def _download(url: str, settings: FetchSettings, sink: _Sink) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise _Failed(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    download = _DOWNLOADERS.get(scheme)
    if download is None:
        raise _Failed(f"{scheme or 'no'} scheme: the probe downloads over HTTP, HTTPS, TFTP, FTP")
    if not parts.hostname:
        raise _Failed("the URL names no host")
    return download(parts, settings, sink)


# --- HTTP and HTTPS -----------------------------------------------------------------------------


class _ChallengeAuth(httpx.Auth):
    """Answer the server's 401 with the scheme it asks for, Basic or Digest.

    httpx alone would send the URL's user and password as Basic on the first request, which a
    Digest-only server refuses, and would send the password in clear where Digest was offered.
    """

    def __init__(self, user: str, password: str) -> None:
        self._basic = httpx.BasicAuth(user, password)
        self._digest = httpx.DigestAuth(user, password)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        if response.status_code != 401:
            return
        offered = response.headers.get("www-authenticate", "").lstrip().lower()
        if offered.startswith("basic"):
            yield from self._basic.auth_flow(request)
        elif offered.startswith("digest"):
            # Hand the digest flow the challenge already received instead of letting it send
            # its own unauthenticated request first.
            flow = self._digest.auth_flow(request)
            next(flow)
            try:
                again = flow.send(response)
                while True:
                    again = flow.send((yield again))
            except StopIteration:
                return


def _http(parts: SplitResult, settings: FetchSettings, sink: _Sink) -> str:
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    bare = urlunsplit(parts._replace(netloc=netloc, fragment=""))
    auth: httpx.Auth | None = None
    if parts.username is not None or parts.password is not None:
        auth = _ChallengeAuth(unquote(parts.username or ""), unquote(parts.password or ""))
    verify: ssl.SSLContext | bool = False
    if not settings.insecure:
        try:
            verify = ssl.create_default_context(
                cafile=str(settings.ca_file) if settings.ca_file else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise _Failed(f"cannot read the CA file {settings.ca_file}: {exc}") from None
    # Asked for as a phone presumably asks: no compression, so sizes are the file's own.
    headers = {"Accept-Encoding": "identity"}
    if settings.user_agent:
        headers["User-Agent"] = settings.user_agent
    try:
        with (
            httpx.Client(
                timeout=settings.timeout, verify=verify, trust_env=False, follow_redirects=False
            ) as client,
            client.stream("GET", bare, auth=auth, headers=headers) as response,
        ):
            status = f"{response.status_code} {response.reason_phrase}".strip()
            if response.is_redirect:
                where = response.headers.get("location", "?")
                raise _Failed(
                    f"HTTP {status}, to {where}: not followed (whether a phone follows "
                    "redirects is not documented)",
                    status,
                )
            if response.status_code != 200:
                raise _Failed(f"HTTP {status}", status)
            for chunk in response.iter_bytes():
                sink.write(chunk)
    except httpx.TimeoutException:
        raise _Failed(f"no answer within {settings.timeout:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _Failed(_http_error(exc)) from None
    return status


def _http_error(exc: httpx.HTTPError | httpx.InvalidURL) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"the server's certificate is not trusted ({text}); give its CA with --ca-file, "
            "or --insecure to skip the check"
        )
    return f"cannot connect: {text}" if isinstance(exc, httpx.ConnectError) else text


# --- TFTP ---------------------------------------------------------------------------------------


def _tftp(parts: SplitResult, settings: FetchSettings, sink: _Sink) -> str:
    import tftpy

    # tftpy logs every retransmission at WARNING and every failure at ERROR; the result says
    # what happened, so its chatter must not reach the terminal through logging's last resort.
    logging.getLogger("tftpy").setLevel(logging.CRITICAL + 1)
    name = unquote(parts.path.removeprefix("/"))
    if not name:
        raise _Failed("the URL names no file")
    server_error: list[str] = []

    def watch(packet: Any) -> None:
        if isinstance(packet, tftpy.TftpPacketTypes.TftpPacketERR):
            raw = packet.errmsg or b""
            message = raw.decode("latin-1", "replace") if isinstance(raw, bytes) else str(raw)
            server_error.append(f"TFTP error {packet.errorcode}: {message}".rstrip(": "))
        sink.check_time()

    try:
        client = tftpy.TftpClient(parts.hostname, parts.port or 69, options={})
        client.download(
            name, sink, packethook=watch, timeout=settings.timeout, retries=settings.tftp_retries
        )
    except _Failed:
        raise
    except tftpy.TftpTimeout:
        raise _Failed(
            f"no answer within {settings.timeout:g} s, {settings.tftp_retries} tries"
        ) from None
    except tftpy.TftpException as exc:
        if server_error:
            raise _Failed(server_error[0], server_error[0]) from None
        raise _Failed(f"TFTP: {exc}") from None
    except OSError as exc:
        raise _Failed(f"cannot reach the server: {exc.strerror or exc}") from None
    except Exception as exc:  # tftpy may fail in ways it does not document
        raise _Failed(f"TFTP client failed: {type(exc).__name__}: {exc}") from None
    return "TFTP transfer complete"


# --- FTP ----------------------------------------------------------------------------------------


def _ftp(parts: SplitResult, settings: FetchSettings, sink: _Sink) -> str:
    segments = [unquote(s) for s in parts.path.split("/")[1:]]
    *directories, name = segments or [""]
    if not name:
        raise _Failed("the URL names no file")
    user = unquote(parts.username) if parts.username else "anonymous"
    # RFC 1738 3.2.1: anonymous login with an e-mail-like password when the URL has none.
    password = unquote(parts.password) if parts.password is not None else "anonymous@"
    ftp = ftplib.FTP(timeout=settings.timeout)
    try:
        ftp.connect(parts.hostname or "", parts.port or 21)
        ftp.login(user, password)
        for directory in directories:
            if directory:
                ftp.cwd(directory)
        status: str = ftp.retrbinary(f"RETR {name}", sink.write)
        with contextlib.suppress(*ftplib.all_errors):
            ftp.quit()  # a polite end; the file is already in
    except _Failed:
        raise
    except ftplib.Error as exc:
        reply = str(exc)
        raise _Failed(f"FTP {reply}", reply[:3]) from None
    except TimeoutError:
        raise _Failed(f"no answer within {settings.timeout:g} s") from None
    except (OSError, EOFError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _Failed(f"cannot reach the server: {text or 'connection closed'}") from None
    finally:
        ftp.close()
    return status


_DOWNLOADERS: dict[str, Callable[[SplitResult, FetchSettings, _Sink], str]] = {
    "http": _http,
    "https": _http,
    "tftp": _tftp,
    "ftp": _ftp,
}
