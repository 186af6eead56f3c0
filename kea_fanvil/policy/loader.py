"""Read a policy file (YAML, plus an optional CSV inventory) into a validated :class:`Policy`.

Every problem is reported as ``file:line:column: field: message``. Line numbers are worked out
only when something is wrong: the YAML is parsed once with libyaml for speed, and composed a
second time into marked nodes only to locate errors.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from kea_fanvil import safe_files
from kea_fanvil.errors import PolicyError
from kea_fanvil.fanvil.identify import normalize_mac
from kea_fanvil.policy.models import (
    Device,
    Location,
    Policy,
    cross_check,
    invisible_character,
    shared_checks,
    url_limit,
    uses_files,
)
from kea_fanvil.policy.plan import files_problems
from kea_fanvil.policy.problems import PolicyProblem
from kea_fanvil.yaml_types import YamlBoolWord, YamlInt

__all__ = [
    "CSV_COLUMNS",
    "load_policy",
    "locator",
    "parse_policy",
    "source_files",
]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DEVICES = TypeAdapter(list[Device])
CSV_COLUMNS = ("mac", "url", "boot_file", "name", "model")


class _StrictLoader(_Loader):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate keys: PyYAML would silently keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                break  # `? [a, b]`: the base class reports the unhashable key
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping
)

_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)")


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = int(yaml.SafeLoader.construct_yaml_int(loader, node))
    if _PLAIN_DECIMAL.fullmatch(node.value):
        return value
    return YamlInt(value, node.value)  # 0042, 0x1F, 4:30, 1_000, +5


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool | str:
    if node.value.lower() in ("true", "false"):
        return bool(node.value.lower() == "true")  # node.value is untyped in the stubs
    return YamlBoolWord(node.value)  # yes, no, on, off


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


# pydantic's last step when a mapping's key (not its value) is wrong: `extra.sip.[key]`.
_KEY_STEP = "[key]"


def _field_name(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if part == _KEY_STEP:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _node_at(root: yaml.Node | None, loc: Sequence[str | int]) -> yaml.Node | None:
    """The deepest YAML node along ``loc`` (a key node when the last step is a key)."""
    node = root
    for step, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    if step + 1 < len(loc) and loc[step + 1] == _KEY_STEP:
                        return key  # type: ignore[no-any-return]
                    node = value
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


class _Locator:
    """Maps a field location to a line: YAML nodes for the policy, row lines for the CSV."""

    def __init__(self, text: str, inline_devices: int, csv_name: str, csv_lines: list[int]):
        self._text = text
        self._root: yaml.Node | None = None
        self._composed = False
        self.inline_devices = inline_devices
        self.csv_name = csv_name
        self.csv_lines = csv_lines
        self.csv_rows: list[dict[str, str]] = []

    def problem(self, source: str, loc: Location, message: str) -> PolicyProblem:
        if len(loc) >= 2 and loc[0] == "devices" and isinstance(loc[1], int):
            row = loc[1] - self.inline_devices
            if row >= 0:
                field = f"row {row + 1} " + _field_name(loc[2:])
                return PolicyProblem(message, field, self.csv_lines[row], file=self.csv_name)
        if not self._composed:
            self._composed = True
            try:
                self._root = yaml.compose(self._text, Loader=_Loader)
            except yaml.YAMLError:
                self._root = None
        node = _node_at(self._root, loc)
        line = node.start_mark.line + 1 if node is not None else None
        col = node.start_mark.column + 1 if node is not None else None
        return PolicyProblem(message, _field_name(loc), line, col)


def _pydantic_message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; `kea-fanvil schema` lists every key)"
    if kind == "missing":
        return "required key is missing"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def _read_csv(path: Path) -> tuple[list[dict[str, str]], list[int]]:
    """Rows of a device inventory with the line each ends on (blank and # rows skipped)."""
    reader = csv.reader(io.StringIO(safe_files.read_text(path, encoding="utf-8-sig")))
    header = [h.strip() for h in next(reader, [])]
    if "mac" not in header:
        raise ValueError(
            f"the first row must name the columns; `mac` is required, and "
            f"{', '.join(CSV_COLUMNS[1:])} are optional"
        )
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(unknown)}; use {', '.join(CSV_COLUMNS)}")
    mac_column = header.index("mac")
    rows: list[dict[str, str]] = []
    where: list[int] = []
    for row in reader:
        cells = [cell.strip() for cell in row]
        if not any(cells) or (len(cells) > mac_column and cells[mac_column].startswith("#")):
            continue
        if len(cells) > len(header):
            raise ValueError(
                f"line {reader.line_num} has {len(cells)} values for {len(header)} columns"
            )
        rows.append({header[i]: cell for i, cell in enumerate(cells) if cell})
        where.append(reader.line_num)
    return rows, where


