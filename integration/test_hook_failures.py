"""The hook never takes Kea down: bad policies refuse to load, failures leave responses alone.

Real kea-dhcp4 in a namespace, as in test_hook_wire.py. The fault-injection cases load a
stand-in ``kea_fanvil.kea_hook.entry`` (through the hook's ``python-path`` parameter) whose
``decide`` raises or breaks the contract for chosen MACs: the C++ side's handling of those is
what is under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemons import kea_config, start_kea, statistic
from lab import Lab, client_dora

from kea_fanvil.kea_hook import build as hook_build

KEA_OWN_66 = "tftp://198.18.0.1/kea-default.cfg"
PRL = bytes([1, 3, 6, 66])

STAND_IN = """\
def load(policy_path, reload_interval=0.0, log=None, inventory=None):
    return ("loaded", "stand-in")


def stop():
    pass


def decide(mac, opt60, opt55, giaddr, yiaddr):
    if mac[-1] == 1:
        raise ValueError("injected fault")
    if mac[-1] == 2:
        return "not a decision"
    if mac[-1] == 3:
        return (((66, b"x" * 300),), None)  # over one option's 255 bytes
    return (((66, b"http://ok.example.com/$mac.cfg"),), None)
"""


def stand_in_hook(tmp_path: Path, **parameters: object) -> dict[str, object]:
    """The hooks-libraries entry loading STAND_IN as kea_fanvil.kea_hook.entry."""
    package = tmp_path / "stand_in" / "kea_fanvil"
    (package / "kea_hook").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "kea_hook" / "__init__.py").write_text("")
    (package / "kea_hook" / "entry.py").write_text(STAND_IN)
    return {
        "library": str(hook_build.installed_path()),
        "parameters": {
            "policy": str(tmp_path / "unused.yaml"),
            "python-path": str(package.parent),
            "decisions": "python",  # the stand-in answers per packet, in Python
            **parameters,
        },
    }


def _render_hook_entry(policy: Path) -> dict[str, object]:
    """The hooks-libraries entry exactly as `kea-fanvil render kea-hook` prints it."""
    done = subprocess.run(
        [sys.executable, "-m", "kea_fanvil", "render", "kea-hook", str(policy)],
        capture_output=True,
        text=True,
        check=True,
    )
    entry: dict[str, object] = json.loads(done.stdout)
    return entry


def test_invalid_policy_stops_kea_with_the_reason(lab: Lab, tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text('version: 1\nprovisioning:\n  url: "http://prov.example.com/$mac.cfg"\n')
    entry = _render_hook_entry(good)
    assert entry["library"] == str(hook_build.installed_path())
    # Broken after rendering, as an admin's typo would be.
    good.write_text(good.read_text() + "devices:\n  - mac: 0c:38:3e:zz:00:01\n")
    config = kea_config(lab, hooks=[entry])
    with pytest.raises(RuntimeError, match="exited") as failed:
        start_kea(lab, config, tmp_path)
    log = str(failed.value)
    assert "FANVIL_POLICY_INVALID" in log
    assert f"{good}:5" in log and "devices[0].mac" in log and "is not a MAC address" in log


def test_missing_policy_parameter_refuses_to_load(lab: Lab, tmp_path: Path) -> None:
    config = kea_config(lab, hooks=[{"library": str(hook_build.installed_path())}])
    with pytest.raises(RuntimeError, match="exited") as failed:
        start_kea(lab, config, tmp_path)
    assert "FANVIL_LOAD_ERROR" in str(failed.value)
    assert "policy" in str(failed.value)


@pytest.mark.parametrize("multi_threading", [False, True], ids=["mt-off", "mt-on"])
def test_failures_leave_the_response_unchanged_and_are_counted(
    lab: Lab, tmp_path: Path, multi_threading: bool
) -> None:
    hook = stand_in_hook(tmp_path)
    config = kea_config(
        lab,
        option_data=[{"name": "tftp-server-name", "data": KEA_OWN_66, "always-send": True}],
        hooks=[hook],
        multi_threading=multi_threading,
    )
    kea = start_kea(lab, config, tmp_path)

    healthy = client_dora(lab, "0c:38:3e:00:00:04", None, PRL)
    assert healthy.ack.option(66) == b"http://ok.example.com/$mac.cfg"

    for mac in ("0c:38:3e:00:00:01", "0c:38:3e:00:01:01", "0c:38:3e:00:00:02", "0c:38:3e:00:00:03"):
        broken = client_dora(lab, mac, None, PRL)
        # The phone still gets its lease, with Kea's own options untouched.
        assert str(broken.ack.yiaddr).startswith("198.18.0.")
        assert broken.ack.option(66) == KEA_OWN_66.encode()

    # Four phones, OFFER and ACK each: eight failures counted...
    assert statistic(kea.control_socket, "pkt4-fanvil-errors") == 8
    assert statistic(kea.control_socket, "pkt4-fanvil-changed") == 2
    log = kea.log()
    # ...but one log line per kind within the interval (raise, wrong type, too long).
    assert log.count("FANVIL_DECIDE_FAILED") == 1, log
    assert "ValueError: injected fault" in log
    # Wrong type and over-long data are both "bad decision": one kind, one line.
    assert log.count("FANVIL_BAD_DECISION") == 1, log
    assert kea.popen.poll() is None  # Kea is still running


def test_one_line_per_kind_per_interval(lab: Lab, tmp_path: Path) -> None:
    hook = stand_in_hook(tmp_path, **{"error-log-interval": 2})
    kea = start_kea(lab, kea_config(lab, hooks=[hook], multi_threading=True), tmp_path)

    for mac in ("0c:38:3e:00:00:01", "0c:38:3e:00:01:01", "0c:38:3e:00:02:01"):
        client_dora(lab, mac, None, PRL)  # six failures well within one interval
    assert kea.log().count("FANVIL_DECIDE_FAILED") == 1
    time.sleep(2.2)
    client_dora(lab, "0c:38:3e:00:03:01", None, PRL)
    lines = [line for line in kea.log().splitlines() if "FANVIL_DECIDE_FAILED" in line]
    # The next interval's first failure is logged with the count of those kept quiet.
    assert len(lines) == 2, lines
    assert lines[1].endswith("(5 more since the last report)"), lines[1]
    assert statistic(kea.control_socket, "pkt4-fanvil-errors") == 8
