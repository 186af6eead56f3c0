"""The guarded site (`files serve-config nginx`) in Debian's nginx, with dnsmasq and the probe.

The server namespace runs dnsmasq with `kea-fanvil render dnsmasq --full` of the policy below
and nginx with the site `files serve-config nginx --auth device` rendered (checked by `nginx
-t` first), serving what `files build` wrote. The phone is `kea-fanvil probe --fetch`, as an
admin runs it in the client namespace: DHCP, then the downloads the URL implies, with the
user:password of its URL and a Fanvil User-Agent. A small HTTP client then plays everyone
else: the same phone after another phone's file, a stranger guessing names, and a client
from an address outside the site (192.0.2.10, added to the client's interface). Last,
`files learn` reads nginx's access log into an inventory that `kea-fanvil devices` lists.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemons import start_dnsmasq
from file_servers import start_listening, www_data_folder
from lab import Lab, require, run_command, server_env

from kea_fanvil.files.build import MANIFEST_NAME

PHONE = "0c:38:3e:07:e1:6c"  # the probe: an X4, whose User-Agent wazo-provd quotes
OTHER = "0c:38:3e:11:3a:f8"
PHONE_FILE, OTHER_FILE = "0c383e07e16c.cfg", "0c383e113af8.cfg"
X4_COMMON, C62_COMMON = "f0X4hw1.100.cfg", "f0C006200000.cfg"
AGENT = "Fanvil X4 2.10.2.6887 0c383e07e16c"
OUTSIDE = "192.0.2.10"  # a client address outside the site's subnet

POLICY = """\
version: 1
provisioning:
  url: "http://fanvil:shared-Pw1@198.18.0.1/"
sites:
  - name: lab
    subnet: 198.18.0.0/24
devices:
  - mac: "0c:38:3e:07:e1:6c"
    url: "http://desk-1:pw-One1@198.18.0.1/"
    model: X4
    settings:
      extra:
        SIP: {"SIP1 Phone Number": "201", "SIP1 Register Pswd": "sip-201"}
  - mac: "0c:38:3e:11:3a:f8"
    url: "http://desk-2:pw-Two2@198.18.0.1/"
    model: C62
    settings:
      extra:
        SIP: {"SIP1 Phone Number": "202", "SIP1 Register Pswd": "sip-202"}
"""

NGINX_CONF = """\
user www-data;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log info;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include {run}/site.conf;
}}
"""

# A phone's GET from a chosen source address, with or without basic authentication and a
# User-Agent: the status, the WWW-Authenticate header and the body (hex).
GET = """\
import base64, http.client, json, sys
a = json.loads(sys.argv[1])
c = http.client.HTTPConnection(a["host"], 80, timeout=5, source_address=(a["source"], 0))
h = {"User-Agent": a["agent"]} if a.get("agent") else {}
if a.get("user"):
    h["Authorization"] = "Basic " + base64.b64encode(
        (a["user"] + ":" + a["password"]).encode()).decode()
c.request("GET", a["path"], headers=h)
r = c.getresponse()
print(json.dumps({"status": r.status, "challenge": r.getheader("WWW-Authenticate"),
                  "data": r.read().hex()}))
