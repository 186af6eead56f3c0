"""kea_fanvil.probe.fetch against real servers on loopback: HTTP(S) from the standard library's
http.server, FTP from pyftpdlib, TFTP from a small RFC 1350 server written here (so that the
client is not tested against its own library's server; the lab tests use tftpd-hpa)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import logging
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from kea_fanvil.probe.fetch import FetchSettings, config_version, fetch

CFG = b"<<VOIP CONFIG FILE>>Version:2.0003\n<GLOBAL CONFIG MODULE>\n<<END OF FILE>>\n"
BIG = b"<<VOIP CONFIG FILE>>Version:2.0004\n" + bytes(range(256)) * 9  # several TFTP blocks


# --- the version header -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "version"),
    [
        (b"<<VOIP CONFIG FILE>>Version:2.0002\n<<END OF FILE>>\n", "2.0002"),
        (b"<<VOIP CONFIG FILE>>Version:2.0002\r\n", "2.0002"),
        (b"\xef\xbb\xbf<<VOIP CONFIG FILE>>Version:2.0010", "2.0010"),
        (b"\n  <<VOIP CONFIG FILE>>Version : 3.0001\n", "3.0001"),
        (b"<<voip config file>>version:2.0002\n", "2.0002"),
        (b"<GLOBAL CONFIG MODULE>\n<<VOIP CONFIG FILE>>Version:2.0002\n", None),  # not first
        (b"<?xml version='1.0'?><VOIP_CONFIG_FILE></VOIP_CONFIG_FILE>", None),
        (b'<?xml version="1.0"?>\n<VOIP_CONFIG_FILE>\n<version>2.0003</version>\n', "2.0003"),
        (b"<sysConf><version>2.0003</version></sysConf>", None),  # the new dialect: unknown
        (b"<<VOIP CONFIG FILE>>Version:\n", None),
        (b"", None),
    ],
)
def test_config_version(data: bytes, version: str | None) -> None:
    assert config_version(data) == version


# --- HTTP and HTTPS -----------------------------------------------------------------------------

USER, PASSWORD = "phone", "s3cret"
REALM, NONCE = "fanvil", "5f1c2a"


class Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {"/fanvil/f0C006200000.cfg": CFG, "/big.cfg": BIG}
    seen: ClassVar[list[tuple[str, str]]] = []  # (path, user agent)

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("User-Agent", "")))
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/basic/"):
            expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if auth != f"Basic {expected}":
                return self._challenge(f'Basic realm="{REALM}"')
            return self._send(200, CFG)
        if self.path.startswith("/digest/"):
            if not self._digest_ok(auth):
                return self._challenge(f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth"')
            return self._send(200, CFG)
        if self.path == "/moved.cfg":
            self.send_response(302)
            self.send_header("Location", "/fanvil/f0C006200000.cfg")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if self.path == "/slow.cfg":
            time.sleep(1.5)
            return self._send(200, CFG)
        if self.path in self.files:
            return self._send(200, self.files[self.path])
        return self._send(404, b"not here\n")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _challenge(self, header: str) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", header)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _digest_ok(self, header: str) -> bool:
        """RFC 7616 section 3.4.1 with MD5 and qop=auth, written out independently of httpx."""
        if not header.startswith("Digest "):
            return False
        fields = {}
        for part in header[len("Digest ") :].split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value.strip('"')

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = md5(f"GET:{fields.get('uri', '')}")
        expected = md5(
            f"{ha1}:{NONCE}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:auth:{ha2}"
        )
        return fields.get("username") == USER and fields.get("response") == expected


@pytest.fixture
def http_base() -> Iterator[str]:
    Handler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_download_status_size_version(http_base: str) -> None:
    settings = FetchSettings(user_agent="Fanvil C62 0c383e113af8")
    result = fetch(f"{http_base}/fanvil/f0C006200000.cfg", settings)
    assert (result.ok, result.status, result.size, result.version) == (
        True,
        "200 OK",
        len(CFG),
        "2.0003",
    )
    assert result.data == CFG
    assert result.sha256 == hashlib.sha256(CFG).hexdigest()
    assert Handler.seen == [("/fanvil/f0C006200000.cfg", "Fanvil C62 0c383e113af8")]


def test_http_not_found(http_base: str) -> None:
    result = fetch(f"{http_base}/fanvil/0c383e113af8.cfg")
    assert not result.ok
    assert result.status == "404 Not Found"
    assert result.error == "HTTP 404 Not Found"


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_http_credentials_from_the_url(http_base: str, scheme: str) -> None:
    host = http_base.removeprefix("http://")
    result = fetch(f"http://{USER}:{PASSWORD}@{host}/{scheme}/x.cfg")
    assert result.ok and result.version == "2.0003", result.error
    wrong = fetch(f"http://{USER}:nope@{host}/{scheme}/x.cfg")
    assert not wrong.ok and wrong.status.startswith("401")
    assert "nope" not in str(wrong.as_dict())


def test_http_redirects_are_reported_not_followed(http_base: str) -> None:
    result = fetch(f"{http_base}/moved.cfg")
    assert not result.ok and result.status == "302 Found"
    assert "/fanvil/f0C006200000.cfg: not followed" in (result.error or "")


def test_http_timeout_and_size_limit(http_base: str) -> None:
    started = time.monotonic()
    slow = fetch(f"{http_base}/slow.cfg", FetchSettings(timeout=0.3))
    assert not slow.ok and slow.error == "no answer within 0.3 s"
    assert time.monotonic() - started < 1.4
    big = fetch(f"{http_base}/big.cfg", FetchSettings(max_bytes=1000))
    assert not big.ok and big.error == "larger than 1000 bytes; abandoned"


def test_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result = fetch(f"http://127.0.0.1:{port}/x.cfg")
    assert not result.ok and (result.error or "").startswith("cannot connect:")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("gopher://h/x.cfg", "gopher scheme: the probe downloads over HTTP, HTTPS, TFTP, FTP"),
        ("http://h:port/x.cfg", "not a valid URL: "),
        ("tftp://127.0.0.1/", "the URL names no file"),
        ("ftp:///x.cfg", "the URL names no host"),
    ],
)
def test_urls_that_cannot_be_fetched(url: str, error: str) -> None:
    result = fetch(url)
    assert not result.ok and (result.error or "").startswith(error)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl (Debian's openssl package) makes the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=probe",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_base(certificate: tuple[Path, Path]) -> Iterator[str]:
    Handler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_https_checks_the_certificate(https_base: str, certificate: tuple[Path, Path]) -> None:
    url = f"{https_base}/fanvil/f0C006200000.cfg"
    untrusted = fetch(url)
    assert not untrusted.ok
    assert "certificate is not trusted" in (untrusted.error or "")
    assert "--ca-file" in (untrusted.error or "")
    trusted = fetch(url, FetchSettings(ca_file=certificate[0]))
    assert trusted.ok and trusted.version == "2.0003", trusted.error
    assert fetch(url, FetchSettings(insecure=True)).ok


# --- TFTP ---------------------------------------------------------------------------------------


class TftpServer:
    """Read-only RFC 1350 server on loopback: one transfer at a time, from a new port each (its
    TID), 512-byte blocks, error 1 for a missing file; `silent` makes it answer nothing."""

    def __init__(self, files: dict[str, bytes], silent: bool = False) -> None:
        self.files = files
        self.silent = silent
        self.requests: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                packet, client = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            if struct.unpack("!H", packet[:2])[0] != 1 or self.silent:  # RRQ only
                continue
            name = packet[2:].split(b"\0")[0].decode()
            self.requests.append(name)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as transfer:
                transfer.bind(("127.0.0.1", 0))
                transfer.settimeout(0.2)
                if name not in self.files:
                    transfer.sendto(struct.pack("!HH", 5, 1) + b"File not found\0", client)
                    continue
                self._send(transfer, client, self.files[name])

    def _send(self, transfer: socket.socket, client: tuple[str, int], data: bytes) -> None:
        blocks = [data[i : i + 512] for i in range(0, len(data) + 1, 512)]
        for number, block in enumerate(blocks, 1):
            for _ in range(3):
                transfer.sendto(struct.pack("!HH", 3, number) + block, client)
                try:
                    ack = transfer.recv(4)
                except TimeoutError:
                    continue
                if struct.unpack("!HH", ack) == (4, number):
                    break
            else:
                return

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def tftp_server() -> Iterator[TftpServer]:
    server = TftpServer({"prov/f0C006200000.cfg": CFG, "prov/big.cfg": BIG})
    try:
        yield server
    finally:
        server.close()


def test_tftp_download(tftp_server: TftpServer) -> None:
    base = f"tftp://127.0.0.1:{tftp_server.port}/prov"
    small = fetch(f"{base}/f0C006200000.cfg")
    assert (small.ok, small.size, small.version) == (True, len(CFG), "2.0003"), small.error
    big = fetch(f"{base}/big.cfg")
    assert (big.ok, big.data) == (True, BIG), big.error
    # RFC 3617: the file name is the path without its leading "/".
    assert tftp_server.requests == ["prov/f0C006200000.cfg", "prov/big.cfg"]


def test_tftp_error_from_the_server(tftp_server: TftpServer) -> None:
    result = fetch(f"tftp://127.0.0.1:{tftp_server.port}/prov/0c383e113af8.cfg")
    assert not result.ok
    assert result.error == "TFTP error 1: File not found"


def test_tftp_size_limit(tftp_server: TftpServer) -> None:
    result = fetch(
        f"tftp://127.0.0.1:{tftp_server.port}/prov/big.cfg", FetchSettings(max_bytes=600)
    )
    assert not result.ok and result.error == "larger than 600 bytes; abandoned"


def test_tftp_silence_times_out() -> None:
    server = TftpServer({}, silent=True)
    try:
        started = time.monotonic()
        result = fetch(
            f"tftp://127.0.0.1:{server.port}/x.cfg", FetchSettings(timeout=0.2, tftp_retries=2)
        )
        assert not result.ok and result.error == "no answer within 0.2 s, 2 tries"
        assert time.monotonic() - started < 2
    finally:
        server.close()


# --- FTP ----------------------------------------------------------------------------------------


@pytest.fixture
def ftp_base(tmp_path: Path) -> Iterator[str]:
    with warnings.catch_warnings():
        # On Python 3.11 pyftpdlib imports the standard library's deprecated asyncore.
        warnings.simplefilter("ignore", DeprecationWarning)
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

    # pyftpdlib configures the root logger unless its own has a handler.
    logging.getLogger("pyftpdlib").addHandler(logging.NullHandler())
    (tmp_path / "prov").mkdir()
    (tmp_path / "prov" / "f0C006200000.cfg").write_bytes(CFG)
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(tmp_path), perm="elr")
    authorizer.add_anonymous(str(tmp_path))

    class Handler(FTPHandler):
        pass

    Handler.authorizer = authorizer
    Handler.auth_failed_timeout = 0  # pyftpdlib waits 3 s after a wrong password by default
    server = FTPServer(("127.0.0.1", 0), Handler)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        server.close_all()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.address[1]}"
    finally:
        stopping.set()
        thread.join()


def test_ftp_anonymous_and_with_credentials(ftp_base: str) -> None:
    anonymous = fetch(f"ftp://{ftp_base}/prov/f0C006200000.cfg")
    assert (anonymous.ok, anonymous.size, anonymous.version) == (True, len(CFG), "2.0003")
    assert anonymous.status.startswith("226")
    user = fetch(f"ftp://{USER}:{PASSWORD}@{ftp_base}/prov/f0C006200000.cfg")
    assert user.ok, user.error


def test_ftp_errors(ftp_base: str) -> None:
    missing = fetch(f"ftp://{ftp_base}/prov/0c383e113af8.cfg")
    assert not missing.ok and missing.status == "550"
    assert (missing.error or "").startswith("FTP 550")
    refused = fetch(f"ftp://{USER}:wrong@{ftp_base}/prov/f0C006200000.cfg")
    assert not refused.ok and refused.status == "530"