def _yaml_problem(text: str, exc: yaml.YAMLError | UnicodeEncodeError) -> PolicyProblem:
    """Where and why the YAML cannot be read.

    A reader error (a control character) has an offset instead of a mark: in the UTF-8 bytes
    for libyaml, in the text for PyYAML. A lone surrogate cannot even be encoded for libyaml.
    """
    if isinstance(exc, UnicodeEncodeError):
        offset, reason = exc.start, f"character {text[exc.start]!r} is not valid Unicode text"
    elif isinstance(exc, yaml.reader.ReaderError):
        offset, reason = exc.position, str(exc).split("\n", 1)[0]
        if _Loader is not yaml.SafeLoader:
            offset = len(text.encode()[:offset].decode("utf-8", "ignore"))
    else:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        return PolicyProblem(f"YAML: {reason}", "", line, column)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return PolicyProblem(f"YAML: {reason}", "", line, column)


def parse_policy(
    text: str, source: str = "<policy>", base_dir: Path | None = None, check_files: bool = False
) -> Policy:
    """Validate policy text; raise :class:`PolicyError` listing every problem found.

    ``check_files``: also check what building the provisioning files needs (file names from
    boot files, ...) when the policy has no file settings, for which this is skipped otherwise.
    """
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except (yaml.YAMLError, UnicodeEncodeError) as exc:
        raise PolicyError(source, [_yaml_problem(text, exc)]) from None
    if not isinstance(data, dict):
        raise PolicyError(
            source,
            [PolicyProblem("the policy must be a YAML mapping (start with `version: 1`)", "", 1)],
        )
    inline = data.get("devices")
    locator = _Locator(text, len(inline) if isinstance(inline, list) else 0, "", [])
    found: list[tuple[Location, str]] = []
    policy: Policy | None = None
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        found += [(tuple(e["loc"]), _pydantic_message(e)) for e in exc.errors()]
    # The inventory is read even when the YAML has problems: every problem in one run.
    devices_file = policy.devices_file if policy else data.get("devices_file")
    extra: list[Device] = []
    if isinstance(devices_file, str) and invisible_character(devices_file) is None:
        extra, csv_problems = _inventory(devices_file, base_dir or Path("."), locator)
        found += csv_problems
    if policy is not None and not found:
        inline_count = len(policy.devices)
        if extra:
            policy = policy.model_copy(update={"devices": [*policy.devices, *extra]})
        policy._inline_devices = inline_count
        found = cross_check(policy)
        if check_files or uses_files(policy):  # only policies that describe files need it
            found += files_problems(policy)
    else:
        # Only where nothing is wrong already: an over-long URL is one problem, not two.
        blamed = {loc for loc, _ in found}
        found += [p for p in _partial_cross_check(data, locator.csv_rows) if p[0] not in blamed]
    if found:
        raise PolicyError(source, [locator.problem(source, loc, msg) for loc, msg in found])
    assert policy is not None
    return policy


