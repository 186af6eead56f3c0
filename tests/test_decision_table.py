"""The C++ decision table (kea_fanvil/kea_hook/src/decision_table.h) against the Python engine.

``Engine(policy).table()`` compiles a policy into the flat table the hook evaluates per packet
without Python; tests/cpp/table_eval runs the C++ reader and evaluator over it. For generated
policies and requests, every answer must equal :meth:`Engine.decide_raw`'s byte for byte: the
options (codes, data, order) and the BOOTP file field. The format and the rules are defined in
decision_table.h's opening comment (format 1).

table_eval's protocol (tests/cpp/table_eval.cc): the table as a hex line, then one request a
line, ``mac vendor_class prl giaddr yiaddr`` in hex, ``=`` for an empty value and ``-`` for an
absent one; one answer a line, ``none`` or ``<options> file:<hex>|file:-`` with ``<options>``
``code:hex,...`` or ``=`` when there are none.
"""

from __future__ import annotations

import ipaddress
import random
import shutil
import string
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kea_fanvil.engine import Engine, RawDecision
from kea_fanvil.fanvil.identify import mac_bytes
from kea_fanvil.policy.loader import parse_policy
from kea_fanvil.policy.models import Policy

CPP = Path(__file__).resolve().parent / "cpp"
TABLE_EVAL = CPP / "build" / "table_eval"

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="session")
def table_eval() -> Path:
    """build/table_eval, built once per session. It needs a C++ compiler only: no Kea, no gtest
    (tests/cpp/Makefile links it without either)."""
    if shutil.which("g++") is None or shutil.which("make") is None:
        pytest.skip("g++ and make are needed to build tests/cpp/build/table_eval")
    done = subprocess.run(
        ["make", "-C", str(CPP), "table_eval"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"make table_eval failed:\n{done.stdout}{done.stderr}"
    return TABLE_EVAL


# --------------------------------------------------------------------------------------------
# Talking to table_eval
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    mac: bytes
    vendor_class: bytes | None
    prl: bytes | None
    giaddr: bytes
    yiaddr: bytes

    def line(self) -> str:
        def field(value: bytes | None) -> str:
            if value is None:
                return "-"
            return value.hex() or "="

        return " ".join(
            (
                self.mac.hex() or "=",
                field(self.vendor_class),
                field(self.prl),
                self.giaddr.hex(),
                self.yiaddr.hex(),
            )
        )


def expected_line(raw: RawDecision | None) -> str:
    """decide_raw's answer in table_eval's spelling."""
    if raw is None:
        return "none"
    chosen, file_field = raw
    options = ",".join(f"{code}:{data.hex()}" for code, data in chosen) or "="
    return f"{options} file:{'-' if file_field is None else file_field.hex()}"


def run_table_eval(binary: Path, table: bytes, lines: list[str]) -> tuple[int, list[str]]:
    done = subprocess.run(
        [str(binary)],
        input="\n".join([table.hex(), *lines]) + "\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.stderr == ""
    return done.returncode, done.stdout.splitlines()


def assert_agree(binary: Path, policy: Policy, requests: list[Req]) -> Counter[str]:
    """Every answer equals decide_raw's; returns how many answers were of each kind."""
    engine = Engine(policy)
    kinds: Counter[str] = Counter()
    status, answers = run_table_eval(binary, engine.table(), [r.line() for r in requests])
    assert status == 0, answers
    assert len(answers) == len(requests), answers[-3:]
    for request, answer in zip(requests, answers, strict=True):
        raw = engine.decide_raw(
            request.mac, request.vendor_class, request.prl, request.giaddr, request.yiaddr
        )
        assert answer == expected_line(raw), (request, policy.model_dump(mode="json"))
        explained = engine.explain(
            request.mac, request.vendor_class, request.giaddr, request.yiaddr
        )
        if raw is None:
            kinds["none"] += 1
        else:
            assert explained is not None
            kinds[f"matched by {explained[0]}"] += 1
            kinds["in a site" if explained[3] is not None else "in no site"] += 1
            kinds["options" if raw[0] else "no option"] += 1
            kinds["file field" if raw[1] is not None else "no file field"] += 1
            phone = {code for code, _ in raw[0]} & {2, 42, 100, 101, 120, 132, 133}
            kinds["phone options" if phone else "no phone option"] += 1
    return kinds


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------

_HOST = st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)
_PATH_CHARS = string.ascii_letters + string.digits + "-._~/$%=&+!*'()@:,;"
# Up to 253 bytes: what option 43 holds as a sub-option, the tightest carrier.
URLS = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}/{path}"[:253],
    st.sampled_from(["tftp", "ftp", "http", "https", "HTTP"]),
    _HOST,
    st.sampled_from(["", ":69", ":8080"]),
    st.text(alphabet=_PATH_CHARS, max_size=40) | st.text(alphabet=_PATH_CHARS, max_size=240),
)
BOOT_FILES = st.text(alphabet="".join(chr(c) for c in range(0x21, 0x7F)), min_size=1, max_size=127)
# Option 60 prefixes as a policy may hold them (visible text, any case, any script). Some lower
# to other bytes than ASCII lowercasing would give: the Kelvin sign lowers to ASCII "k", "İ" to
# two code points, "ẞ" to "ß"; the engine compares str.lower()'s UTF-8 against bytes.lower().
VENDOR_PREFIXES = st.sampled_from(
    ["Fanvil", "fanvil", "FANVIL X4", "F", "Acme Phone", "\u212aanvil", "İP", "ẞ", "ΑΣ", "Ä", "ä"]
) | st.text(
    # What str.isprintable() takes (letters, marks, numbers, punctuation, symbols) and spaces.
    alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S"]) | st.just(" "),
    min_size=1,
    max_size=6,
)


