"""Phones learnt from the access log of the guarded site (``kea-fanvil files learn``).

The site :mod:`kea_fanvil.files.serve_config` renders logs one JSON object per request
(``log_format ... escape=json``). A Fanvil phone's User-Agent names its model, firmware and MAC
(FIELD-NOTES "Option 60"; the samples are wazo-provd's, ``plugins/wazo_fanvil``), and the file
it asks for names its MAC again or is its model's Common file. A request counts as a sighting
when it succeeded (200, or 304 for a file the phone already had) and the two agree: the
MAC-oriented file of the User-Agent's MAC, or a Common file (the policy's, or the one the
model's name gives). Everything else is counted, never recorded: lines that are not JSON
objects of the format, other clients, failed requests, and a User-Agent claiming a MAC other
than the file's (someone fetching another phone's file with a forged header).

Pure parsing: lines in, :class:`Sighting` objects out. Which lines were already learnt is
:class:`Watermark`'s business; the inventory is written by the command
(:mod:`kea_fanvil.cli.files`), which keeps the watermark beside the rows.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kea_fanvil.errors import FilesError
from kea_fanvil.fanvil.naming import common_file

__all__ = [
    "MAX_LINE",
    "SEEN_STATUSES",
    "Agent",
    "LearnReport",
    "Sighting",
    "Watermark",
    "learn",
    "parse_agent",
    "parse_line",
    "read_lines",
]

MAX_LINE = 16 * 1024  # bytes; nginx logs a User-Agent whole, but no phone sends one this long
SEEN_STATUSES = frozenset({200, 304})
_WATERMARK_LINES = 10_000  # hashes of the newest instant's lines kept, at most

# Fanvil X4 2.10.2.6887 0c383e07e16c
# Fanvil X6U Pro 0.0.10 0c383e2cd782
# Fanvil i10SV 2.12.10.1 0c383e2397f4
# Fanvil H2U-V2 2.12.0 0c383e32342e
# Fanvil C62 0c383e007001          (kea-fanvil probe --fetch, when it knows no firmware)
_AGENT = re.compile(
    r"Fanvil (?P<model>[A-Za-z0-9][A-Za-z0-9+_-]{0,31}(?: [A-Za-z][A-Za-z0-9+_-]{0,15})?) "
    r"(?:(?P<firmware>[0-9]{1,5}(?:\.[0-9]{1,6}){1,5}) )?(?P<mac>[0-9A-Fa-f]{12})"
)
# 0c383e07e16c.cfg: the MAC-oriented file (spec 3.2), as the phone expands $mac (lower case).
_MAC_FILE = re.compile(r"(?P<mac>[0-9a-f]{12})\.cfg")


@dataclass(frozen=True)
class Sighting:
    time: float  # Unix time, the request's
    mac: str  # 0c:38:3e:07:e1:6c
    model: str
    firmware: str  # "" when the User-Agent names none
    address: str
    name: str  # the file asked for


@dataclass(frozen=True)
class Agent:
    model: str
    firmware: str
    mac: str


def parse_agent(text: str) -> Agent | None:
    """A Fanvil phone's User-Agent, or None."""
    found = _AGENT.fullmatch(text)
    if found is None:
        return None
    mac = found["mac"].lower()
    return Agent(found["model"], found["firmware"] or "", ":".join(re.findall("..", mac)))


@dataclass(frozen=True)
class _Line:
    time: float
    remote: str
    status: int
    uri: str
    agent: str


def parse_line(line: bytes) -> _Line | None:
    """One line of the ``kea_fanvil`` log format, or None when it is not one."""
    if len(line) > MAX_LINE:
        return None
    try:
        raw: Any = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict):
        return None
    when, remote, status = raw.get("time"), raw.get("remote"), raw.get("status")
    uri, agent = raw.get("uri"), raw.get("agent")
    if isinstance(when, bool) or not isinstance(when, int | float) or not 0 < when < 2**33:
        return None
    if isinstance(status, bool) or not isinstance(status, int):
        return None
    if not (isinstance(remote, str) and isinstance(uri, str) and isinstance(agent, str)):
        return None
    try:
        address = str(ipaddress.ip_address(remote))
    except ValueError:
        return None
    return _Line(float(when), address, status, uri, agent)


