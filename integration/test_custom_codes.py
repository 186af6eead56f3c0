"""Every custom option code 128-254 against each real server's configuration test.

For each code and each renderer, either the renderer refuses the code, naming what that server
defines there (data/server_option_codes.tsv), or the rendered configuration passes the real
server's own test (`kea-dhcp4 -t` for the installed Kea's version, `dnsmasq --test`,
`dhcpd -t`). Two URL lengths are tried, since some of Kea's formats (records, address lists)
accept data of some lengths only. And the hook, which sets the option's bytes itself, sends the
phone's URL on a code Kea defines otherwise (138, capwap-ac-v4), checked on the wire.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from daemons import kea_config, start_kea
from lab import Lab, client_dora, not_packaged

from kea_fanvil import RenderError, parse_policy
from kea_fanvil.kea_hook import build as hook_build
from kea_fanvil.kea_install import installed
from kea_fanvil.render import FullConfig, defined_code, dhcpd, dnsmasq, kea

FULL = FullConfig(
    "lo",  # `kea-dhcp4 -t` checks that a subnet's interface exists
    ipaddress.IPv4Network("198.18.0.0/24"),
    (ipaddress.IPv4Address("198.18.0.100"), ipaddress.IPv4Address("198.18.0.199")),
)
URLS = ("http://prov.example.com/x.cfg", "http://198.18.0.1/fanvil/$mac/")  # 29 and 31 bytes


def _policy(code: int, url: str) -> str:
    return f"version: 1\nprovisioning:\n  url: {url}\ndelivery:\n  custom_option: {code}\n"


def _servers() -> dict[str, list[str]]:
    found = {"kea": ["kea-dhcp4", "-t"], "dnsmasq": ["dnsmasq", "--test", "--conf-file="]}
    if not not_packaged("dhcpd") and shutil.which("dhcpd", path="/usr/sbin:/sbin"):
        found["dhcpd"] = ["/usr/sbin/dhcpd", "-t", "-cf"]
    return found


def _render(target: str, text: str) -> str:
    policy = parse_policy(text)
    if target == "kea":
        return kea.render(policy, FULL, kea_version=installed().version)
    return (dhcpd if target == "dhcpd" else dnsmasq).render(policy, FULL)


def _test(argv: list[str], conf: Path) -> subprocess.CompletedProcess[str]:
    command = [*argv[:-1], argv[-1] + str(conf)] if argv[-1].endswith("=") else [*argv, str(conf)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize("url", URLS)
def test_every_code_is_refused_with_a_reason_or_accepted_by_the_server(url: str) -> None:
    servers = _servers()
    version = installed().version
    refused: dict[str, list[int]] = {name: [] for name in servers}
    with tempfile.TemporaryDirectory(prefix="kf-codes-") as tmp:
        for code in range(128, 255):
            for target, argv in servers.items():
                known = defined_code(target, code, version if target == "kea" else ())
                try:
                    text = _render(target, _policy(code, url))
                except RenderError as exc:
                    assert known is not None, f"{target} refused {code} without cause: {exc}"
                    assert f"as {known.name} ({known.format})" in str(exc)
                    refused[target].append(code)
                    continue
                assert known is None, f"{target} rendered {code}, which it defines"
                conf = Path(tmp) / f"{target}-{code}.conf"
                conf.write_text(text)
                done = _test(argv, conf)
                assert done.returncode == 0, f"{target}, code {code}:\n{done.stdout}{done.stderr}"
    # What the table says each server defines, so the loop above proved both halves.
    assert refused.get("dnsmasq") == [150]
    assert 136 in refused["kea"] and 138 in refused["kea"] and 160 not in refused["kea"]
    assert refused.get("dhcpd", []) == []


def test_the_hook_sends_the_url_on_a_code_kea_defines_otherwise(lab: Lab, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(_policy(138, URLS[0]))
    hooks = [{"library": str(hook_build.installed_path()), "parameters": {"policy": str(policy)}}]
    kea_server = start_kea(lab, kea_config(lab, hooks=hooks), tmp_path)
    phone = client_dora(lab, "0c:38:3e:00:01:38", b"Fanvil X4", bytes([1, 3, 6]))
    for message in (phone.offer, phone.ack):
        assert message.option(138) == URLS[0].encode(), kea_server.log()
        assert message.option(66) == URLS[0].encode()
