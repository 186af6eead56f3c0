"""Provisioning file servers for the lab: Debian's nginx (HTTP) and tftpd-hpa (TFTP).

Both run in the foreground in the lab's server namespace, bound to the server's address only,
with their configuration, logs and pid files in the test's tmp_path; the lab stops them with
its DHCP servers. nginx writes an access log of one line per request (method, URI, status,
bytes, user, user agent) so tests can assert exactly what was requested. tftpd-hpa logs only
to syslog, which the lab does not have: TFTP tests assert on what the client received.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from daemons import logs_text
from lab import Lab, ServerProcess, run_command, server_env

HTTP_PORT = 8080

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
events {{ worker_connections 64; }}
http {{
    log_format probe '$request_method $request_uri $status $body_bytes_sent '
                     '"$remote_user" "$http_user_agent"';
    access_log {tmp}/nginx-access.log probe;
    client_body_temp_path {tmp}/nginx-temp/body;
    proxy_temp_path {tmp}/nginx-temp/proxy;
    fastcgi_temp_path {tmp}/nginx-temp/fastcgi;
    uwsgi_temp_path {tmp}/nginx-temp/uwsgi;
    scgi_temp_path {tmp}/nginx-temp/scgi;
    default_type text/plain;
    server {{
        listen {address}:{port};
        root {root};
        location /private/ {{
            auth_basic "fanvil";
            auth_basic_user_file {tmp}/nginx-users;
        }}
    }}
}}
"""


@dataclass
class HttpServer:
    process: ServerProcess
    access_log: Path
    base: str  # http://198.18.0.1:8080

    def requests(self) -> list[str]:
        """The access log, one `METHOD URI STATUS BYTES "USER" "AGENT"` line per request."""
        try:
            return self.access_log.read_text().splitlines()
        except FileNotFoundError:
            return []


def _wait_listening(
    lab: Lab, name: str, popen: subprocess.Popen[bytes], ss_args: list[str], *logs: Path
) -> None:
    deadline = time.monotonic() + 10
    while True:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}\n" + logs_text(*logs))
        listening = run_command(*lab.exec_argv(lab.srv_ns, "ss", "-Hl", *ss_args), check=False)
        if listening.stdout.strip():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not listening after 10 s\n" + logs_text(*logs))
        time.sleep(0.02)


def _popen(lab: Lab, argv: list[str], out_path: Path) -> subprocess.Popen[bytes]:
    with out_path.open("wb") as out:
        return subprocess.Popen(
            lab.exec_argv(lab.srv_ns, *argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(),
        )


def start_listening(
    lab: Lab, name: str, argv: list[str], ss_args: list[str], out_path: Path, *logs: Path
) -> ServerProcess:
    """Run `argv` in the lab's server namespace (output to `out_path`), the lab stopping it,
    and return once `ss -Hl <ss_args>` shows it listening (RuntimeError with its logs if not)."""
    popen = _popen(lab, argv, out_path)
    process = ServerProcess(name=name, popen=popen, log_path=out_path)
    lab.processes.append(process)
    _wait_listening(lab, name, popen, ss_args, out_path, *logs)
    return process


@contextmanager
def www_data_folder(prefix: str) -> Iterator[Path]:
    """A fresh folder under /tmp that nginx's workers (www-data) can read: pytest's tmp_path
    sits under a 0700 folder they cannot enter. Removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_nginx(
    lab: Lab, tmp: Path, root: Path, users: dict[str, str] | None = None, port: int = HTTP_PORT
) -> HttpServer:
    """Serve `root` over HTTP at the lab server's address; /private/ needs one of `users`."""
    (tmp / "nginx-temp").mkdir(exist_ok=True)
    # {PLAIN} is one of the password schemes nginx's auth_basic_user_file accepts.
    (tmp / "nginx-users").write_text(
        "".join(f"{user}:{{PLAIN}}{password}\n" for user, password in (users or {}).items())
    )
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, address=lab.srv_ip, port=port, root=root))
    out_path = tmp / "nginx.out"
    # -e: nginx opens its compiled-in error log (/var/log/nginx) before reading the config.
    argv = ["nginx", "-e", str(tmp / "nginx-startup.log"), "-p", f"{tmp}/", "-c", str(conf)]
    popen = _popen(lab, argv, out_path)
    process = ServerProcess(name="nginx", popen=popen, log_path=tmp / "nginx-error.log")
    lab.processes.append(process)
    _wait_listening(
        lab, "nginx", popen, ["-tn", f"sport = :{port}"], out_path, tmp / "nginx-error.log"
    )
    return HttpServer(process, tmp / "nginx-access.log", f"http://{lab.srv_ip}:{port}")


def start_tftpd(lab: Lab, tmp: Path, root: Path) -> ServerProcess:
    """Serve `root` over TFTP (port 69) at the lab server's address, read-only, chrooted."""
    # tftpd-hpa serves only world-readable files once it has dropped to user nobody.
    for path in (root, *root.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    out_path = tmp / "tftpd.out"
    argv = [
        "in.tftpd",
        "--foreground",
        "--address",
        f"{lab.srv_ip}:69",
        "--user",
        "nobody",
        "--secure",
        str(root),
    ]
    popen = _popen(lab, argv, out_path)
    process = ServerProcess(name="in.tftpd", popen=popen, log_path=out_path)
    lab.processes.append(process)
    _wait_listening(lab, "in.tftpd", popen, ["-un", "sport = :69"], out_path)
    return process
