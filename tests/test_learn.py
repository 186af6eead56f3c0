"""`files learn`: the guarded site's access log parsed, its phones upserted into the inventory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kea_fanvil.cli.app import main
from kea_fanvil.errors import FilesError, InventoryError
from kea_fanvil.files.learn import (
    MAX_LINE,
    Watermark,
    learn,
    parse_agent,
    parse_line,
    read_lines,
)
from kea_fanvil.kea_hook import inventory
from kea_fanvil.kea_hook.inventory import read_meta, read_phones, record_sightings

AGENT = "Fanvil X4 2.10.2.6887 0c383e07e16c"


def line(
    uri: str = "/0c383e07e16c.cfg",
    agent: str = AGENT,
    status: int = 200,
    time: float = 1764600000.123,
    remote: str = "198.18.0.2",
) -> bytes:
    """A line as nginx writes it with the site's log_format (escape=json)."""
    record: dict[str, Any] = {
        "time": time,
        "remote": remote,
        "status": status,
        "method": "GET",
        "uri": uri,
        "request": uri,
        "agent": agent,
        "user": "desk-1",
        "bytes": 312,
    }
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("Fanvil X4 2.10.2.6887 0c383e07e16c", ("X4", "2.10.2.6887", "0c:38:3e:07:e1:6c")),
        ("Fanvil X6U Pro 0.0.10 0c383e2cd782", ("X6U Pro", "0.0.10", "0c:38:3e:2c:d7:82")),
        ("Fanvil i10SV 2.12.10.1 0c383e2397f4", ("i10SV", "2.12.10.1", "0c:38:3e:23:97:f4")),
        ("Fanvil H2U-V2 2.12.0 0c383e32342e", ("H2U-V2", "2.12.0", "0c:38:3e:32:34:2e")),
        ("Fanvil C62 0c383e007001", ("C62", "", "0c:38:3e:00:70:01")),  # the probe, no firmware
        ("Fanvil C62 AC383E007001", ("C62", "", "ac:38:3e:00:70:01")),
    ],
)
def test_fanvil_user_agents(agent: str, expected: tuple[str, str, str]) -> None:
    found = parse_agent(agent)
    assert found is not None and (found.model, found.firmware, found.mac) == expected


@pytest.mark.parametrize(
    "agent",
    [
        "Fanvil X4U-V2 2.12.16.17 0c383e43b71",  # eleven digits (a typo in wazo-provd's list)
        "Fanvil X4 2.10.2.6887 0c383e07e16c extra",
        "Mozilla/5.0 Fanvil X4 2.10.2.6887 0c383e07e16c",
        "Fanvil X4 2.10.2.6887 0c383e07e16c\n",
        "Yealink SIP-T46S 66.86.0.15 805ec0aabbcc",
        "fanvil x4 2.10.2.6887 0c383e07e16c",
        "Fanvil  X4 2.10.2.6887 0c383e07e16c",
        "Fanvil " + "X" * 40 + " 1.2 0c383e07e16c",
        "",
    ],
)
def test_other_user_agents_are_not_phones(agent: str) -> None:
    assert parse_agent(agent) is None


def test_a_phone_fetching_its_files_is_seen() -> None:
    report = learn(
        [
            line("/f0X4hw1.100.cfg"),  # its model's Common file (the table's name)
            line(time=1764600000.5),
            line("/0c383e07e16c.cfg", status=304, time=1764600001),
        ]
    )
    assert [(s.name, s.model, s.firmware, s.mac, s.address) for s in report.sightings] == [
        ("f0X4hw1.100.cfg", "X4", "2.10.2.6887", "0c:38:3e:07:e1:6c", "198.18.0.2"),
        ("0c383e07e16c.cfg", "X4", "2.10.2.6887", "0c:38:3e:07:e1:6c", "198.18.0.2"),
        ("0c383e07e16c.cfg", "X4", "2.10.2.6887", "0c:38:3e:07:e1:6c", "198.18.0.2"),
    ]
    assert report.lines == 3 and report.sightings[-1].time == 1764600001.0


def test_what_does_not_count() -> None:
    report = learn(
        [
            line(status=401),
            line(status=403),
            line(status=404),
            line("/0c383e113af8.cfg"),  # another phone's file: the User-Agent is forged
            line("/0C383E07E16C.cfg"),  # not a name the phone asks for
            line("/desk-12.cfg"),  # an ID-oriented file names no phone
            line("/f0C006200000.cfg"),  # a Common file of another model
            line(agent="curl/8.0"),
            line("/sub/0c383e07e16c.cfg"),
        ]
    )
    assert report.sightings == []
    assert (report.mismatched, report.other, report.unreadable) == (1, 8, 0)