_SIP_HOST = st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9-]{0,8}[a-z]){0,2}", fullmatch=True)
# Phone options (policy.dhcp_options): each field set or not, so that levels fall back per code.
PHONE_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "vlan": st.integers(1, 4094),
        "ntp_servers": st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=3),
        "sip_servers": st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=2)
        | st.lists(_SIP_HOST, min_size=1, max_size=2),
        "time_offset": st.integers(-43200, 50400),
        "posix_timezone": st.sampled_from(["CET-1CEST,M3.5.0,M10.5.0/3", "UTC0", "<+0330>-3:30"]),
        "tzdb_timezone": st.sampled_from(["Europe/Zurich", "UTC", "America/Argentina/Salta"]),
    },
)
MODELS = ("X4", "C62", "x3s")


def _prefix_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    url_pool = draw(st.lists(URLS, min_size=1, max_size=4, unique=True))
    boot_pool = draw(st.lists(BOOT_FILES, min_size=1, max_size=3, unique=True))
    maybe_url = st.none() | st.sampled_from(url_pool)
    maybe_boot = st.none() | st.sampled_from(boot_pool)
    doc: dict[str, Any] = {"version": 1, "provisioning": {"url": url_pool[0]}}

    option_66 = draw(st.booleans())
    option_43 = draw(st.sampled_from(["off", "string"]) | st.integers(1, 254))
    custom = draw(st.none() | st.integers(128, 254))
    if not (option_66 or option_43 != "off" or custom):
        option_66 = True  # a policy must send the URL somewhere
    doc["delivery"] = {
        "option_66": option_66,
        "option_43": option_43,
        "custom_option": custom,
        "always_send": draw(st.booleans()),
    }

    match: dict[str, Any] = {}
    if draw(st.integers(0, 4)):  # mostly explicit; else the defaults (["Fanvil"], Fanvil OUIs)
        match["vendor_class_prefixes"] = draw(st.lists(VENDOR_PREFIXES, max_size=3))
        ouis = draw(st.lists(st.binary(min_size=1, max_size=5), max_size=4))
        match["ouis"] = [_prefix_text(o) for o in ouis]
        if draw(st.integers(0, 9)) == 0:  # the registry's prefixes, as the engine expands them
            match["oui_organizations"] = ["Fanvil Technology"]
        doc["match"] = match
    oui_bytes = [mac_bytes(o) for o in match.get("ouis", [])] or [bytes.fromhex("0c383e")]
    maybe_options = st.none() | PHONE_OPTIONS
    if draw(st.booleans()):
        section: dict[str, Any] = {"default": draw(PHONE_OPTIONS)}
        section["models"] = draw(st.dictionaries(st.sampled_from(MODELS[:2]), PHONE_OPTIONS))
        section["vlan_format"] = draw(st.sampled_from(["vlan-a", "decimal", "u16", "u32"]))
        if custom != 133:  # the VLAN's code may not be the URL's custom option
            section["vlan_option"] = 133
        doc["dhcp_options"] = section
    elif custom == 132:
        doc["delivery"]["custom_option"] = None if option_66 or option_43 != "off" else 150

    sites = []
    for i in range(draw(st.integers(0, 4))):
        subnets = []
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):  # near each other, so that sites overlap
                address, length = (
                    draw(st.integers(0x0A000000, 0x0A03FFFF)),
                    draw(st.integers(8, 30)),
                )
            else:
                address, length = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 32))
            subnets.append(str(ipaddress.IPv4Network((address, length), strict=False)))
        site: dict[str, Any] = {"name": f"site {i}", "subnet": subnets}
        if (url := draw(maybe_url)) is not None:
            site["url"] = url
        if (boot := draw(maybe_boot)) is not None:
            site["boot_file"] = boot
        if (extra := draw(maybe_options)) is not None:
            site["dhcp_options"] = extra
        sites.append(site)
    doc["sites"] = sites

    # Devices under one of the policy's OUIs (so prefix, vendor class and device all match)
    # or anywhere.
    some_mac = st.binary(min_size=6, max_size=6) | st.tuples(
        st.sampled_from(oui_bytes), st.binary(min_size=6, max_size=6)
    ).map(lambda t: (t[0] + t[1])[:6])
    macs = draw(st.lists(some_mac, max_size=6, unique=True))
    devices = []
    for mac in macs:
        device: dict[str, Any] = {"mac": mac.hex(":")}
        if (url := draw(maybe_url)) is not None:
            device["url"] = url
        if (boot := draw(maybe_boot)) is not None:
            device["boot_file"] = boot
        if (extra := draw(maybe_options)) is not None:
            device["dhcp_options"] = extra
        devices.append(device)
    doc["devices"] = devices
    policy = parse_policy(yaml.safe_dump(doc, allow_unicode=draw(st.booleans())), "gen.yaml")
    # Models set afterwards: in the file they make the policy one with provisioning files,
    # whose checks would refuse most generated boot file names; the engine reads only them.
    models = draw(st.lists(st.none() | st.sampled_from(MODELS), min_size=len(devices)))
    return policy.model_copy(
        update={
            "devices": [
                d.model_copy(update={"model": m}) if m else d
                for d, m in zip(policy.devices, models, strict=False)
            ]
        }
    )


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def _ascii_mixed(data: bytes, rnd: random.Random) -> bytes:
    return bytes(rnd.choice((b, bytes([b]).swapcase()[0])) for b in data)


