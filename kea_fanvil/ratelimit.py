"""Two small rate limits: one for what a source address may make a server do, one for how often
the same kind of problem reaches the log. Pure: the caller passes the time in."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

__all__ = ["MAX_SOURCES", "LogSink", "RateLimiter", "ThrottledLog"]

# Spoofed source addresses must not grow the table of buckets without end.
MAX_SOURCES = 65_536

LogSink = Callable[[int, str], None]  # (logging level, text)


class RateLimiter:
    """A token bucket per source address: ``burst`` at once, then ``rate`` per second."""

    def __init__(self, rate: float, burst: int, max_sources: int = MAX_SOURCES) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_sources = max_sources
        self._buckets: dict[str, tuple[float, float]] = {}  # source: (tokens, when)

    def allow(self, source: str, now: float) -> bool:
        tokens, when = self._buckets.pop(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if len(self._buckets) >= self.max_sources:
            # Spoofed sources could fill the table; the least recently seen goes first (the
            # dict keeps insertion order, and a source is re-inserted on every datagram).
            del self._buckets[next(iter(self._buckets))]
        self._buckets[source] = (tokens, now)
        return allowed


class ThrottledLog:
    """At most one line per kind per interval; what was held back is counted and reported.

    ``count_held=False``: what is held back is dropped without a word (for a caller whose
    lines must read the same each time, with counters of their own elsewhere).
    """

    def __init__(self, sink: LogSink, interval: float, count_held: bool = True) -> None:
        self.sink = sink
        self.interval = interval
        self.count_held = count_held
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()

    def report(self, kind: str, level: int, text: str, now: float) -> None:
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            if self.count_held:
                self._held[kind] += 1
            return
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        self.sink(level, text + (f" (and {held} more like it before)" if held else ""))

    def flush(self, now: float) -> None:
        """Report held-back counts whose interval is over, so none goes unmentioned."""
        for kind in [k for k, last in self._last.items() if now - last >= self.interval]:
            held = self._held.pop(kind, 0)
            del self._last[kind]
            if held:
                self.sink(
                    logging.WARNING,
                    f"{held} more {kind} in the last {self.interval:g} s (one line per kind "
                    "per interval; the stats line has the totals)",
                )