def test_policy_common_files_and_prefix() -> None:
    lines = [line("/fanvil/f0X4Uhw1.100.cfg"), line("/fanvil/0c383e07e16c.cfg")]
    assert len(learn(lines, prefix="/fanvil/", common_names={"f0X4Uhw1.100.cfg"}).sightings) == 2
    assert len(learn(lines, prefix="/fanvil/").sightings) == 1
    assert learn(lines).sightings == []


HOSTILE_LINES = [
    b"",
    b"\n",
    b"not json\n",
    b"[]\n",
    b'"a string"\n',
    b'{"time":"x","remote":"198.18.0.2","status":200,"uri":"/a","agent":"b"}\n',
    b'{"time":true,"remote":"198.18.0.2","status":200,"uri":"/a","agent":"b"}\n',
    b'{"time":1e400,"remote":"198.18.0.2","status":200,"uri":"/a","agent":"b"}\n',
    b'{"time":-1,"remote":"198.18.0.2","status":200,"uri":"/a","agent":"b"}\n',
    b'{"time":1,"remote":"evil; DROP TABLE phones","status":200,"uri":"/a","agent":"b"}\n',
    b'{"time":1,"remote":"198.18.0.2","status":"200","uri":"/a","agent":"b"}\n',
    b'{"time":1,"remote":"198.18.0.2","status":200,"uri":null,"agent":"b"}\n',
    b"[" * 100_000 + b"\n",
    b'{"time":1,"remote":"198.18.0.2","status":200,"uri":"/0c383e07e16c.cfg","agent":"'
    + b"A" * MAX_LINE
    + b'"}\n',
    b"\xff\xfe\x00garbage\n",
    # A User-Agent with a quote and a newline, as escape=json writes it: one line, no phone.
    line(agent='Fanvil X4 2.10.2.6887 0c383e07e16c"\n{"time":2'),
    line(remote="0c383e07e16c"),
]


def test_hostile_lines_are_counted_never_recorded() -> None:
    report = learn([*HOSTILE_LINES, line()])
    assert len(report.sightings) == 1  # only the real one
    assert report.lines == len(HOSTILE_LINES) - 2 + 1  # blank lines are not lines
    assert report.unreadable == len(HOSTILE_LINES) - 2 - 1
    assert report.other == 1
    for raw in HOSTILE_LINES:
        assert parse_line(raw) is None or raw.startswith(b'{"time":1764600000')


def test_the_watermark_counts_each_line_once() -> None:
    mark = Watermark()
    lines = [line(time=10.0), line("/f0X4hw1.100.cfg", time=10.0), line(time=11.0)]
    assert len(learn(lines, mark).sightings) == 3
    again = learn([*lines, line(time=11.0, remote="198.18.0.3"), line(time=12.0)], mark)
    assert [s.time for s in again.sightings] == [11.0, 12.0]
    assert again.already == 3
    restored = Watermark.load(mark.dump())
    assert learn(lines, restored).already == 3
    with pytest.raises(FilesError, match="damaged"):
        Watermark.load("{}")


def test_reading_refuses_what_is_not_a_log(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FilesError, match="not a regular file"):
        list(read_lines(fifo))
    with pytest.raises(FilesError, match="cannot read"):
        list(read_lines(tmp_path / "missing"))
    log = tmp_path / "access.log"
    log.write_bytes(b"a\n" + b"x" * (3 * MAX_LINE) + b"\nb\nc")
    got = list(read_lines(log))
    assert got[0] == b"a\n" and got[-2:] == [b"b\n", b"c"] and len(got) == 4


# --- the inventory ------------------------------------------------------------------------------


def test_record_sightings_upserts_like_the_writer(tmp_path: Path) -> None:
    db = tmp_path / "inventory.sqlite3"
    mac = "0c:38:3e:07:e1:6c"
    assert record_sightings(db, [(mac, "X4", "2.10.2.6887", "198.18.0.2", "hq", 100.0)]) == 1
    (phone,) = read_phones(db)
    assert (phone.matched_by, phone.model, phone.firmware, phone.address, phone.site) == (
        "http",
        "X4",
        "2.10.2.6887",
        "198.18.0.2",
        "hq",
    )
    assert (phone.first_seen, phone.last_seen, phone.times_seen) == (100.0, 100.0, 1)
    # Older and newer sightings in one batch: first_seen goes back, last_seen forward, the
    # newest facts win, an empty firmware keeps the known one, counts add.
    record_sightings(
        db,
        [
            (mac, "X4", "2.10.2.7000", "198.18.0.9", "", 200.0),
            (mac, "X4", "", "198.18.0.7", "", 300.0),
            (mac, "X3", "1.0", "198.18.0.1", "", 50.0),
        ],
        ("http-learned:nginx", "mark"),
    )
    (phone,) = read_phones(db)
    assert (phone.model, phone.firmware, phone.address) == ("X4", "2.10.2.7000", "198.18.0.7")
    assert (phone.first_seen, phone.last_seen, phone.times_seen) == (50.0, 300.0, 4)
    assert phone.site == "hq"  # what the first row said, not overwritten with ""
    assert read_meta(db, "http-learned:nginx") == "mark"
    # A sighting older than the row only adds its count.
    record_sightings(db, [(mac, "X9", "9.9", "192.0.2.1", "", 250.0)])
    (phone,) = read_phones(db)
    assert (phone.model, phone.address, phone.times_seen) == ("X4", "198.18.0.7", 5)