class RequestMaker:
    """Requests aimed at a policy: its devices' MACs (and one byte off), its MAC prefixes with
    any tail, its vendor classes in any case, codes of its options, addresses in and around its
    sites' networks; and noise of every kind."""

    def __init__(self, policy: Policy) -> None:
        engine = Engine(policy)
        self.devices = [mac_bytes(d.mac) for d in policy.devices]
        self.prefixes = [bytes.fromhex(p.replace(":", "")) for p in engine.mac_prefixes]
        self.vendor = list(policy.match.vendor_class_prefixes)
        self.codes = [43, 66, 67]
        if policy.delivery.custom_option is not None:
            self.codes.append(policy.delivery.custom_option)
        self.networks = [n for s in policy.sites for n in s.subnets]

    def mac(self, rnd: random.Random) -> bytes:
        kind = rnd.randrange(6)
        if kind == 0 and self.devices:
            mac = rnd.choice(self.devices)
            return rnd.choice([mac, mac, mac[:-1], mac + rnd.randbytes(1), mac[:3]])
        if kind in (1, 2) and self.prefixes:
            prefix = rnd.choice(self.prefixes)
            return rnd.choice(
                [prefix, prefix[:-1], prefix + rnd.randbytes(rnd.randrange(21 - len(prefix)))]
            )
        if kind == 3:
            return b""
        return rnd.randbytes(rnd.choice([6, 6, rnd.randrange(21)]))

    def vendor_class(self, rnd: random.Random) -> bytes | None:
        kind = rnd.randrange(8)
        if kind == 0:
            return None
        if kind == 1:
            return b""
        if kind == 2:
            return rnd.randbytes(rnd.randrange(1, 40))
        if not self.vendor:
            return b"Fanvil X4" if kind == 3 else None
        text = rnd.choice(self.vendor)
        spelled = rnd.choice(
            [
                text.encode(),
                text.lower().encode(),
                text.upper().encode(),
                _ascii_mixed(text.lower().encode(), rnd),
                _ascii_mixed(text.encode(), rnd),
                text.encode()[:-1],
                text.encode("latin-1", "replace"),
            ]
        )
        return spelled + rnd.choice([b"", b" X4 2.12.3", rnd.randbytes(rnd.randrange(5))])

    def prl(self, rnd: random.Random) -> bytes | None:
        kind = rnd.randrange(5)
        if kind == 0:
            return None
        if kind == 1:
            return b""
        if kind == 2:
            return rnd.randbytes(rnd.randrange(1, 13))
        codes = rnd.sample(self.codes, rnd.randrange(len(self.codes) + 1))
        noise = list(rnd.randbytes(rnd.randrange(4)))
        mixed = codes + noise
        rnd.shuffle(mixed)
        return bytes(mixed)

    def address(self, rnd: random.Random) -> bytes:
        kind = rnd.randrange(4)
        if kind == 0:
            return bytes(4)
        if kind == 1 or not self.networks:
            return rnd.randbytes(4)
        net = rnd.choice(self.networks)
        first, last = int(net.network_address), int(net.broadcast_address)
        value = rnd.choice([first, last, rnd.randint(first, last), first - 1, last + 1])
        return (value % 2**32).to_bytes(4, "big")

    def request(self, rnd: random.Random) -> Req:
        return Req(
            self.mac(rnd),
            self.vendor_class(rnd),
            self.prl(rnd),
            self.address(rnd),
            self.address(rnd),
        )


