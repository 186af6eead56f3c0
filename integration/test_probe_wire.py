"""`kea-fanvil probe` on the wire: Kea with the hook and dnsmasq, real nginx and tftpd-hpa.

The probe runs as an admin runs it, `kea-fanvil probe kfcli0 ...`, under `ip netns exec` in the
client namespace (the pytest process never changes namespace). The server namespace runs the
DHCP server with PROBE_POLICY, nginx serving WWW and tftpd-hpa serving TFTP, files this test
wrote. Each test asserts the exact files the phone would request, what nginx saw requested,
the sizes and `<<VOIP CONFIG FILE>>Version:` of what came back, and that the server processed
the RELEASE, so that no lease is left behind. The error exits are run for real too: a missing
interface, one that is down, no server answering, and no right to raw sockets.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from daemons import statistic, wait_for_statistic
from file_servers import HttpServer, start_nginx, start_tftpd
from lab import KeaServer, Lab, ServerProcess, netns_pair, require
from servers import start_hook_kea, start_rendered_dnsmasq

from kea_fanvil.kea_install import installed

PROBE_POLICY = """\
version: 1
provisioning:
  url: "http://198.18.0.1:8080/fanvil/"
delivery:
  option_66: true
  option_43: string
  custom_option: 160
  always_send: {always_send}
match:
  vendor_class_prefixes: ["Fanvil"]
  ouis: ["0c:38:3e"]
devices:
  - mac: "0c:38:3e:00:70:02"
    url: "tftp://198.18.0.1/prov/"
    boot_file: "desk-12.cfg"
  - mac: "0c:38:3e:00:70:03"
    url: "http://198.18.0.1:8080/fanvil/$mac.cfg"
  - mac: "0c:38:3e:00:70:04"
    url: "http://phone:s3cret@198.18.0.1:8080/private/"
