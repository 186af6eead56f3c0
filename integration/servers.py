"""The servers under test, started in a lab with the shared policy of phones.py.

Each function starts one real server in `lab`'s server namespace with the policy (always_send
as given): Kea with the hook, Kea with the rendered client classes, and dnsmasq and dhcpd with
their rendered configurations, each first checked by the program itself. Every one also sends
KEA_OWN_66 as its own option 66 to clients that are not phones. Where a `policy_template` is
taken, it replaces phones.POLICY (with the same `{always_send}` placeholder).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from daemons import kea_config, start_dhcpd, start_dnsmasq, start_kea
from lab import RELAYED_POOL, KeaServer, Lab, ServerProcess
from phones import KEA_OWN_66, POLICY, direct_full_config, relayed_network_is_remote

from kea_fanvil.kea_hook import build as hook_build
from kea_fanvil.kea_install import installed
from kea_fanvil.policy.loader import parse_policy
from kea_fanvil.render.dhcpd import render as render_dhcpd
from kea_fanvil.render.dnsmasq import render as render_dnsmasq
from kea_fanvil.render.dnsmasq import site_tag
from kea_fanvil.render.kea import render as render_kea

DHCPD = "/usr/sbin/dhcpd"


def start_hook_kea(
    lab: Lab,
    tmp: Path,
    always_send: bool,
    multi_threading: bool,
    policy_template: str = POLICY,
    decisions: str = "table",
) -> KeaServer:
    policy = tmp / "policy.yaml"
    policy.write_text(policy_template.format(always_send="true" if always_send else "false"))
    parameters = {"policy": str(policy), "decisions": decisions}
    hooks: list[dict[str, Any]] = [
        {"library": str(hook_build.installed_path()), "parameters": parameters}
    ]
    config = kea_config(
        lab,
        option_data=[
            {"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}
        ],
        hooks=hooks,
        multi_threading=multi_threading,
    )
    return start_kea(lab, config, tmp)


def native_kea_config(lab: Lab, policy_text: str) -> dict[str, Any]:
    fragment = json.loads(
        render_kea(
            parse_policy(policy_text), None, sites_by_relay=True, kea_version=installed().version
        )
    )
    config = kea_config(
        lab,
        option_data=[
            {"name": "tftp-server-name", "data": KEA_OWN_66.decode(), "always-send": True}
        ],
    )
    config["Dhcp4"].update(fragment["Dhcp4"])
    return config


def start_native_kea(lab: Lab, tmp: Path, policy_text: str) -> KeaServer:
    config = native_kea_config(lab, policy_text)
    checked = tmp / "checked.json"
    checked.write_text(json.dumps(config))
    check = subprocess.run(
        lab.exec_argv(lab.srv_ns, "kea-dhcp4", "-t", str(checked)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return start_kea(lab, config, tmp)


def dnsmasq_rendered_config(
    lab: Lab, tmp: Path, always_send: bool, policy_template: str = POLICY
) -> str:
    policy = parse_policy(policy_template.format(always_send="true" if always_send else "false"))
    full = direct_full_config(lab, tmp)
    return render_dnsmasq(policy, full) + (
        "\n# Added by the test: the relayed network, tagged as branch-a's, and the server's\n"
        "# own option 66 for every client that is not a phone.\n"
        f"dhcp-range=set:{site_tag('branch-a')},{RELAYED_POOL[0]},{RELAYED_POOL[1]},"
        "255.255.192.0,1h\n"
        f'dhcp-option-force=66,"{KEA_OWN_66.decode()}"\n'
    )


def start_rendered_dnsmasq(
    lab: Lab, tmp: Path, always_send: bool, policy_template: str = POLICY
) -> ServerProcess:
    relayed_network_is_remote(lab)
    text = dnsmasq_rendered_config(lab, tmp, always_send, policy_template)
    conf = tmp / "checked.conf"
    conf.write_text(text)
    check = subprocess.run(
        ["dnsmasq", "--test", f"--conf-file={conf}"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    assert "syntax check OK" in check.stderr
    return start_dnsmasq(lab, text, tmp)


def dhcpd_rendered_config(lab: Lab, tmp: Path, always_send: bool) -> str:
    policy = parse_policy(POLICY.format(always_send="true" if always_send else "false"))
    full = direct_full_config(lab, tmp)
    return render_dhcpd(policy, full) + (
        "\n# Added by the test: the relayed network, and the server's own option 66 sent to\n"
        "# every client unasked (the fanvil class supersedes both for phones).\n"
        "subnet 198.18.64.0 netmask 255.255.192.0 {\n"
        f"  range {RELAYED_POOL[0]} {RELAYED_POOL[1]};\n"
        "}\n"
        f'option tftp-server-name "{KEA_OWN_66.decode()}";\n'
        "option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, 42);\n"
    )


def start_rendered_dhcpd(lab: Lab, tmp: Path, always_send: bool) -> ServerProcess:
    relayed_network_is_remote(lab)
    text = dhcpd_rendered_config(lab, tmp, always_send)
    conf = tmp / "checked.conf"
    conf.write_text(text)
    check = subprocess.run(
        [DHCPD, "-t", "-cf", str(conf)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    return start_dhcpd(lab, text, tmp)