"""


def _kea_fanvil(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("kea-fanvil")
    return [*([str(script)] if script.exists() else [sys.executable, "-m", "kea_fanvil"]), *args]


def _run(*argv: str, ns: str | None = None) -> subprocess.CompletedProcess[str]:
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    return subprocess.run(
        full, capture_output=True, text=True, timeout=60, check=False, env=server_env()
    )


@pytest.fixture
def work() -> Iterator[Path]:
    with www_data_folder("kf-guard-") as folder:
        yield folder


def _start_nginx(lab: Lab, run: Path) -> None:
    conf = run / "nginx.conf"
    conf.write_text(NGINX_CONF.format(run=run))
    check = _run("nginx", "-t", "-e", str(run / "test.log"), "-c", str(conf), ns=lab.srv_ns)
    assert check.returncode == 0, check.stderr
    argv = ["nginx", "-e", str(run / "startup.log"), "-c", str(conf), "-g", "daemon off;"]
    start_listening(
        lab, "nginx", argv, ["-tn", "sport = :80"], run / "nginx.out", run / "error.log"
    )


def _start_dnsmasq(lab: Lab, policy: Path, state: Path) -> None:
    state.mkdir(mode=0o755)
    rendered = _run(
        *_kea_fanvil("render", "dnsmasq", str(policy), "--full", "--interface", lab.srv_if),
        *("--subnet", "198.18.0.0/24", "--pool", "198.18.0.100-198.18.0.199"),
        *("--state-dir", str(state), "--show-secrets"),
    )
    assert rendered.returncode == 0, rendered.stderr
    start_dnsmasq(lab, rendered.stdout, state)


def get(
    lab: Lab,
    path: str,
    user: str | None = None,
    password: str | None = None,
    agent: str | None = AGENT,
    source: str | None = None,
) -> dict[str, Any]:
    request = {
        "host": lab.srv_ip,
        "path": path,
        "user": user,
        "password": password,
        "agent": agent,
        "source": source or lab.cli_ip,
    }
    done = _run(sys.executable, "-c", GET, json.dumps(request), ns=lab.cli_ns)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_nginx_serves_a_phone_its_own_file_and_refuses_the_rest(lab: Lab, work: Path) -> None:
    require("nginx", "dnsmasq", "openssl")
    policy = work / "policy.yaml"
    policy.write_text(POLICY)
    policy.chmod(0o600)
    root, run = work / "fanvil", work / "nginx"
    run.mkdir(mode=0o755)
    built = _run(*_kea_fanvil("files", "build", str(policy), "--out", str(root)))
    assert built.returncode == 0, built.stderr
    files = {p.name: p.read_bytes() for p in root.iterdir() if not p.name.startswith(".")}
    assert sorted(files) == sorted([PHONE_FILE, OTHER_FILE, X4_COMMON, C62_COMMON])
    rendered = _run(
        *_kea_fanvil("files", "serve-config", "nginx", str(policy), "--root", str(root)),
        *("--listen", f"{lab.srv_ip}:80", "--auth", "device"),
        *("--htpasswd", str(run / "htpasswd"), "--access-log", str(run / "access.log")),
        *("--out", str(run / "site.conf")),
    )
    assert rendered.returncode == 0, rendered.stderr
    site = (run / "site.conf").read_text()
    for secret in ("pw-One1", "pw-Two2", "shared-Pw1", "sip-201"):
        assert secret not in site and secret not in rendered.stdout + rendered.stderr
    for name in ("common", "0c383e07e16c", "0c383e113af8"):
        info = os.stat(run / "htpasswd" / f"{name}.htpasswd")
        assert (info.st_mode & 0o777, info.st_gid) == (0o640, grp.getgrnam("www-data").gr_gid)
    # The client's second address, outside the site, and a way back to it from the server.
    for ns, iface, address in (
        (lab.cli_ns, lab.cli_if, f"{OUTSIDE}/24"),
        (lab.srv_ns, lab.srv_if, "192.0.2.1/24"),
    ):
        run_command("ip", "-n", ns, "addr", "add", address, "dev", iface)
    _start_dnsmasq(lab, policy, work / "dnsmasq")
    _start_nginx(lab, run)

    # The phone: DHCP hands it its URL (the device's own, with its user:password), and it
    # downloads its model's Common file and its MAC-oriented file, byte for byte.
    probe = _run(
        *_kea_fanvil(
            "probe", lab.cli_if, "--mac", PHONE, "--vendor-class", "Fanvil X4 2.10.2.6887"
        ),
        *("--fetch", "--json"),
        ns=lab.cli_ns,
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr
    report = json.loads(probe.stdout)
    assert report["url"] == "http://desk-1:****@198.18.0.1/"
    fetched = {f["url"].rsplit("/", 1)[1]: f for f in report["fetch"]}
    assert sorted(fetched) == sorted([X4_COMMON, PHONE_FILE])
    for name, result in fetched.items():
        assert result["ok"] and result["status"] == "200 OK", result
        assert result["sha256"] == hashlib.sha256(files[name]).hexdigest(), name

    phone = {"user": "desk-1", "password": "pw-One1"}
    mine = get(lab, f"/{PHONE_FILE}", **phone)
    assert mine["status"] == 200 and bytes.fromhex(mine["data"]) == files[PHONE_FILE]
    # Another phone's file: its own credentials open only its own files.
    theirs = get(lab, f"/{OTHER_FILE}", **phone)
    assert theirs["status"] == 401 and theirs["challenge"] == 'Basic realm="Fanvil provisioning"'
    assert get(lab, f"/{OTHER_FILE}", agent=None)["status"] == 401
    assert get(lab, f"/{OTHER_FILE}", "desk-2", "pw-One1")["status"] == 401
    other = get(lab, f"/{OTHER_FILE}", "desk-2", "pw-Two2", agent="Fanvil C62 2.4.1 0c383e113af8")
    assert other["status"] == 200 and bytes.fromhex(other["data"]) == files[OTHER_FILE]
    # Common files take any URL's credentials, the default URL's too.
    assert get(lab, f"/{C62_COMMON}", "fanvil", "shared-Pw1", agent=None)["status"] == 200
    assert get(lab, f"/{C62_COMMON}", agent=None)["status"] == 401
    # Unknown names and the manifest: 404, never a challenge, with or without credentials.
    for path in ("/0c383e999999.cfg", f"/{MANIFEST_NAME}", "/", "/fanvil/0c383e07e16c.cfg"):
        for creds in ({}, phone):
            answer = get(lab, path, **creds)
            assert (answer["status"], answer["challenge"]) == (404, None), (path, creds)
    # From outside the site: 403 before any password is asked for, even the right one.
    for creds in ({}, phone):
        answer = get(lab, f"/{PHONE_FILE}", source=OUTSIDE, **creds)
        assert (answer["status"], answer["challenge"]) == (403, None), creds
    assert get(lab, "/0c383e999999.cfg", source=OUTSIDE)["status"] == 404
    # A forged User-Agent on another phone's file: served (the password is right), not learnt.
    assert get(lab, f"/{OTHER_FILE}", "desk-2", "pw-Two2", agent=AGENT)["status"] == 200

    # What nginx logged becomes the inventory: the probe's two downloads and the direct one.
    inventory = work / "inventory.sqlite3"
    learn = [str(run / "access.log"), "--inventory", str(inventory), "--policy", str(policy)]
    learnt = _run(*_kea_fanvil("files", "learn", *learn, "--json"))
    assert learnt.returncode == 0, learnt.stderr
    summary = json.loads(learnt.stdout)
    lines = (run / "access.log").read_text().splitlines()
    assert summary["lines"] == len(lines) and summary["unreadable"] == 0
    assert (summary["phones"], summary["mac_mismatch"]) == (2, 1)
    assert json.loads(lines[0])["agent"] == AGENT  # the probe's own User-Agent, logged
    listed = _run(*_kea_fanvil("devices", "--db", str(inventory), "--json"))
    assert listed.returncode == 0, listed.stderr
    rows = {row["mac"]: row for row in json.loads(listed.stdout)}
    assert sorted(rows) == sorted([PHONE, OTHER])
    row = rows[PHONE]
    assert (row["model"], row["firmware"], row["address"]) == ("X4", "2.10.2.6887", lab.cli_ip)
    assert (row["matched_by"], row["site"]) == ("http", "lab")
    assert row["times_seen"] == 3  # Common and MAC file by the probe, the MAC file once more
    assert (rows[OTHER]["model"], rows[OTHER]["firmware"]) == ("C62", "2.4.1")

    # Read again: nothing counted twice.
    again = json.loads(_run(*_kea_fanvil("files", "learn", *learn, "--json")).stdout)
    assert (again["recorded"], again["already_learnt"]) == (0, len(lines))
    listed = _run(*_kea_fanvil("devices", "--db", str(inventory), "--json"))
    assert {r["mac"]: r["times_seen"] for r in json.loads(listed.stdout)}[PHONE] == 3
