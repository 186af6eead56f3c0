"""Built files served by Debian's nginx and tftpd-hpa, fetched from the client namespace.

The servers run with the configurations docs/provisioning-files.md gives (nginx: basic
authentication with the user and password of spec 4.1, dotfiles refused; tftpd-hpa: chrooted,
read-only), in the lab's server namespace at 198.18.0.1. What a phone would download over HTTP
and TFTP must be byte-identical to what `files build` wrote, encrypted files included.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from file_servers import start_listening, www_data_folder
from lab import Lab, require, run_json_in_netns

from kea_fanvil import parse_policy
from kea_fanvil.fanvil.config_formats import read_version
from kea_fanvil.fanvil.crypto import decrypt
from kea_fanvil.files.build import MANIFEST_NAME, build

CLIENT = Path(__file__).resolve().parent / "files_client.py"
USER, PASSWORD = "fanvil", "s3cret-Prov"  # spec 4.1's User and Password
DEVICE_KEY = "6b" * 32

NGINX_CONF = """\
user www-data;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {run}/access.log;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    default_type application/octet-stream;
    server {{
        listen {address}:80;
        root {root};
        auth_basic "Fanvil provisioning";
        auth_basic_user_file {run}/htpasswd;
        location ~ /\\. {{ deny all; }}
        location / {{ try_files $uri =404; }}
    }}
}}
"""

POLICY = f"""version: 1
provisioning:
  url: "http://{USER}:{PASSWORD}@198.18.0.1/$mac.cfg"
files:
  encryption:
    mode: aes-256-cbc
    device_key: "{DEVICE_KEY}"
  common:
    auto_update:
      firmware: {{url: "http://198.18.0.1/firmware/c62.z", version: "2.12.1"}}
      phonebook_url: "http://198.18.0.1/phonebook.xml"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    model: C62
    boot_file: desk-12.cfg
    settings:
      extra:
        SIP: {{"SIP1 Phone Number": "201", "SIP1 Register Pswd": "sip-pass"}}
"""
# A file longer than one TFTP block, so the transfer takes several DATA packets.
LONG_EXTRA = "".join(f"          Line {i}: {'x' * 40}\n" for i in range(40))


@pytest.fixture
def served_dir() -> Iterator[Path]:
    with www_data_folder("kf-files-") as folder:
        yield folder


def _start(lab: Lab, name: str, argv: list[str], ss: list[str], run: Path) -> None:
    start_listening(lab, name, argv, ss, run / f"{name}.out")


def start_nginx(lab: Lab, root: Path, run: Path) -> None:
    """nginx as docs/provisioning-files.md sets it up, with our own files and addresses."""
    run.mkdir(mode=0o755)
    hashed = subprocess.run(
        ["openssl", "passwd", "-apr1", "-stdin"],
        input=PASSWORD,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    htpasswd = run / "htpasswd"
    htpasswd.write_text(f"{USER}:{hashed}\n")
    shutil.chown(htpasswd, group="www-data")
    htpasswd.chmod(0o640)
    conf = run / "nginx.conf"
    conf.write_text(NGINX_CONF.format(run=run, root=root, address=lab.srv_ip))
    # -e: nginx opens its compiled-in error log (/var/log/nginx) before reading -c otherwise.
    argv = ["nginx", "-e", str(run / "startup.log"), "-c", str(conf), "-g", "daemon off;"]
    _start(lab, "nginx", argv, ["-tn", "sport = :80"], run)


def start_tftpd(lab: Lab, root: Path, run: Path) -> None:
    """tftpd-hpa as Debian's /etc/default/tftpd-hpa runs it: --secure, user tftp."""
    run.mkdir(mode=0o755)
    argv = ["in.tftpd", "-L", "-a", f"{lab.srv_ip}:69", "-u", "tftp", "-s", str(root)]
    _start(lab, "in.tftpd", argv, ["-un", "sport = :69"], run)


def client(lab: Lab, **request: Any) -> dict[str, Any]:
    argv = [sys.executable, str(CLIENT), json.dumps(request)]
    code, answer, stderr = run_json_in_netns(lab.cli_ns, argv)
    if code != 0 or not isinstance(answer, dict):
        raise RuntimeError(f"client crashed ({code}):\n{stderr}")
    return answer


@pytest.fixture(autouse=True)
def _servers_installed() -> None:
    require("nginx", "in.tftpd", "openssl")


