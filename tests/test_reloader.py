"""kea_fanvil.reloader: the reload loop shared by the hook's watcher and the PnP service, and
the lowering of a background thread's priority.

check() is called by hand where it can be, so most of this runs without a thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from kea_fanvil.reloader import Reloader, lower_thread_priority, signature


def write(path: Path, text: str) -> None:
    new = path.with_name(path.name + ".new")
    new.write_text(text)
    os.replace(new, path)  # a new inode: nothing depends on mtime granularity


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Recorder:
    """A Reloader whose value is the text of the file it watches, "broken" refused."""

    def __init__(self, path: Path, **kwargs: object) -> None:
        self.path = path
        self.builds = 0
        self.loaded: list[str] = []
        self.failed: list[str] = []
        self.reloader: Reloader[str] = Reloader(
            "test-reloader",
            self.build,
            lambda value, started: self.loaded.append(value),
            lambda exc: self.failed.append(str(exc)),
            current=path.read_text() if path.exists() else None,
            sources=self.sources,
            **kwargs,  # type: ignore[arg-type]
        )

    def sources(self, current: str | None) -> Sequence[Path]:
        return [self.path]

    def build(self) -> str:
        self.builds += 1
        text = self.path.read_text()
        if text == "broken":
            raise ValueError(f"{self.path}:1:1: broken")
        return text


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    write(path, "v1")
    return path


def test_unchanged_files_are_not_rebuilt(policy: Path) -> None:
    r = Recorder(policy)
    assert r.reloader.check() is False
    assert r.reloader.check() is False
    assert (r.builds, r.loaded, r.failed) == (0, [], [])


def test_a_change_is_built_once(policy: Path) -> None:
    r = Recorder(policy)
    write(policy, "v2")
    assert r.reloader.check() is True
    assert r.reloader.check() is False  # the version built is not built again
    assert (r.builds, r.loaded, r.failed) == (1, ["v2"], [])
    assert r.reloader.current == "v2"


def test_a_broken_build_keeps_the_old_value_and_says_why_once(policy: Path) -> None:
    r = Recorder(policy)
    write(policy, "broken")
    assert r.reloader.check() is True
    assert r.reloader.check() is False  # the same broken version: not tried, not reported
    assert r.reloader.current == "v1"
    assert (r.builds, r.loaded, r.failed) == (1, [], [f"{policy}:1:1: broken"])

    policy.unlink()  # gone: a version of its own
    assert r.reloader.check() is True
    assert "No such file" in r.failed[1] and r.reloader.current == "v1"

    write(policy, "v3")
    assert r.reloader.check() is True
    assert (r.loaded, r.reloader.current) == (["v3"], "v3")


def test_a_change_during_a_build_is_built_next(policy: Path) -> None:
    r = Recorder(policy)
    build = r.build

    def build_while_the_file_changes() -> str:
        value = build()  # reads v2
        if value == "v2":
            write(policy, "v3")  # lands before v2 is handed over
        return value

    r.reloader._build = build_while_the_file_changes
    write(policy, "v2")
    assert r.reloader.check() is True
    assert r.reloader.check() is True
    assert r.loaded == ["v2", "v3"]


def test_the_started_time_is_when_the_build_began(policy: Path) -> None:
    times: list[float] = []
    before = time.monotonic()
    reloader: Reloader[str] = Reloader(
        "test-reloader",
        policy.read_text,
        lambda value, started: times.append(started),
        lambda exc: None,
        sources=lambda current: [policy],
    )
    write(policy, "v2")
    reloader.check()
    (started,) = times
    assert before <= started <= time.monotonic()


def test_the_signature_tells_versions_and_missing_files_apart(tmp_path: Path) -> None:
    path = tmp_path / "f"
    missing = signature([path])
    write(path, "a")
    first = signature([path])
    write(path, "a")  # same text, a new inode
    assert len({missing, first, signature([path])}) == 3
    assert signature([path]) == signature([path])
    assert signature([]) == ()


@pytest.fixture
def started() -> Iterator[list[Reloader[str]]]:
    running: list[Reloader[str]] = []
    yield running
    for reloader in running:
        reloader.stop()


def test_the_thread_polls_and_stopped_means_stopped(
    policy: Path, started: list[Reloader[str]]
) -> None:
    r = Recorder(policy, interval=0.02)
    started.append(r.reloader)
    r.reloader.start()
    write(policy, "v2")
    wait_for(lambda: r.loaded == ["v2"])
    write(policy, "broken")
    wait_for(lambda: len(r.failed) == 1)
    time.sleep(0.1)  # five more checks of the same broken version
    assert (r.builds, len(r.failed)) == (2, 1)
    r.reloader.stop()
    write(policy, "v3")
    time.sleep(0.1)
    assert r.loaded == ["v2"]


def test_the_thread_outlives_a_surprise(policy: Path, started: list[Reloader[str]]) -> None:
    r = Recorder(policy, interval=0.02)
    started.append(r.reloader)
    surprises = [OSError("sources unreadable")]

    def sources(current: str | None) -> Sequence[Path]:
        if surprises:
            raise surprises.pop()
        return [policy]

    r.reloader._sources = sources
    r.reloader.start()
    wait_for(lambda: r.failed == ["sources unreadable"])
    write(policy, "v2")
    wait_for(lambda: r.loaded == ["v2"])


def test_requests_build_whatever_the_files_say_and_coalesce(
    policy: Path, started: list[Reloader[str]]
) -> None:
    r = Recorder(policy)  # no interval: only requests
    started.append(r.reloader)
    building = threading.Event()
    release = threading.Event()
    build = r.build

    def slow_build() -> str:
        building.set()
        release.wait(5)
        return build()

    r.reloader._build = slow_build
    r.reloader.request()
    assert building.wait(5)
    for _ in range(3):  # during the build: one more build after it, not three
        r.reloader.request()
    release.set()
    wait_for(lambda: len(r.loaded) == 2)
    time.sleep(0.1)
    assert r.builds == 2 and r.loaded == ["v1", "v1"]
    assert [t.name for t in threading.enumerate()].count("test-reloader") == 1


def test_the_thread_has_its_name_and_its_niceness(
    policy: Path, started: list[Reloader[str]]
) -> None:
    seen: list[tuple[str, int]] = []

    def build() -> str:
        tid = threading.get_native_id()
        seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)))
        return "built"

    reloader: Reloader[str] = Reloader(
        "test-reloader", build, lambda value, started: None, lambda exc: None, niceness=3
    )
    started.append(reloader)
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    reloader.request()
    wait_for(lambda: len(seen) == 1)
    assert seen == [("test-reloader", min(19, before + 3))]


def _nice_in_a_thread(niceness: int) -> tuple[int, int]:
    """(nice before, nice after) lower_thread_priority(niceness) in a thread of its own."""
    result: list[tuple[int, int]] = []

    def run() -> None:
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        lower_thread_priority(niceness)
        result.append((before, os.getpriority(os.PRIO_PROCESS, tid)))

    thread = threading.Thread(target=run)  # not this one: later threads would inherit it
    thread.start()
    thread.join()
    return result[0]


def test_lower_thread_priority_lowers_the_calling_thread_only() -> None:
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before, after = _nice_in_a_thread(5)
    assert after == min(19, before + 5)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main
    before, after = _nice_in_a_thread(100)
    assert after == 19  # the least favourable nice value, not an error


def test_lower_thread_priority_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", refused)
    lower_thread_priority(10)
    monkeypatch.delattr(os, "getpriority")  # a platform without it
    lower_thread_priority(10)
