"""kea_fanvil.kea_hook.entry, the Python face of the Kea hook: load outcomes and the file watcher.

The same behaviour is tested inside real kea-dhcp4 in integration/test_hook_reload.py; here it
runs in-process, so every branch is cheap to reach.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kea_fanvil.engine import Engine
from kea_fanvil.kea_hook import entry as hook_entry
from kea_fanvil.policy.loader import load_policy

PHONE = b"\x0c\x38\x3e\0\0\1"
ZERO = bytes(4)
POLICY = 'version: 1\nprovisioning:\n  url: "{url}"\ndelivery:\n  option_43: "off"\n'


@pytest.fixture(autouse=True)
def _fresh_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(hook_entry, "_engine", None)  # restored after the test
    monkeypatch.setattr(hook_entry, "_current", None)
    yield
    hook_entry.stop()
    # load() freezes every object (gc.freeze(), as Kea's process wants); in the test process
    # that would hide referrers from later tests' gc.get_referrers() (Hypothesis'
    # register_random check warns then, on Python 3.14).
    gc.unfreeze()


def url_of(decision: object) -> bytes:
    assert isinstance(decision, tuple)
    ((code, data),) = decision[0]
    assert code == 66
    return bytes(data)


def write(path: Path, text: str) -> None:
    new = path.with_name(path.name + ".new")
    new.write_text(text)
    os.replace(new, path)  # a new inode: the watcher must not depend on mtime granularity


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_load_outcomes(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="before a policy was loaded"):
        hook_entry.decide(PHONE, None, None, ZERO, ZERO)
    outcome, why = hook_entry.load(str(tmp_path / "missing.yaml"))
    assert outcome == "invalid" and "cannot read the policy" in why
    assert "cannot read the policy" in hook_entry.load(str(tmp_path))[1]  # a directory
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"version: 1\n# caf\xe9\n")
    assert "cannot read the policy" in hook_entry.load(str(latin1))[1]
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\n")
    assert hook_entry.load(str(bad)) == (
        "invalid",
        f"{bad}:1:1: provisioning: required key is missing",
    )

    good = tmp_path / "good.yaml"
    good.write_text(POLICY.format(url="http://a:pw@v1.example.com/$mac.cfg"))
    assert hook_entry.load(str(good)) == (
        "loaded",
        "0 devices, 0 sites, default URL http://a:****@v1.example.com/$mac.cfg",
    )
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == (
        b"http://a:pw@v1.example.com/$mac.cfg"
    )
    assert hook_entry.decide(b"\x00\x15\x65\0\0\1", b"yealink", None, ZERO, ZERO) is None

    # Once a policy is loaded, a broken one (a config-reload) keeps it in force.
    outcome, why = hook_entry.load(str(bad))
    assert outcome == "kept" and "provisioning: required key is missing" in why
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)).startswith(b"http://a:")


def test_load_warns_about_a_world_readable_policy_with_passwords(tmp_path: Path) -> None:
    reports: list[tuple[str, str, str]] = []
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(url="http://a:XYZZY@v1.example.com/"))
    os.chmod(policy, 0o644)
    assert hook_entry.load(str(policy), 0, lambda *r: reports.append(r))[0] == "loaded"
    ((kind, path, text),) = reports
    assert (kind, path) == ("warning", str(policy))
    assert "readable by every user" in text and "XYZZY" not in text


def test_watcher_swaps_in_changes_and_keeps_the_old_policy_on_a_broken_one(
    tmp_path: Path,
) -> None:
    reports: list[tuple[str, str, str]] = []
    policy = tmp_path / "policy.yaml"
    write(policy, POLICY.format(url="http://v1.example.com/"))
    assert hook_entry.load(str(policy), 0.02, lambda *r: reports.append(r))[0] == "loaded"

    write(policy, POLICY.format(url="http://v2.example.com/"))
    wait_for(lambda: len(reports) == 1)
    assert reports[0][0] == "reloaded" and "read in" in reports[0][2]
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://v2.example.com/"

    write(policy, POLICY.format(url="gopher://v3.example.com/"))
    wait_for(lambda: len(reports) == 2)
    assert reports[1][0] == "reload-failed" and "gopher" in reports[1][2]
    time.sleep(0.2)  # ten more checks of the same broken version
    assert len(reports) == 2
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://v2.example.com/"

    policy.unlink()  # gone: a new version, reported once
    wait_for(lambda: len(reports) == 3)
    assert reports[2][0] == "reload-failed" and "No such file" in reports[2][2]

    write(policy, POLICY.format(url="http://v4.example.com/"))
    wait_for(lambda: len(reports) == 4)
    assert reports[3][0] == "reloaded"
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://v4.example.com/"

    hook_entry.stop()
    write(policy, POLICY.format(url="http://v5.example.com/"))
    time.sleep(0.1)
    assert len(reports) == 4  # stopped means stopped
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://v4.example.com/"


def test_the_watcher_thread_is_named_and_niced(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    write(policy, POLICY.format(url="http://v1.example.com/"))
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert hook_entry.load(str(policy), 0.02)[0] == "loaded"
    (watcher,) = [t for t in threading.enumerate() if t.name == "kea-fanvil-policy-watcher"]
    assert watcher.daemon and watcher.native_id is not None
    expected = min(19, main + hook_entry.WATCHER_NICENESS)
    wait_for(lambda: os.getpriority(os.PRIO_PROCESS, watcher.native_id or 0) == expected)
    hook_entry.stop()
    assert not watcher.is_alive()


def test_watcher_follows_the_inventory(tmp_path: Path) -> None:
    reports: list[tuple[str, str, str]] = []
    policy = tmp_path / "policy.yaml"
    inventory = tmp_path / "phones.csv"
    write(inventory, "mac,url\n0c:38:3e:00:00:01,http://d1.example.com/\n")
    write(policy, POLICY.format(url="http://v1.example.com/") + "devices_file: phones.csv\n")
    assert hook_entry.load(str(policy), 0.02, lambda *r: reports.append(r))[0] == "loaded"

    write(inventory, "mac,url\n0c:38:3e:00:00:01,http://d2.example.com/\n")
    wait_for(lambda: len(reports) == 1)
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://d2.example.com/"
    write(inventory, "mac,url\n0c:38:3e:00:00:01,not a url\n")
    wait_for(lambda: len(reports) == 2)
    assert reports[1][0] == "reload-failed" and "phones.csv:2" in reports[1][2]
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://d2.example.com/"


def test_a_kept_policy_is_replaced_once_the_file_is_fixed(tmp_path: Path) -> None:
    reports: list[tuple[str, str, str]] = []
    policy = tmp_path / "policy.yaml"
    write(policy, POLICY.format(url="http://v1.example.com/"))
    assert hook_entry.load(str(policy))[0] == "loaded"
    write(policy, "version: 1\n")
    assert hook_entry.load(str(policy), 0.02, lambda *r: reports.append(r))[0] == "kept"
    time.sleep(0.1)
    assert reports == []  # the broken version was reported by load(), not again
    write(policy, POLICY.format(url="http://v2.example.com/"))
    wait_for(lambda: len(reports) == 1)
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://v2.example.com/"


def test_a_change_during_a_reload_is_loaded_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports: list[tuple[str, str, str]] = []
    policy = tmp_path / "policy.yaml"
    write(policy, POLICY.format(url="http://v1.example.com/"))
    assert hook_entry.load(str(policy), 0.02, lambda *r: reports.append(r))[0] == "loaded"

    build = hook_entry._build
    changes = [POLICY.format(url="http://v3.example.com/")]

    def build_while_the_file_changes(path: str) -> Engine:
        engine = build(path)  # reads v2
        if changes:
            write(policy, changes.pop())  # v3 lands before v2 is installed
        return engine

    monkeypatch.setattr(hook_entry, "_build", build_while_the_file_changes)
    write(policy, POLICY.format(url="http://v2.example.com/"))
    wait_for(lambda: len(reports) == 2)
    assert [kind for kind, _, _ in reports] == ["reloaded", "reloaded"]
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://v3.example.com/"


# --- the C++ packet path: tables handed over, refused tables ------------------------------------


class Tables:
    """A hook's publish(): the tables handed over, and their generations."""

    def __init__(self) -> None:
        self.tables: list[bytes] = []
        self.generations: list[int] = []

    def __call__(self, table: bytes, generation: int) -> None:
        self.tables.append(table)
        self.generations.append(generation)


