"""The hook's control commands (kea_fanvil.kea_hook.commands and entry.command) in-process;
integration/test_hook_commands.py runs them inside real kea-dhcp4."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kea_fanvil.kea_hook import commands
from kea_fanvil.kea_hook import entry as hook_entry
from kea_fanvil.kea_hook.inventory import InventoryWriter
from kea_fanvil.reloader import Gate

POLICY = """\
version: 1
provisioning:
  url: "http://phone:Secr3t@prov.example.com/$mac.cfg"
sites:
  - name: branch
    subnet: 198.18.64.0/18
    url: "http://branch.example.com/"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    boot_file: desk-12.cfg
"""
DESK = "0c:38:3e:11:3a:f8"


@pytest.fixture(autouse=True)
def _fresh_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(hook_entry, "_engine", None)
    monkeypatch.setattr(hook_entry, "_current", None)
    yield
    hook_entry.stop()
    # load() freezes every object (gc.freeze(), as Kea's process wants); in the test process
    # that would hide referrers from later tests' gc.get_referrers() (Hypothesis'
    # register_random check warns then, on Python 3.14).
    gc.unfreeze()


def ask(name: str, arguments: dict[str, Any] | None = None) -> tuple[int, str, Any]:
    result, text, body = hook_entry.command(name, json.dumps(arguments) if arguments else "")
    return result, text, json.loads(body) if body else None


def test_decide_arguments_are_checked_by_name() -> None:
    request = commands.parse_decide(
        {
            "mac": "0C-38-3E-11-3A-F8",
            "vendor-class-hex": "46:61",
            "prl": "1, 66",
            "giaddr": "198.18.64.1",
        }
    )
    assert request == commands.DecideRequest(DESK, b"Fa", bytes([1, 66]), 0xC6124001, 0)
    assert commands.parse_decide({"mac": DESK, "prl": [43, 66]}).prl == bytes([43, 66])
    for bad, word in [
        ({"mac": 12}, "'mac' must be a string"),
        ({"mac": DESK, "prl": [True]}, "'prl'"),
        ({"mac": DESK, "prl": "1,x"}, "'prl'"),
        ({"mac": DESK, "vendor-class-hex": "zz"}, "'vendor-class-hex'"),
        ({"mac": DESK, "vendor-class": "x" * 256}, "at most 255 bytes"),
        ({"mac": DESK, "yiaddr": "::1"}, "'yiaddr'"),
    ]:
        with pytest.raises(commands.BadArguments, match=word):
            commands.parse_decide(bad)


def test_commands_on_the_python_path(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    policy.chmod(0o600)
    assert hook_entry.load(str(policy))[0] == "loaded"
    result, text, body = ask("fanvil-decide", {"mac": DESK, "prl": [66, 67]})
    assert result == commands.SUCCESS, text
    assert body["url"] == "http://phone:****@prov.example.com/$mac.cfg"  # masked
    by_code = {o["code"]: o for o in body["options"]}
    option66, option67 = by_code[66], by_code[67]
    assert option66["masked"] and option66["hex"] is None and "Secr3t" not in json.dumps(body)
    assert "Secr3t" not in text
    assert option67 == {
        "code": 67,
        "text": "desk-12.cfg",
        "hex": b"desk-12.cfg".hex(),
        "masked": False,
    }
    assert ask("fanvil-status", {"x": 1})[0] == commands.ERROR  # takes no arguments
    assert ask("fanvil-nothing")[0] == commands.ERROR
    result, text, _ = hook_entry.command("fanvil-decide", "[1, 2]")
    assert result == commands.ERROR and "arguments must be a map" in text
    result, _, body = ask("fanvil-status")
    assert result == 0 and body["decisions"] == "python" and body["inventory"] == {"state": "off"}
    assert body["policy"]["counts"]["devices"] == 1 and body["watcher"] == "off"
    assert ask("fanvil-devices-get")[0] == commands.ERROR  # the inventory is off


def test_reload_without_a_watcher_keeps_a_broken_file_out(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    assert hook_entry.load(str(policy))[0] == "loaded"
    policy.write_text(POLICY.replace("branch.example.com", "other.example.com"))
    result, text, body = ask("fanvil-policy-reload")
    assert result == 0 and "policy reloaded" in text and body["reloads"] >= 1
    policy.write_text("version: 1\nprovisioning:\n  url: gopher://x/\n")
    result, text, _ = ask("fanvil-policy-reload")
    assert result == commands.ERROR and f"{policy}:3" in text and "stays in force" in text
    assert hook_entry._engine is not None
    assert hook_entry._engine.decide_raw(
        bytes.fromhex("0c383e000001"), None, b"\x42", b"\xc6\x12\x40\x01", bytes(4)
    )


def test_devices_filters(tmp_path: Path) -> None:
    db = tmp_path / "phones.db"
    writer = InventoryWriter(str(db), lambda *a: None)
    from kea_fanvil.engine import Engine
    from kea_fanvil.policy.loader import parse_policy

    engine = Engine(parse_policy(POLICY))
    now = time.time()
    writer.submit((now, bytes.fromhex("0c383e113af8"), b"Fanvil X4 2.1", 0, 0xC6120009, engine))
    writer.submit(
        (now, bytes.fromhex("0c383e000002"), b"Fanvil C62 2.1", 0xC6124001, 0xC6126409, engine)
    )
    writer.flush()
    writer.close()
    result, _, body = commands.devices_answer({}, str(db))
    assert result == 0 and body["count"] == 2
    assert (
        commands.devices_answer({"site": "BRANCH"}, str(db))[2]["devices"][0]["mac"]
        == "0c:38:3e:00:00:02"
    )
    assert commands.devices_answer({"mac": "0c383e113af8"}, str(db))[2]["count"] == 1
    assert commands.devices_answer({"limit": 1}, str(db))[2]["total"] == 2
    assert commands.devices_answer({"since": now + 60}, str(db))[0] == commands.EMPTY
    assert commands.devices_answer({"since": "yesterday"}, str(db))[0] == commands.ERROR
    assert commands.devices_answer({}, str(tmp_path / "none.db"))[0] == commands.EMPTY


def test_a_gate_waits_for_work_and_holds_off_new_work() -> None:
    gate = Gate()
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def work() -> None:
        with gate.work():
            inside.set()
            release.wait(5)
            order.append("first work done")

    worker = threading.Thread(target=work)
    worker.start()
    inside.wait(5)
    pauser = threading.Thread(target=lambda: (gate.pause(), order.append("paused")))
    pauser.start()
    time.sleep(0.05)
    assert order == []  # pause() waits for the work in progress
    release.set()
    pauser.join(5)
    worker.join(5)
    assert order == ["first work done", "paused"]
    later = threading.Thread(target=lambda: gate.work().__enter__() and None)
    later.daemon = True
    later.start()
    later.join(0.1)
    assert later.is_alive()  # held off while paused
    gate.resume()
    later.join(5)
    assert not later.is_alive()


def test_a_postgresql_uri_never_holds_the_password() -> None:
    from kea_fanvil.errors import InventoryError
    from kea_fanvil.kea_hook.inventory_pg import check_uri, is_postgresql

    assert is_postgresql("postgresql://kea@db/kea") and is_postgresql("postgres://db/kea")
    assert not is_postgresql("/var/lib/kea/phones.db")
    check_uri("postgresql://kea@db.example.net/kea?passfile=/etc/kea/pgpass")
    for bad in ("postgresql://kea:s3cret@db/kea", "postgresql://kea@db/kea?password=s3cret"):
        with pytest.raises(InventoryError, match="holds a password") as caught:
            check_uri(bad)
        assert "s3cret" not in str(caught.value)


def test_the_control_client_names_what_is_wrong(tmp_path: Path) -> None:
    from kea_fanvil import kea_control
    from kea_fanvil.errors import ControlError

    with pytest.raises(ControlError, match="not a socket"):
        kea_control.send(str(tmp_path / "none.sock"), "fanvil-status")
    with pytest.raises(ControlError, match=r"127\.0\.0\.1:9"):
        kea_control.send("http://127.0.0.1:9/", "fanvil-status", timeout=2)


def test_metrics_targets_take_an_optional_name() -> None:
    from kea_fanvil.metrics.exporter import Target, parse_target

    assert parse_target("east=/run/kea/k.sock") == Target("east", "/run/kea/k.sock")
    assert parse_target("/run/kea/k.sock") == Target("/run/kea/k.sock", "/run/kea/k.sock")
    assert parse_target("http://127.0.0.1:8000/") == Target(
        "http://127.0.0.1:8000/", "http://127.0.0.1:8000/"
    )