def test_http_and_tftp_serve_exactly_what_was_built(lab: Lab, served_dir: Path) -> None:
    root = served_dir / "fanvil"
    policy = parse_policy(
        POLICY.replace('"sip-pass"}\n', '"sip-pass"}\n        LONG:\n' + LONG_EXTRA)
    )
    report = build(policy, root)
    built = {f.name: (root / f.name).read_bytes() for f in report.files}
    assert sorted(built) == ["0c383e113af8.cfg", "desk-12.cfg", "f0C006200000.cfg"]
    assert len(built["0c383e113af8.cfg"]) > 3 * 512  # several TFTP blocks
    start_nginx(lab, root, served_dir / "nginx")
    start_tftpd(lab, root, served_dir / "tftpd")

    for name, data in built.items():
        over_http = client(
            lab, call="http", url=f"http://{lab.srv_ip}/{name}", user=USER, password=PASSWORD
        )
        assert over_http["status"] == 200
        assert bytes.fromhex(over_http["data"]) == data, f"{name} over HTTP"
        over_tftp = client(lab, call="tftp", server=lab.srv_ip, name=name)
        assert "error" not in over_tftp, over_tftp
        assert bytes.fromhex(over_tftp["data"]) == data, f"{name} over TFTP"

    # What the phone downloads is what the admin can check: the device file decrypts.
    plain = decrypt(built["0c383e113af8.cfg"], bytes.fromhex(DEVICE_KEY), "aes-256-cbc", "pkcs7")
    assert read_version(plain) == ("cfg", "2.0003") and b"SIP1 Phone Number  :201\n" in plain

    # Basic authentication is required, and the manifest is never served over HTTP.
    anonymous = client(
        lab, call="http", url=f"http://{lab.srv_ip}/f0C006200000.cfg", user=None, password=None
    )
    assert anonymous["status"] == 401
    wrong = client(
        lab, call="http", url=f"http://{lab.srv_ip}/f0C006200000.cfg", user=USER, password="nope"
    )
    assert wrong["status"] == 401
    manifest = client(
        lab, call="http", url=f"http://{lab.srv_ip}/{MANIFEST_NAME}", user=USER, password=PASSWORD
    )
    assert manifest["status"] == 403


def test_a_rebuild_serves_the_same_bytes_and_a_change_the_next_version(
    lab: Lab, served_dir: Path
) -> None:
    root = served_dir / "fanvil"
    build(parse_policy(POLICY), root)
    start_nginx(lab, root, served_dir / "nginx")
    start_tftpd(lab, root, served_dir / "tftpd")
    url = f"http://{lab.srv_ip}/f0C006200000.cfg"

    def common_over_http() -> bytes:
        answer = client(lab, call="http", url=url, user=USER, password=PASSWORD)
        assert answer["status"] == 200
        return bytes.fromhex(answer["data"])

    first = common_over_http()
    build(parse_policy(POLICY), root)
    assert common_over_http() == first
    build(parse_policy(POLICY.replace('version: "2.12.1"', 'version: "2.12.2"')), root)
    changed = common_over_http()
    assert read_version(first) == ("cfg", "2.0003") and read_version(changed) == ("cfg", "2.0004")
    over_tftp = client(lab, call="tftp", server=lab.srv_ip, name="f0C006200000.cfg")
    assert bytes.fromhex(over_tftp["data"]) == changed


def test_the_probe_downloader_reports_the_built_version(lab: Lab, served_dir: Path) -> None:
    """`kea-fanvil probe --fetch` reads these files with kea_fanvil.probe.fetch."""
    pytest.importorskip("kea_fanvil.probe.fetch")
    root = served_dir / "fanvil"
    build(parse_policy(POLICY.replace("device_key", "common_key")), root)  # device files plain
    start_nginx(lab, root, served_dir / "nginx")
    start_tftpd(lab, root, served_dir / "tftpd")
    expected = (root / "0c383e113af8.cfg").read_bytes()
    for url in (
        f"http://{USER}:{PASSWORD}@{lab.srv_ip}/0c383e113af8.cfg",
        f"tftp://{lab.srv_ip}/0c383e113af8.cfg",
    ):
        answer = client(lab, call="probe_fetch", url=url)
        assert answer["ok"], answer
        assert answer["version"] == "2.0003"
        assert bytes.fromhex(answer["data"]) == expected
