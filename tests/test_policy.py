"""Policy validation: every problem names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kea_fanvil import Policy, PolicyError, load_policy, parse_policy

BASE = 'version: 1\nprovisioning:\n  url: "http://prov.example.com/fanvil/$mac.cfg"\n'


def _problems(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml", tmp_path)
    return str(caught.value).splitlines()


def test_the_issue_shape_is_accepted() -> None:
    policy = parse_policy(
        BASE
        + """delivery:
  option_66: true
  option_43: string
  custom_option: 160
  always_send: true
match:
  vendor_class_prefixes: ["Fanvil"]
  ouis: ["0c:38:3e", "00:a8:59"]
  oui_organizations: ["Fanvil Technology"]
sites:
  - name: branch-a
    subnet: 198.18.64.0/18
    url: "http://branch-a.example.com/fanvil/$mac.cfg"
devices:
  - mac: "0C-38-3E-11-3A-F8"
    boot_file: "desk-12.cfg"
    url: "https://prov.example.com/special/desk-12/"
"""
    )
    assert policy.devices[0].mac == "0c:38:3e:11:3a:f8"
    assert policy.delivery.custom_option == 160
    assert str(policy.sites[0].subnets[0]) == "198.18.64.0/18"


def test_defaults() -> None:
    policy = parse_policy(BASE)
    assert policy.delivery.option_66 and policy.delivery.option_43 == "string"
    assert policy.delivery.custom_option is None and policy.delivery.always_send
    assert policy.match.vendor_class_prefixes == ["Fanvil"]
    assert policy.match.ouis == ["0c:38:3e", "00:a8:59"]


def test_yaml_off_means_off() -> None:
    assert parse_policy(BASE + "delivery:\n  option_43: off\n").delivery.option_43 == "off"


@pytest.mark.parametrize("word", ["on", "yes", "true"])
def test_yaml_on_means_the_bare_string(word: str) -> None:
    # Not True -> 1: that would send the URL as sub-option 1, which Fanvil firmware cannot read.
    delivery = parse_policy(BASE + f"delivery:\n  option_43: {word}\n").delivery
    assert delivery.option_43 == "string"
    assert parse_policy(BASE + "delivery:\n  option_43: 1\n").delivery.option_43 == 1


def test_example_policy_validates() -> None:
    example = Path(__file__).resolve().parent.parent / "dhcp-configs" / "example-policy.yaml"
    policy = load_policy(example)
    assert policy.version == 1
    assert policy.provisioning.url.startswith(("tftp://", "ftp://", "http://", "https://"))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "colour: blue\n",
            "p.yaml:4:9: colour: unknown key (check the spelling; "
            "`kea-fanvil schema` lists every key)",
        ),
        (
            "devices:\n  - mac: 0c:38:3e:zz:00:01\n",
            "p.yaml:5:10: devices[0].mac: '0c:38:3e:zz:00:01' is not a MAC address",
        ),
        (
            "match:\n  ouis: [0c38]\n  vendor_class_prefixes: ['']\n",
            "p.yaml:6:27: match.vendor_class_prefixes[0]: String should have at least 1 character",
        ),
        ("match:\n  ouis: [zz]\n", "p.yaml:5:10: match.ouis[0]: 'zz' is not a MAC prefix"),
        (
            "delivery:\n  custom_option: 300\n",
            "p.yaml:5:18: delivery.custom_option: Input should be less than or equal to 254",
        ),
        (
            "delivery:\n  custom_option: 127\n",
            "p.yaml:5:18: delivery.custom_option: Input should be greater than or equal to 128",
        ),
        (
            "sites:\n  - name: a\n    subnet: 198.18.0.0/24\n    url: gopher://x/\n",
            "p.yaml:7:10: sites[0].url: URL scheme 'gopher' is not one of tftp, ftp, http, https",
        ),
        (
            "sites:\n  - name: a\n    subnet: 198.18.0.1/24\n",
            "p.yaml:6:13: sites[0].subnet: '198.18.0.1/24' is not an IPv4 subnet in CIDR form",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    boot_file: " + "b" * 128 + "\n",
            "p.yaml:6:16: devices[0].boot_file: boot file name is 128 bytes; at most 127 fit",
        ),
        (
            "devices:\n  - mac: 10:00:00:00:00:01\n",
            "p.yaml:5:10: devices[0].mac: YAML read this MAC address as the number 7776000001; "
            "put it in quotes",
        ),
        (
            "match:\n  ouis: [12:34:56]\n",
            "p.yaml:5:10: match.ouis[0]: YAML read this MAC prefix as the number 45296; "
            "put it in quotes",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    url: http://x:99999/\n",
            "p.yaml:6:10: devices[0].url: URL 'http://x:99999/' has a bad port",
        ),
        (
            "delivery:\n  option_66: false\n  option_43: off\n",
            "p.yaml:5:3: delivery: sends the URL nowhere: enable option_66, option_43 or",
        ),
    ],
)
def test_one_problem_located(extra: str, expected: str) -> None:
    problems = _problems(BASE + extra)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_url_too_long_for_one_option() -> None:
    url = "http://x/" + "a" * 247  # 256 bytes: RFC 3396 long options are not produced
    (problem,) = _problems(f'version: 1\nprovisioning:\n  url: "{url}"\n')
    assert problem == ("p.yaml:3:8: provisioning.url: option 66 URL is 256 bytes; at most 255 fit")


def test_suboption_leaves_253_bytes() -> None:
    url = "http://x/" + "a" * 245  # 254 bytes: fits option 66, not a 43 sub-option
    (problem,) = _problems(
        f'version: 1\nprovisioning:\n  url: "{url}"\ndelivery:\n  option_43: 1\n'
    )
    assert problem == (
        "p.yaml:3:8: provisioning.url: URL is 254 bytes; option 43 sub-option 1 holds at most 253"
    )


def test_duplicates() -> None:
    problems = _problems(
        BASE + "devices:\n  - mac: 0c383e000001\n  - mac: 0C:38:3E:00:00:01\n"
        "sites:\n  - {name: a, subnet: 198.18.0.0/24}\n  - {name: a, subnet: 198.18.1.0/24}\n"
    )
    assert problems == [
        "p.yaml:9:12: sites[1].name: 'a' is already sites[0]",
        "p.yaml:6:10: devices[1].mac: 0c:38:3e:00:00:01 is already devices[0]",
    ]


def test_duplicate_yaml_key() -> None:
    (problem,) = _problems(BASE + "delivery:\n  option_66: true\n  option_66: false\n")
    assert problem == "p.yaml:6:3: YAML: duplicate key 'option_66' (first at line 5)"


def test_yaml_syntax_error_and_odd_documents() -> None:
    (problem,) = _problems(BASE + "sites: [\n")
    assert problem.startswith("p.yaml:5:1: YAML:")
    assert _problems("") == [
        "p.yaml:1: the policy must be a YAML mapping (start with `version: 1`)"
    ]
    assert _problems("- 1\n") == [
        "p.yaml:1: the policy must be a YAML mapping (start with `version: 1`)"
    ]
    assert _problems("version: 2\n")[0].startswith("p.yaml:1:10: version: Input should be 1")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nope\.yaml: cannot read the policy: No such file"):
        load_policy(tmp_path / "nope.yaml")


def test_devices_file(tmp_path: Path) -> None:
    (tmp_path / "phones.csv").write_text(
        "mac,url,boot_file,name\n0c:38:3e:00:00:01,,a.cfg,desk\n\n0c383e000002,tftp://t/x,,\n"
    )
    policy = parse_policy(BASE + "devices_file: phones.csv\n", "p.yaml", tmp_path)
    assert [(d.mac, d.boot_file, d.url, d.name) for d in policy.devices] == [
        ("0c:38:3e:00:00:01", "a.cfg", None, "desk"),
        ("0c:38:3e:00:00:02", None, "tftp://t/x", None),
    ]


def test_devices_file_problems_name_the_csv(tmp_path: Path) -> None:
    csv = tmp_path / "phones.csv"
    csv.write_text("mac,boot_file\n0c:38:3e:00:00:01,a.cfg\n\nzz,b.cfg\n")
    assert _problems(BASE + "devices_file: phones.csv\n", tmp_path) == [
        f"{csv}:4: row 2 mac: 'zz' is not a MAC address (use 0c:38:3e:11:3a:f8, "
        "0c-38-3e-11-3a-f8, 0c38.3e11.3af8 or 0c383e113af8)"
    ]
    csv.write_text("mac,colour\n0c:38:3e:00:00:01,red\n")
    (problem,) = _problems(BASE + "devices_file: phones.csv\n", tmp_path)
    assert problem.startswith("p.yaml:4:15: devices_file: cannot read")
    assert "unknown column(s) colour" in problem
    csv.write_text("mac\n0c:38:3e:00:00:01\n")
    inline = BASE + "devices_file: phones.csv\ndevices:\n  - mac: 0c383e000001\n"
    assert _problems(inline, tmp_path) == [
        f"{csv}:2: row 1 mac: 0c:38:3e:00:00:01 is already devices[0]"
    ]
    (problem,) = _problems(BASE + "devices_file: missing.csv\n", tmp_path)
    assert "missing.csv: No such file or directory" in problem


def test_schema_lists_the_top_level_keys() -> None:
    schema = Policy.model_json_schema()
    assert set(schema["properties"]) == {
        "version",
        "provisioning",
        "delivery",
        "match",
        "sites",
        "devices",
        "dhcp_options",
        "devices_file",
        "files",
    }
    assert schema["required"] == ["version", "provisioning"]


def test_devices_file_row_with_too_many_values(tmp_path: Path) -> None:
    (tmp_path / "phones.csv").write_text("mac,boot_file\n0c:38:3e:00:00:01,a.cfg,extra\n")
    (problem,) = _problems(BASE + "devices_file: phones.csv\n", tmp_path)
    assert problem.endswith("line 2 has 3 values for 2 columns")
    assert problem.startswith("p.yaml:4:15: devices_file: cannot read")


# --- every problem in one run ---------------------------------------------------------------------


def test_a_bad_mac_does_not_hide_a_duplicate_one() -> None:
    text = BASE + (
        "devices:\n  - mac: 0c:38:3e:zz:00:01\n  - mac: 0c383e000002\n  - mac: 0c:38:3e:00:00:02\n"
    )
    assert _problems(text) == [
        "p.yaml:5:10: devices[0].mac: '0c:38:3e:zz:00:01' is not a MAC address (use "
        "0c:38:3e:11:3a:f8, 0c-38-3e-11-3a-f8, 0c38.3e11.3af8 or 0c383e113af8)",
        "p.yaml:7:10: devices[2].mac: 0c:38:3e:00:00:02 is already devices[1]",
    ]


def test_csv_rows_are_checked_with_a_broken_yaml(tmp_path: Path) -> None:
    (tmp_path / "phones.csv").write_text(
        "mac,url\n0c:38:3e:00:00:01,http://a.example.com/\n0c:38:3e:00:00:01,gopher://x/\n"
        f"0c:38:3e:00:00:03,http://x/{'u' * 250}\n"
    )
    policy = tmp_path / "p.yaml"
    policy.write_text(
        BASE + "devices_file: phones.csv\nsites:\n  - name: a\n    subnet: 198.18.0.0/24\n"
        "  - name: a\n    subnet: 198.18.1.0/24\n  - name: b\n    subnet: 198.18.2.0/33\n"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(policy)
    csv_name = tmp_path / "phones.csv"
    rendered = [p.render(str(policy)) for p in caught.value.problems]
    assert rendered == [
        f"{policy}:11:13: sites[2].subnet: '198.18.2.0/33' is not an IPv4 subnet in CIDR form: "
        "'33' is not a valid netmask",
        f"{csv_name}:3: row 2 url: URL scheme 'gopher' is not one of tftp, ftp, http, https",
        f"{csv_name}:4: row 3 url: option 66 URL is 259 bytes; at most 255 fit",
        f"{policy}:8:11: sites[1].name: 'a' is already sites[0]",
        f"{csv_name}:3: row 2 mac: 0c:38:3e:00:00:01 is already devices[0]",
    ]