def test_every_installed_policy_is_published_first(tmp_path: Path) -> None:
    published = Tables()
    tables = published.tables
    reports: list[tuple[str, str, str]] = []
    policy = tmp_path / "policy.yaml"
    write(policy, POLICY.format(url="http://v1.example.com/"))
    outcome = hook_entry.load(str(policy), 0.02, lambda *r: reports.append(r), "", published)
    assert outcome[0] == "loaded"
    assert len(tables) == 1 and tables[0].startswith(b"KFT2") and b"v1.example.com" in tables[0]
    write(policy, POLICY.format(url="http://v2.example.com/"))
    wait_for(lambda: len(reports) == 1)
    assert reports[0][0] == "reloaded"
    assert len(tables) == 2 and b"v2.example.com" in tables[1]
    assert tables[1] == Engine(load_policy(str(policy))).table()
    # Each table has its own number, and the inventory can read records of both.
    first, second = published.generations
    assert first != second
    assert hook_entry._names[second].urls == ("http://v2.example.com/",)
    assert hook_entry._names[first].urls == ("http://v1.example.com/",)


def test_the_table_path_keeps_no_policy_objects(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    write(policy, POLICY.format(url="http://v1.example.com/"))
    assert hook_entry.load(str(policy), 0, None, "", Tables())[0] == "loaded"
    assert hook_entry._engine is None and hook_entry._current is not None
    assert hook_entry._current.engine is None
    with pytest.raises(RuntimeError, match="decides from its table"):
        hook_entry.decide(PHONE, None, None, ZERO, ZERO)
    # The Python path keeps its engine.
    assert hook_entry.load(str(policy))[0] == "loaded"
    assert url_of(hook_entry.decide(PHONE, None, None, ZERO, ZERO)) == b"http://v1.example.com/"


def test_names_of_old_tables_are_let_go(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    published = Tables()
    for n in range(hook_entry.NAMES_KEPT + 3):
        write(policy, POLICY.format(url=f"http://v{n}.example.com/"))
        assert hook_entry.load(str(policy), 0, None, "", published)[0] == "loaded"
    assert sorted(hook_entry._names) == published.generations[-hook_entry.NAMES_KEPT :]


def test_a_refused_table_fails_the_load_or_the_reload(tmp_path: Path) -> None:
    def refuse(table: bytes, generation: int) -> None:
        raise ValueError("decision table: offset 4: unknown flags")

    policy = tmp_path / "policy.yaml"
    write(policy, POLICY.format(url="http://v1.example.com/"))
    outcome, why = hook_entry.load(str(policy), 0, None, "", refuse)
    assert outcome == "invalid" and "offset 4: unknown flags" in why

    tables: list[bytes] = []
    reports: list[tuple[str, str, str]] = []
    accept = [True]

    def sometimes(table: bytes, generation: int) -> None:
        if not accept[0]:
            raise ValueError("decision table: refused")
        tables.append(table)

    outcome = hook_entry.load(str(policy), 0.02, lambda *r: reports.append(r), "", sometimes)
    assert outcome[0] == "loaded" and len(tables) == 1
    accept[0] = False
    write(policy, POLICY.format(url="http://v2.example.com/"))
    wait_for(lambda: any(r[0] == "reload-failed" for r in reports))
    assert "decision table: refused" in next(r for r in reports if r[0] == "reload-failed")[2]
    assert len(tables) == 1  # the hook keeps deciding from the first table
    current = hook_entry._current
    assert current is not None and current.table == tables[0]


def test_a_kept_policy_is_published_to_the_new_library(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    write(policy, POLICY.format(url="http://v1.example.com/"))
    assert hook_entry.load(str(policy))[0] == "loaded"
    write(policy, POLICY.format(url="gopher://broken/"))
    published = Tables()
    tables = published.tables
    # Kea's config-reload loads a new copy of the library: it has no table until one is given.
    assert hook_entry.load(str(policy), 0, None, "", published)[0] == "kept"
    assert len(tables) == 1 and b"v1.example.com" in tables[0]
    # And again, now that the policy in force is a table only.
    assert hook_entry.load(str(policy), 0, None, "", published)[0] == "kept"
    assert tables[1] == tables[0]
    # The Python path cannot answer from a table: said, not guessed.
    outcome, why = hook_entry.load(str(policy))
    assert outcome == "invalid" and "gopher" in why and "compiled for the table path" in why