def _partial_cross_check(
    data: dict[Any, Any], csv_rows: list[dict[str, str]]
) -> list[tuple[Location, str]]:
    """The checks across entries over the entries that are valid on their own, for a policy
    with other problems: a bad MAC must not hide a duplicate one, nor a bad URL a long one."""

    def entries(key: str) -> list[tuple[int, Any]]:
        value = data.get(key)
        return list(enumerate(value)) if isinstance(value, list) else []

    def text(entry: dict[Any, Any], key: str) -> str | None:
        value = entry.get(key)
        return value if isinstance(value, str) else None

    sites = [(i, s) for i, s in entries("sites") if isinstance(s, dict)]
    devices = [(i, d) for i, d in entries("devices") if isinstance(d, dict)]
    offset = len(entries("devices"))
    devices += [(offset + i, row) for i, row in enumerate(csv_rows)]
    macs: list[tuple[Location, str]] = []
    for i, device in devices:
        with contextlib.suppress(ValueError):
            macs.append((("devices", i, "mac"), normalize_mac(str(device.get("mac")))))
    urls: list[tuple[Location, str]] = []
    provisioning = data.get("provisioning")
    if isinstance(provisioning, dict) and (url := text(provisioning, "url")):
        urls.append((("provisioning", "url"), url))
    for kind, group in (("sites", sites), ("devices", devices)):
        urls += [((kind, i, "url"), u) for i, e in group if (u := text(e, "url"))]
    names: list[tuple[Location, str]] = [
        (("sites", i, "name"), n) for i, s in sites if (n := text(s, "name")) is not None
    ]
    delivery = data.get("delivery")
    option_43 = delivery.get("option_43") if isinstance(delivery, dict) else None
    return shared_checks(url_limit(option_43), urls, names, macs, option_43)


def _inventory(
    devices_file: str, base_dir: Path, locator: _Locator
) -> tuple[list[Device], list[tuple[Location, str]]]:
    """The CSV inventory's devices, or the problems of its rows (every row is checked)."""
    path = base_dir / devices_file
    locator.csv_name = str(path)
    try:
        rows, locator.csv_lines = _read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [], [(("devices_file",), f"cannot read {path}: {reason}")]
    locator.csv_rows = rows
    try:
        return _DEVICES.validate_python(rows), []
    except ValidationError as exc:
        return [], [
            (
                ("devices", locator.inline_devices + int(e["loc"][0]), *e["loc"][1:]),
                _pydantic_message(e),
            )
            for e in exc.errors()
        ]


def locator(path: str | Path) -> Callable[[Location], str]:
    """A function giving ``file:line:column: field`` for a location in the policy file at
    ``path``, for notes about a policy that loaded. The file is read, and its YAML composed,
    once, on the first call: make one per command, and only when there is something to say."""
    state: dict[str, _Locator | None] = {}

    def locate(loc: Location) -> str:
        if "it" not in state:
            try:
                state["it"] = _Locator(safe_files.read_text(path), 0, "", [])
            except (OSError, UnicodeDecodeError):
                state["it"] = None
        found = state["it"]
        if found is None:
            return f"{path}: {_field_name(loc)}"
        return found.problem(str(path), loc, "").render(str(path)).removesuffix(": ")

    return locate


def source_files(path: str | Path, policy: Policy) -> list[Path]:
    """The files ``policy`` was read from: the policy file, then its inventory if it has one."""
    path = Path(path)
    files = [path]
    if policy.devices_file:
        files.append(path.parent / policy.devices_file)
    return files


def load_policy(path: str | Path, check_files: bool = False) -> Policy:
    """Read and validate the policy file at ``path`` (``check_files``: see :func:`parse_policy`)."""
    path = Path(path)
    try:
        text = safe_files.read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyError(str(path), [PolicyProblem(f"cannot read the policy: {reason}")]) from None
    return parse_policy(text, str(path), path.parent, check_files)