@dataclass
class Watermark:
    """What was learnt already: the newest request's time, and the lines logged at that very
    time (nginx logs to the millisecond: two requests may share one). Lines older than it, or
    at it and already seen, are skipped, so reading a log again, or the rotated log then the
    new one, counts each request once. (A line logged out of order, older than one already
    learnt, is skipped too: nginx's workers write in about the order they finish.)"""

    time: float = 0.0
    lines: set[str] = field(default_factory=set)

    @staticmethod
    def load(text: str | None) -> Watermark:
        if not text:
            return Watermark()
        try:
            raw = json.loads(text)
            return Watermark(float(raw["time"]), {str(h) for h in raw["lines"]})
        except (ValueError, KeyError, TypeError) as exc:
            raise FilesError(
                f"the inventory's record of the log read so far is damaged: {exc}"
            ) from None

    def dump(self) -> str:
        return json.dumps({"time": self.time, "lines": sorted(self.lines)})

    def new(self, when: float, line: bytes) -> bool:
        """True for a line not learnt yet (and remembers it)."""
        if when < self.time:
            return False
        digest = hashlib.sha256(line.strip()).hexdigest()[:32]
        if when == self.time:
            if digest in self.lines:
                return False
        else:
            self.time, self.lines = when, set()
        if len(self.lines) < _WATERMARK_LINES:
            self.lines.add(digest)
        return True


@dataclass
class LearnReport:
    sightings: list[Sighting] = field(default_factory=list)
    lines: int = 0
    unreadable: int = 0  # not a line of the format
    already: int = 0  # learnt by an earlier run
    other: int = 0  # not a Fanvil phone, not a success, or not a file that names the phone
    mismatched: int = 0  # a MAC-oriented file asked for with another MAC in the User-Agent


def _name(uri: str, prefix: str) -> str | None:
    if not uri.startswith(prefix):
        return None
    name = uri[len(prefix) :]
    return name if name and "/" not in name else None


def learn(
    lines: Iterable[bytes],
    watermark: Watermark | None = None,
    common_names: Collection[str] = (),
    prefix: str = "/",
) -> LearnReport:
    """The sightings in ``lines``. ``common_names``: the policy's Common files (a model's
    own name from the Common file table is taken too); ``prefix``: the site's ``--prefix``."""
    report = LearnReport()
    mark = watermark if watermark is not None else Watermark()
    for raw in lines:
        if not raw.strip():
            continue
        report.lines += 1
        line = parse_line(raw)
        if line is None:
            report.unreadable += 1
            continue
        if not mark.new(line.time, raw):
            report.already += 1
            continue
        agent = parse_agent(line.agent)
        name = _name(line.uri, prefix)
        if agent is None or name is None or line.status not in SEEN_STATUSES:
            report.other += 1
            continue
        by_name = _MAC_FILE.fullmatch(name)
        if by_name is not None:
            if by_name["mac"] != agent.mac.replace(":", ""):
                report.mismatched += 1
                continue
        elif name not in common_names and name != common_file(agent.model).name:
            report.other += 1
            continue
        report.sightings.append(
            Sighting(line.time, agent.mac, agent.model, agent.firmware, line.remote, name)
        )
    return report


def read_lines(path: str | Path) -> Iterator[bytes]:
    """The lines of the log at ``path``, a regular file (a FIFO or a device is refused), read
    as it grows no further than its end when opened; a line longer than :data:`MAX_LINE` comes
    out cut (and then fails to parse)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise FilesError(f"cannot read {path}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise FilesError(f"{path} is not a regular file; give the access log's path")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as log:
        left = info.st_size
        while left > 0:
            line = log.readline(min(MAX_LINE + 1, left))
            if not line:
                return
            left -= len(line)
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                while left > 0:  # the rest of an overlong line, skipped a piece at a time
                    rest = log.readline(min(1 << 16, left))
                    left -= len(rest)
                    if not rest or rest.endswith(b"\n"):
                        break
            yield line
