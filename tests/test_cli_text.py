"""User text printed as written: no rich markup or emoji codes read into it, and option 60
given as bytes that are not text (--vendor-class with invalid UTF-8, --vendor-class-hex)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from kea_fanvil.cli.app import main

POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/[b]x[/b]/:smile:"
sites:
  - name: "[red]site[/] :smile:"
    subnet: 198.18.64.0/18
devices:
  - mac: "0c:38:3e:11:3a:f8"
    name: "[link=http://evil.example.com]desk[/link]"
"""


def _policy(tmp_path: Path) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return str(path)


def test_markup_and_emoji_codes_print_as_written(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["validate", _policy(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "[red]site[/] :smile:" in result.stdout
    assert "http://prov.example.com/[b]x[/b]/:smile:" in result.stdout
    assert "\N{SMILING FACE WITH SMILING EYES}" not in result.stdout
    result = runner.invoke(
        main, ["decide", _policy(tmp_path), "--mac", "0c:38:3e:00:00:01", "--vendor-class", "[b]"]
    )
    assert "URL: http://prov.example.com/[b]x[/b]/:smile:" in result.stdout


def test_errors_print_user_text_as_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nprovisioning:\n  url: 'gopher://[b]x[/b]/'\n")
    result = CliRunner().invoke(main, ["decide", str(bad), "--mac", "[bold]zz[/bold]"])
    assert result.exit_code == 2
    assert "[bold]zz[/bold]" in result.stderr


def test_vendor_class_bytes_that_are_not_text(tmp_path: Path) -> None:
    runner = CliRunner()
    policy = _policy(tmp_path)
    # What Python hands over for the shell's $'Fanvil C62\xff': a surrogate escape.
    raw = os.fsdecode(b"Fanvil C62\xff")
    result = runner.invoke(
        main, ["decide", policy, "--mac", "00:15:65:00:00:01", "--vendor-class", raw, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matched_by"] == "vendor-class"
    result = runner.invoke(
        main,
        ["decide", policy, "--mac", "00:15:65:00:00:01", "--vendor-class-hex", "46616e76696cff"],
    )
    assert result.exit_code == 0 and "matched by vendor-class" in result.stdout
    result = runner.invoke(
        main, ["decide", policy, "--mac", "00:15:65:00:00:01", "--vendor-class-hex", "zz"]
    )
    assert result.exit_code == 2 and "is not hex bytes" in result.stderr
    result = runner.invoke(
        main,
        ["decide", policy, "--mac", "0c:38:3e:00:00:01", "--vendor-class", "a",
         "--vendor-class-hex", "41"],
    )  # fmt: skip
    assert result.exit_code == 2 and "not both" in result.stderr