_RAW_REQUESTS = st.builds(
    Req,
    st.binary(max_size=20),
    st.none() | st.binary(max_size=20),
    st.none() | st.binary(max_size=8),
    st.binary(min_size=4, max_size=4),
    st.binary(min_size=4, max_size=4),
)


# --------------------------------------------------------------------------------------------
# The properties
# --------------------------------------------------------------------------------------------


@EXAMPLES
@given(policy=policies(), seed=st.integers(0, 2**32 - 1), raw=st.lists(_RAW_REQUESTS, max_size=10))
def test_table_agrees_with_decide_raw(
    table_eval: Path, policy: Policy, seed: int, raw: list[Req]
) -> None:
    """Per example one policy, one table, one table_eval process, 250 requests: aimed ones
    from a seeded random.Random (hypothesis draws the seed, so a failure replays; a drawn
    ArtificialRandom would cost a draw per call) and up to 10 plain random ones."""
    maker = RequestMaker(policy)
    rnd = random.Random(seed)
    requests = [maker.request(rnd) for _ in range(240)] + raw
    for kind in assert_agree(table_eval, policy, requests):
        event(kind)


def test_default_policy_agrees(table_eval: Path) -> None:
    """The defaults: vendor class "Fanvil", the shipped Fanvil OUIs, option 66 and 43, always."""
    policy = parse_policy("version: 1\nprovisioning:\n  url: http://prov.example.com/\n")
    maker = RequestMaker(policy)
    rnd = random.Random(16)
    assert_agree(table_eval, policy, [maker.request(rnd) for _ in range(2000)])


def test_large_registry_policy_agrees(table_eval: Path) -> None:
    """Thousands of registry OUIs and devices: the hash sets, not a linear scan, must match
    the engine."""
    rnd = random.Random(1616)
    devices = "".join(
        f"  - mac: '{rnd.randbytes(6).hex(':')}'\n    url: tftp://d{i}.example/\n"
        for i in range(3000)
    )
    policy = parse_policy(
        "version: 1\nprovisioning:\n  url: http://prov.example.com/\n"
        "match:\n  oui_organizations: [Technology]\n"
        "sites:\n  - name: lab\n    subnet: [10.0.0.0/8, 192.168.1.0/24]\n"
        "    boot_file: lab.cfg\n"
        f"devices:\n{devices}"
    )
    maker = RequestMaker(policy)
    assert len(maker.prefixes) > 1000
    assert_agree(table_eval, policy, [maker.request(rnd) for _ in range(5000)])