def test_record_sightings_keeps_what_dhcp_knows(tmp_path: Path) -> None:
    db = tmp_path / "inventory.sqlite3"
    mac = "0c:38:3e:07:e1:6c"
    conn = inventory.connect(db, create=True)
    with conn:
        conn.execute(
            "INSERT INTO phones VALUES (?, 'device', 'X4', '2.10.2.6887', 'Fanvil X4', "
            "'198.18.0.150', '198.18.64.2', 'branch', 'http://desk:****@198.18.0.1/', "
            "'desk.cfg', 10.0, 20.0, 2)",
            (mac,),
        )
    conn.close()
    record_sightings(db, [(mac, "X4", "2.10.3.1", "198.18.0.151", "hq", 30.0)])
    (phone,) = read_phones(db)
    assert (phone.matched_by, phone.vendor_class, phone.relay, phone.site, phone.url) == (
        "device",
        "Fanvil X4",
        "198.18.64.2",
        "branch",
        "http://desk:****@198.18.0.1/",
    )
    assert (phone.firmware, phone.address, phone.last_seen, phone.times_seen) == (
        "2.10.3.1",
        "198.18.0.151",
        30.0,
        3,
    )


def test_record_sightings_refuses_a_foreign_database_and_a_password(tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(InventoryError, match="not a kea-fanvil inventory"):
        record_sightings(other, [("0c:38:3e:07:e1:6c", "X4", "", "198.18.0.2", "", 1.0)])
    # PostgreSQL is written too (integration/test_inventory_postgresql.py), never with a
    # password in the URI.
    with pytest.raises(InventoryError, match="password"):
        record_sightings("postgresql://kea:secret@db/kea", [])
    assert read_meta(tmp_path / "missing.sqlite3", "k") is None


# --- the command --------------------------------------------------------------------------------

POLICY = """version: 1
provisioning:
  url: "http://198.18.0.1/"
sites:
  - name: hq
    subnet: 198.18.0.0/24
devices:
  - mac: "0c:38:3e:07:e1:6c"
    model: X4U
files:
  models:
    X4U: {common_file: f0X4Uhw1.100.cfg}
"""


def test_learn_command_records_once_and_lists_with_devices(tmp_path: Path) -> None:
    log, db, policy = tmp_path / "access.log", tmp_path / "inv.sqlite3", tmp_path / "p.yaml"
    policy.write_text(POLICY)
    x4u = "Fanvil X4U 2.12.1 0c383e07e16c"
    log.write_bytes(
        line("/f0X4Uhw1.100.cfg", agent=x4u, time=1.5)
        + line(agent=x4u, time=2.5)
        + b"garbage\n"
        + line("/0c383e113af8.cfg", agent=x4u, time=3.5)
    )
    args = ["files", "learn", str(log), "--inventory", str(db), "--policy", str(policy)]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["recorded"], summary["phones"], summary["mac_mismatch"]) == (2, 1, 1)
    assert summary["unreadable"] == 1
    listed = CliRunner().invoke(main, ["devices", "--db", str(db), "--json"])
    (row,) = json.loads(listed.stdout)
    assert (row["model"], row["firmware"], row["site"], row["times_seen"]) == (
        "X4U",
        "2.12.1",
        "hq",
        2,
    )
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "recorded 0 requests" in again.stdout
    assert (
        json.loads(CliRunner().invoke(main, ["devices", "--db", str(db), "--json"]).stdout)[0][
            "times_seen"
        ]
        == 2
    )
    dry = CliRunner().invoke(
        main, ["files", "learn", str(log), "--inventory", str(tmp_path / "n"), "--dry-run"]
    )
    assert dry.exit_code == 0 and not (tmp_path / "n").exists()
    missing = CliRunner().invoke(main, ["files", "learn", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "cannot read" in missing.stderr
