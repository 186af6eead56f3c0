"""Rebuilding something from files in a background thread, and keeping such threads in the back.

:class:`Reloader` is the one reload loop of the Kea hook's policy watcher and the PnP
service's SIGHUP reload. What to build, and what to do with the result, are its callers':
it builds a new value in its own thread, when asked (:meth:`Reloader.request`) or, with an
interval, when the files it watches changed, and hands the value or the exception over. A
failed build leaves the previous value in force, and the same broken files are not tried
(nor reported) again until they change once more.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["Gate", "Reloader", "Signature", "lower_thread_priority", "signature"]

T = TypeVar("T")

# (path, mark) per file, in order; see signature().
Signature = tuple[tuple[str, tuple[int, ...]], ...]


def signature(paths: Sequence[Path]) -> Signature:
    """What identifies the files' current versions; a missing file has its own value."""
    marks: list[tuple[str, tuple[int, ...]]] = []
    for path in paths:
        try:
            st = os.stat(path)
            marks.append((str(path), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)))
        except OSError as exc:
            marks.append((str(path), (-1, exc.errno or 0)))
    return tuple(marks)


def lower_thread_priority(niceness: int) -> None:
    """Add ``niceness`` to the calling thread's nice value (at most 19); never raises.

    On Linux the nice value is per thread, so the rest of the process keeps its priority.
    Lowering it is a courtesy to the busy threads, not something worth failing over.
    """
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no getpriority here
        tid = threading.get_native_id()
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, nice + niceness))


class Gate:
    """One unit of background work at a time, and a way to hold it all off for a while.

    Kea pauses its own threads around a reconfiguration (a critical section: config-set,
    config-reload); the hook's threads follow through :meth:`pause` and :meth:`resume`.
    :meth:`pause` waits for the work in progress to finish and keeps new work from starting;
    :meth:`open` lets everything through for good (a thread being stopped must not wait for a
    resume that will not come)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._paused = False
        self._open = False

    @contextlib.contextmanager
    def work(self) -> Iterator[None]:
        """Around each unit of work: waits while paused or while other work runs."""
        with self._cond:
            while (self._paused or self._busy) and not self._open:
                self._cond.wait()
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            while self._busy and not self._open:
                self._cond.wait()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def open(self) -> None:
        with self._cond:
            self._open = True
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused


def _nothing(current: object) -> Sequence[Path]:
    return ()


class Reloader(Generic[T]):
    """Builds a new value in a daemon thread named ``name``; see the module docstring.

    - ``build()`` makes the new value; an exception from it is a failed build.
    - ``loaded(value, started)`` is called with each value built; ``started`` is the
      :func:`time.monotonic` at which its build began, for callers that report how long
      putting it in force took.
    - ``failed(exc)`` is called with what a build raised, and with any other exception met in
      the thread, which outlives them all.
    - ``sources(current)`` names the files the value ``current`` was built from (``current``
      is the value last built, or the one given, or None); their :func:`signature` decides
      whether a check rebuilds.
    - ``interval`` > 0: :meth:`start` checks the sources every ``interval`` seconds.
    - ``niceness``: added to the thread's nice value (:func:`lower_thread_priority`).

    The callbacks run in the thread (or in whoever calls :meth:`check`), one at a time.
    """

    def __init__(
        self,
        name: str,
        build: Callable[[], T],
        loaded: Callable[[T, float], None],
        failed: Callable[[Exception], None],
        *,
        current: T | None = None,
        sources: Callable[[T | None], Sequence[Path]] = _nothing,
        interval: float = 0.0,
        niceness: int | None = None,
    ) -> None:
        self.name = name
        self.interval = interval
        self.niceness = niceness
        self.current = current
        self._build = build
        self._loaded = loaded
        self._failed = failed
        self._sources = sources
        # Marked now, not when the thread starts: a change in between is a change.
        self.seen = self.signature()  # the version last tried, built or not
        self._wake = threading.Event()  # a request, or stop()
        self._stopping = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.gate = Gate()  # builds one at a time, held off while paused

    def signature(self) -> Signature:
        """The sources of the current value as they are now."""
        return signature(self._sources(self.current))

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def request(self) -> None:
        """Build once more, soon, whatever the sources say. Requests that arrive during a
        build make one build after it, so the last request is always served by a build that
        began after it."""
        self._wake.set()
        self.start()

    def stop(self, wait: bool = True) -> None:
        """End the thread; ``wait``: until a build in progress has been handed over."""
        self._stopping = True
        self.gate.open()
        self._wake.set()
        thread = self._thread
        if wait and thread is not None:
            thread.join()

    def build_now(self) -> Exception | None:
        """Build in the calling thread, now, whatever the sources say (after a build in
        progress); hands the value over as a check would. Returns what the build raised."""
        return self._attempt(self.signature())

    def pause(self) -> None:
        """Wait for a build in progress to be handed over, and start none until resume()."""
        self.gate.pause()

    def resume(self) -> None:
        self.gate.resume()

    def check(self) -> bool:
        """Build if the sources changed since the last build tried; whether it did."""
        now = self.signature()
        if now == self.seen:
            return False
        self._attempt(now, forced=False)
        return True

    def _run(self) -> None:
        if self.niceness is not None:
            lower_thread_priority(self.niceness)
        timeout = self.interval if self.interval > 0 else None
        while True:
            asked = self._wake.wait(timeout)
            if self._stopping:
                return
            if asked:
                # Cleared before building: a request during the build sets it again.
                self._wake.clear()
            try:
                if asked:
                    self._attempt(self.signature())
                else:
                    self.check()
            except Exception as exc:  # the thread must outlive any surprise
                self._failed(exc)

    def _attempt(self, marks: Signature, forced: bool = True) -> Exception | None:
        with self.gate.work():
            if self._stopping and threading.current_thread() is self._thread:
                return None
            if not forced:
                # Another build (build_now) may have taken this version in while we waited.
                marks = self.signature()
                if marks == self.seen:
                    return None
            return self._attempt_now(marks)

    def _attempt_now(self, marks: Signature) -> Exception | None:
        started = time.monotonic()
        try:
            value = self._build()
        except Exception as exc:
            self.seen = marks  # reported once, not once per check
            self._failed(exc)
            return exc
        self.current = value
        # What was built is the version marked before the build: a file that changed while it
        # ran keeps its earlier mark, so the next check builds again instead of taking the
        # change as built. (A file the new value adds to the sources is marked as it is now.)
        before = dict(marks)
        self.seen = tuple((path, before.get(path, mark)) for path, mark in self.signature())
        self._loaded(value, started)
        return None