# --------------------------------------------------------------------------------------------
# Corrupted tables: table_eval reports the parse error and exits 2
# --------------------------------------------------------------------------------------------


def _sample_table() -> bytes:
    policy = parse_policy(
        "version: 1\nprovisioning:\n  url: http://prov.example.com/\n"
        "devices:\n  - mac: 0c:38:3e:00:00:01\n    url: tftp://phone.example/\n"
    )
    return Engine(policy).table()


def _parse_error(binary: Path, table: bytes) -> list[str]:
    status, answers = run_table_eval(binary, table, ["0c383e000001 - - 00000000 00000000"])
    assert status == 2, answers
    return answers


def test_sound_table_parses(table_eval: Path) -> None:
    status, answers = run_table_eval(
        table_eval, _sample_table(), ["0c383e000001 - - 00000000 00000000"]
    )
    assert status == 0
    assert answers == [
        "43:" + b"tftp://phone.example/".hex() + ",66:" + b"tftp://phone.example/".hex() + " file:-"
    ]


def test_truncated_table(table_eval: Path) -> None:
    table = _sample_table()
    end = len(table) - 4
    assert _parse_error(table_eval, table[:-1]) == [
        f"error: decision table: offset {end}: truncated: end marker needs 4 bytes, 3 left"
    ]
    assert _parse_error(table_eval, b"") == [
        "error: decision table: offset 0: truncated: magic needs 4 bytes, 0 left"
    ]
    # The last entry is the device: u8 MAC length, 6 bytes of MAC, u32 url, u32 boot, u32
    # extras, 23 bytes after its u32 count.
    count_at, boot_at = end - 23, end - 8
    assert _parse_error(table_eval, table[:-10]) == [
        f"error: decision table: offset {boot_at}: truncated: device 0 boot needs 4 bytes, 2 left"
    ]
    # Fewer bytes than the smallest device entry (13): the count is refused before the entry.
    assert _parse_error(table_eval, table[:-16]) == [
        f"error: decision table: offset {count_at}: device count 1 runs past the end (7 bytes "
        "left, each entry at least 13)"
    ]


def test_bad_magic(table_eval: Path) -> None:
    assert _parse_error(table_eval, b"KFT1" + _sample_table()[4:]) == [
        'error: decision table: offset 0: bad magic "KFT1" (expected "KFT2")'
    ]


def test_index_out_of_range(table_eval: Path) -> None:
    table = _sample_table()
    at = len(table) - 4 - 12  # the device's url index, before its boot and extras indices
    assert table[at : at + 4] == (1).to_bytes(4, "little")  # urls[1]: the device's URL
    patched = table[:at] + (2).to_bytes(4, "little") + table[at + 4 :]
    assert _parse_error(table_eval, patched) == [
        f"error: decision table: offset {at}: device 0 url index 2 is out of range (2 urls)"
    ]
    at += 4  # its boot index: NONE, and there is no boot file
    patched = table[:at] + (0).to_bytes(4, "little") + table[at + 4 :]
    assert _parse_error(table_eval, patched) == [
        f"error: decision table: offset {at}: device 0 boot index 0 is out of range (0 boots)"
    ]


def test_trailing_bytes(table_eval: Path) -> None:
    table = _sample_table()
    assert _parse_error(table_eval, table + b"\0\0") == [
        f'error: decision table: offset {len(table)}: 2 trailing bytes after "KFTE"'
    ]


def test_malformed_request_line(table_eval: Path) -> None:
    status, answers = run_table_eval(
        table_eval, _sample_table(), ["0c383e000001 - - 00000000 00000000", "0c383e - -"]
    )
    assert status == 1
    assert answers[1] == "error: line 3: expected 5 fields: mac vendor_class prl giaddr yiaddr"
