"""`kea-fanvil schema` matches the loader: it accepts every policy example the project ships
(dhcp-configs/, the YAML blocks of README and docs/) and rejects what the loader rejects, for
the kinds of mistake a JSON Schema can express."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from kea_fanvil import PolicyError, parse_policy
from kea_fanvil.cli.app import main

ROOT = Path(__file__).resolve().parent.parent
BASE = {"version": 1, "provisioning": {"url": "http://prov.example.com/$mac.cfg"}}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _examples() -> list[tuple[str, dict[str, Any]]]:
    found = [
        (str(path.relative_to(ROOT)), yaml.safe_load(path.read_text()))
        for path in sorted((ROOT / "dhcp-configs").glob("*.yaml"))
    ]
    # In the docs, a ```yaml block is a policy (or one section of one) and must validate; YAML
    # of other programs (Prometheus' configuration in docs/operations.md) is fenced ```yml.
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks = re.findall(r"^```yaml\n(.*?)^```", doc.read_text(), re.DOTALL | re.MULTILINE)
        for i, block in enumerate(blocks):
            data = yaml.safe_load(block)
            # A fragment (one section of a policy) completed with the two required keys.
            found.append((f"{doc.relative_to(ROOT)} block {i + 1}", {**BASE, **data}))
    return found


EXAMPLES = _examples()


def test_there_are_examples_in_the_docs() -> None:
    assert any(name.startswith("docs/") for name, _ in EXAMPLES)


@pytest.mark.parametrize(("name", "policy"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_the_schema_accepts_every_shipped_example(
    validator: jsonschema.protocols.Validator, name: str, policy: dict[str, Any]
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(policy)]
    assert errors == [], name


BROKEN = [
    "colour: blue\n",
    "delivery:\n  custom_option: 300\n",
    "delivery:\n  option_43: maybe\n",
    "delivery:\n  always_send: perhaps\n",
    "sites:\n  - subnet: 198.18.0.0/24\n",
    "sites:\n  - name: a\n    subnet: 42\n",
    "devices: {mac: 0c383e000001}\n",
    "devices:\n  - mac: 0c383e000001\n    colour: red\n",
    "files:\n  models:\n    C62:\n      auto_update:\n        firmware:\n"
    "          server: 198.18.0.1\n          name: c.z\n          protocol: gopher\n",
]


@pytest.mark.parametrize("extra", BROKEN)
def test_the_schema_rejects_what_the_loader_rejects(
    validator: jsonschema.protocols.Validator, extra: str
) -> None:
    text = "version: 1\nprovisioning:\n  url: http://prov.example.com/\n" + extra
    with pytest.raises(PolicyError):
        parse_policy(text, "p.yaml")
    assert list(validator.iter_errors(yaml.safe_load(text))), extra


def test_numbers_in_extra_and_a_subnet_string_are_fine_for_both(
    validator: jsonschema.protocols.Validator,
) -> None:
    text = (
        "version: 1\nprovisioning:\n  url: http://prov.example.com/\n"
        "sites:\n  - name: a\n    subnet: 198.18.0.0/24\n"
        "files:\n  common:\n    extra:\n      GLOBAL: {Enable SNTP: 1, Flag: true}\n"
    )
    parse_policy(text, "p.yaml")
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