"""


def cfg(version: str, filler: int = 0) -> bytes:
    """A CFG file as FIELD-NOTES describe it; `filler` bytes make it span TFTP blocks."""
    return (
        f"<<VOIP CONFIG FILE>>Version:{version}\n<GLOBAL CONFIG MODULE>\n".encode()
        + b"#" * filler
        + b"\n<<END OF FILE>>\n"
    )


WWW = {
    "fanvil/f0C006200000.cfg": cfg("2.0003"),
    "fanvil/0c383e007001.cfg": cfg("2.0004", 40),
    "fanvil/0c383e007003.cfg": cfg("2.0005", 80),
    "private/f0C005800000.cfg": cfg("2.0007"),
    "private/0c383e007004.cfg": cfg("2.0008", 10),
}
TFTP = {
    "prov/f0C006200000.cfg": cfg("2.0003", 1300),  # three 512-byte blocks
    "prov/desk-12.cfg": cfg("2.0006", 20),
}
HTTP = "http://198.18.0.1:8080"


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _kea_fanvil() -> list[str]:
    """The console script of the interpreter running the tests (the project's venv)."""
    script = Path(sys.executable).with_name("kea-fanvil")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kea_fanvil"]


def run_probe(lab: Lab, *args: str, wrap: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", lab.cli_ns, *wrap, *_kea_fanvil(), "probe", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def probe_json(lab: Lab, *args: str, expect_exit: int = 0) -> dict[str, Any]:
    done = run_probe(lab, lab.cli_if, *args, "--json")
    assert done.returncode == expect_exit, done.stdout + done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    assert data["exit_code"] == expect_exit
    return data


@dataclass
class Site:
    """One lab: a DHCP server (`kind`), nginx and tftpd-hpa, and how to see a release."""

    kind: str
    lab: Lab
    dhcp: ServerProcess
    http: HttpServer
    released: Callable[[str, str], bool]  # (mac, address) -> the server processed the RELEASE


def _kea_released(server: KeaServer) -> Callable[[str, str], bool]:
    def released(mac: str, address: str) -> bool:
        # Kea's memfile appends a released lease once more with a valid lifetime of 0.
        rows = [
            line.split(",")
            for line in server.lease_file.read_text().splitlines()[1:]
            if line.split(",")[1:2] == [mac]
        ]
        return bool(rows) and rows[-1][0] == address and rows[-1][3] == "0"

    return released


def _dnsmasq_released(lab: Lab, server: ServerProcess, leases: Path) -> Callable[[str, str], bool]:
    def released(mac: str, address: str) -> bool:
        logged = f"DHCPRELEASE({lab.srv_if}) {address} {mac}" in server.log()
        return logged and mac not in leases.read_text()

    return released


@pytest.fixture(scope="module", params=["kea-hook", "dnsmasq"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    require("ip", "ss", "kea-dhcp4", "dnsmasq", "nginx", "in.tftpd")
    with netns_pair("kf") as lab:
        tmp = tmp_path_factory.mktemp(f"probe-{request.param}")
        if request.param == "kea-hook":
            kea = start_hook_kea(lab, tmp, True, False, PROBE_POLICY)
            dhcp: ServerProcess = kea
            released = _kea_released(kea)
        else:
            dhcp = start_rendered_dnsmasq(lab, tmp, True, PROBE_POLICY)
            released = _dnsmasq_released(lab, dhcp, tmp / "dnsmasq.leases")
        http = start_nginx(lab, tmp, _tree(tmp / "www", WWW), users={"phone": "s3cret"})
        start_tftpd(lab, tmp, _tree(tmp / "tftp", TFTP))
        yield Site(request.param, lab, dhcp, http, released)


def _kea_releases(site: Site) -> int:
    if not isinstance(site.dhcp, KeaServer):
        return 0
    return int(statistic(site.dhcp.control_socket, "pkt4-release-received"))


def _new_requests(site: Site, before: int) -> list[str]:
    return site.http.requests()[before:]


def _assert_released(site: Site, data: dict[str, Any]) -> None:
    assert data["released"] is True and data["release_error"] is None
    deadline = time.monotonic() + 5
    while not site.released(data["mac"], data["address"]):
        assert time.monotonic() < deadline, f"{site.kind} kept the lease of {data['mac']}"
        time.sleep(0.05)


Fetched = tuple[str, bool, str, int | None, str | None]


def _fetched(data: dict[str, Any]) -> list[Fetched]:
    return [(f["url"], f["ok"], f["status"], f["size"], f["version"]) for f in data["fetch"]]


def _got(url: str, data: bytes, version: str) -> Fetched:
    status = "TFTP transfer complete" if url.startswith("tftp:") else "200 OK"
    return (url, True, status, len(data), version)


def test_directory_url_common_then_mac_file_over_http(site: Site) -> None:
    before = len(site.http.requests())
    releases = _kea_releases(site)
    data = probe_json(site.lab, "--mac", "0c:38:3e:00:70:01", "--model", "C62", "--fetch")
    assert data["vendor_class"] == "Fanvil C62"
    assert [c["code"] for c in data["carriers"]] == [160, 66, 43]
    assert data["chosen"] == 160
    assert data["url"] == f"{HTTP}/fanvil/"
    assert data["boot_file"] is None
    assert [(f["kind"], f["name"], f["url"]) for f in data["files"]] == [
        ("common", "f0C006200000.cfg", f"{HTTP}/fanvil/f0C006200000.cfg"),
        ("mac", "0c383e007001.cfg", f"{HTTP}/fanvil/0c383e007001.cfg"),
    ]
    assert _fetched(data) == [
        _got(f"{HTTP}/fanvil/f0C006200000.cfg", WWW["fanvil/f0C006200000.cfg"], "2.0003"),
        _got(f"{HTTP}/fanvil/0c383e007001.cfg", WWW["fanvil/0c383e007001.cfg"], "2.0004"),
    ]
    agent = '"Fanvil C62 0c383e007001"'
    assert _new_requests(site, before) == [
        f'GET /fanvil/f0C006200000.cfg 200 {len(WWW["fanvil/f0C006200000.cfg"])} "-" {agent}',
        f'GET /fanvil/0c383e007001.cfg 200 {len(WWW["fanvil/0c383e007001.cfg"])} "-" {agent}',
    ]
    if site.kind == "dnsmasq":  # dnsmasq always ends option 66 with a NUL (FIELD-NOTES)
        assert data["carriers"][1]["note"] == "ends with a NUL, ignored"
    _assert_released(site, data)
    if isinstance(site.dhcp, KeaServer):  # Kea counts it too, and holds no address any more
        assert _kea_releases(site) == releases + 1
        if installed().expires_released_leases:
            # 2.6 and later expire a released lease (lease affinity): the address counts as
            # assigned until the reclamation routine (every second in the lab) runs.
            wait_for_statistic(site.dhcp, "subnet[1].assigned-addresses", 0)
        assert statistic(site.dhcp.control_socket, "subnet[1].assigned-addresses") == 0


def test_boot_file_makes_the_id_file_over_tftp(site: Site) -> None:
    data = probe_json(
        site.lab, "--mac", "0c:38:3e:00:70:02", "--vendor-class", "Fanvil C62 2.4.1", "--fetch"
    )
    assert (data["model"], data["model_source"]) == ("C62", "option 60")
    assert data["url"] == "tftp://198.18.0.1/prov/"
    assert data["boot_file"] == "desk-12.cfg"
    assert [(f["kind"], f["name"]) for f in data["files"]] == [
        ("common", "f0C006200000.cfg"),
        ("id", "desk-12.cfg"),
    ]
    assert _fetched(data) == [
        _got("tftp://198.18.0.1/prov/f0C006200000.cfg", TFTP["prov/f0C006200000.cfg"], "2.0003"),
        _got("tftp://198.18.0.1/prov/desk-12.cfg", TFTP["prov/desk-12.cfg"], "2.0006"),
    ]
    _assert_released(site, data)


def test_url_naming_a_file_is_the_only_request(site: Site) -> None:
    before = len(site.http.requests())
    # A factory phone: no option 60, known to the server by its MAC alone.
    data = probe_json(
        site.lab, "--mac", "0c:38:3e:00:70:03", "--no-vendor-class", "--model", "C62", "--fetch"
    )
    assert data["vendor_class"] is None
    assert data["url"] == f"{HTTP}/fanvil/$mac.cfg"
    assert data["expanded_url"] == f"{HTTP}/fanvil/0c383e007003.cfg"
    assert [(f["kind"], f["name"]) for f in data["files"]] == [("named", "0c383e007003.cfg")]
    assert _fetched(data) == [
        _got(f"{HTTP}/fanvil/0c383e007003.cfg", WWW["fanvil/0c383e007003.cfg"], "2.0005")
    ]
    assert [line.split()[1] for line in _new_requests(site, before)] == ["/fanvil/0c383e007003.cfg"]
    _assert_released(site, data)


def test_password_is_masked_in_the_report_and_used_for_the_download(site: Site) -> None:
    before = len(site.http.requests())
    done = run_probe(
        site.lab, site.lab.cli_if, "--mac", "0c:38:3e:00:70:04", "--model", "C58", "--fetch"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    assert "URL: http://phone:****@198.18.0.1:8080/private/ (from custom option 160)" in (
        done.stdout
    )
    assert "1. Common file f0C005800000.cfg (spec 3.1)" in done.stdout
    common, own = len(WWW["private/f0C005800000.cfg"]), len(WWW["private/0c383e007004.cfg"])
    assert f"200 OK, {common} bytes, version 2.0007" in done.stdout
    assert f"200 OK, {own} bytes, version 2.0008" in done.stdout
    # nginx saw the user: the password went to the server (answering its Basic challenge),
    # not to the terminal.
    seen = [line.split() for line in _new_requests(site, before)]
    assert [(w[1], w[2], w[4]) for w in seen] == [
        ("/private/f0C005800000.cfg", "401", '"-"'),
        ("/private/f0C005800000.cfg", "200", '"phone"'),
        ("/private/0c383e007004.cfg", "401", '"-"'),
        ("/private/0c383e007004.cfg", "200", '"phone"'),
    ]


def test_a_missing_file_exits_6(site: Site) -> None:
    data = probe_json(
        site.lab, "--mac", "0c:38:3e:00:70:05", "--model", "C62", "--fetch", expect_exit=6
    )
    assert [(f["ok"], f["status"]) for f in data["fetch"]] == [
        (True, "200 OK"),
        (False, "404 Not Found"),
    ]
    _assert_released(site, data)


# --- the error exits ----------------------------------------------------------------------------


def test_missing_interface_exits_4(lab: Lab) -> None:
    done = run_probe(lab, "kfnone0")
    assert done.returncode == 4, done.stderr
    assert "no network interface named 'kfnone0' here" in done.stderr


def test_interface_down_or_without_link_exits_4(lab: Lab) -> None:
    # A veth pair inside the client namespace, both ends down (dummy interfaces need a kernel
    # module a container may not have).
    ip = ["ip", "-n", lab.cli_ns, "link"]
    subprocess.run([*ip, "add", "kfdown0", "type", "veth", "peer", "name", "kfdown1"], check=True)
    down = run_probe(lab, "kfdown0", "--json")
    assert down.returncode == 4, down.stderr
    assert json.loads(down.stdout)["error"] == "interface kfdown0 is down (ip link set kfdown0 up)"
    # Up, but its peer is down: no carrier, as with an unplugged cable.
    subprocess.run([*ip, "set", "kfdown0", "up"], check=True)
    unplugged = run_probe(lab, "kfdown0")
    assert unplugged.returncode == 4, unplugged.stderr
    assert "interface kfdown0 is up but has no link" in unplugged.stderr


def test_no_server_exits_3_after_the_retries(lab: Lab) -> None:
    started = time.monotonic()
    done = run_probe(lab, lab.cli_if, "--timeout", "0.3", "--retries", "1")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "no DHCP server answered on kfcli0: no DHCPOFFER after 2 tries of 0.3 s" in done.stderr
    assert time.monotonic() - started < 10


def test_without_raw_socket_rights_exits_5(lab: Lab) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is missing")
    # Root without CAP_NET_RAW: what matters is the capability, which a normal user lacks.
    done = run_probe(lab, lab.cli_if, wrap=(setpriv, "--bounding-set=-net_raw", "--"))
    assert done.returncode == 5, done.stdout + done.stderr
    assert "run as root (or give the program CAP_NET_RAW)" in done.stderr


def test_as_an_ordinary_user_exits_5(lab: Lab) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is missing")
    user = (setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--")
    usable = subprocess.run(
        [*user, *_kea_fanvil(), "--version"], capture_output=True, text=True, check=False
    )
    if usable.returncode != 0:
        pytest.skip(f"user nobody cannot run this checkout's kea-fanvil: {usable.stderr[-200:]}")
    done = run_probe(lab, lab.cli_if, wrap=user)
    assert done.returncode == 5, done.stdout + done.stderr
