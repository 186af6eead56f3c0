"""The policy's file keys: validated like the rest, located by file:line, ignored by DHCP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kea_fanvil import PolicyError, load_policy, parse_policy
from kea_fanvil.engine import Engine, Request
from kea_fanvil.fanvil.crypto import DEFAULT_ENCRYPTION_MODE
from kea_fanvil.fanvil.identify import mac_bytes
from kea_fanvil.policy.secrets import exposure_warnings, secret_fields
from kea_fanvil.policy.sections import sections
from kea_fanvil.render import dhcpd, dnsmasq, kea, policy_digest

BASE = 'version: 1\nprovisioning:\n  url: "http://prov.example.com/fanvil/$mac.cfg"\n'
KEY = "0123456789abcdef" * 4
EXAMPLE = Path(__file__).resolve().parent.parent / "dhcp-configs" / "example-policy.yaml"


def _problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    return str(caught.value).splitlines()


def _problems_in(text: str, base: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml", base)
    return str(caught.value).splitlines()


def test_defaults_and_a_full_section() -> None:
    policy = parse_policy(
        BASE
        + f"""files:
  encryption:
    common_key: "{KEY}"
  models:
    C62:
      auto_update:
        firmware: {{server: "http://198.18.0.1/fw", name: c62.z}}
devices:
  - mac: 0c383e000001
    model: c62
    custom_file: desk-$mac.cfg
"""
    )
    assert policy.files is not None
    assert policy.files.format == "cfg" and policy.files.first_version == "2.0003"
    assert policy.files.encryption is not None
    assert policy.files.encryption.mode == DEFAULT_ENCRYPTION_MODE == "aes-256-ecb"
    assert policy.files.encryption.padding == "pkcs7"
    firmware = policy.files.models["C62"].auto_update
    assert firmware is not None and firmware.firmware is not None
    assert firmware.firmware.protocol_number == 4  # http:// server: spec 5.1.2's 4
    assert policy.devices[0].model == "c62"


def test_keys_stay_out_of_dumps_and_reprs() -> None:
    policy = parse_policy(BASE + f'files:\n  encryption:\n    device_key: "{KEY}"\n')
    assert KEY not in policy.model_dump_json()
    assert KEY not in repr(policy)
    assert policy.files is not None and policy.files.encryption is not None
    assert KEY not in repr(policy.files.encryption)


def test_dhcp_side_ignores_the_file_keys() -> None:
    """Same decisions and byte-identical rendered configurations with or without them."""
    example = EXAMPLE.read_text()
    assert "\nfiles:\n" in example and "    model: C62\n" in example
    text = example.replace(
        "  format: cfg ", f'  encryption: {{device_key: "{KEY}"}}\n  format: xml '
    )
    rich = parse_policy(text, str(EXAMPLE), EXAMPLE.parent)
    plain = rich.model_copy(
        update={
            "files": None,
            "devices": [
                d.model_copy(update={"model": None, "settings": None, "custom_file": None})
                for d in rich.devices
            ],
        }
    )
    assert rich.files is not None and rich.files.format == "xml"
    assert rich.devices[1].model == "C62" and plain.devices[1].model is None
    assert policy_digest(rich) == policy_digest(plain)
    assert kea.render(rich, None, sites_by_relay=True) == kea.render(
        plain, None, sites_by_relay=True
    )
    for module in (dnsmasq, dhcpd):
        assert module.render(rich, None) == module.render(plain, None)
    request = Request(mac=mac_bytes("0c:38:3e:11:3a:f9"), vendor_class=b"Fanvil C62")
    assert Engine(rich).decide(request) == Engine(plain).decide(request)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "files:\n  encryption:\n    common_key: abc\n",
            "p.yaml:6:17: files.encryption.common_key: is 3 characters; a key is 64 hexadecimal",
        ),
        (
            f"files:\n  encryption:\n    device_key: {'1' * 64}\n",
            "p.yaml:6:17: files.encryption.device_key: YAML read this key as a number; put it "
            "in quotes",
        ),
        (
            f"files:\n  encryption:\n    common_key: '{'a' * 40}x{'a' * 23}'\n",
            "p.yaml:6:17: files.encryption.common_key: character 41 is not a hexadecimal digit",
        ),
        (
            f"files:\n  encryption:\n    mode: aes-128-ecb\n    common_key: '{KEY}'\n",
            "p.yaml:6:11: files.encryption.mode: Input should be 'aes-256-ecb' or 'aes-256-cbc'",
        ),
        (
            "files:\n  encryption: {}\n",
            "p.yaml:5:15: files.encryption: give common_key, device_key or both",
        ),
        ("files:\n  format: json\n", "p.yaml:5:11: files.format: Input should be 'cfg' or 'xml'"),
        (
            "files:\n  first_version: 2.0010\n",
            "p.yaml:5:18: files.first_version: YAML read this version as a number; put it in",
        ),
        (
            "files:\n  first_version: '2.1'\n",
            "p.yaml:5:18: files.first_version: '2.1' is not a version N.NNNN such as 2.0003",
        ),
        (
            "files:\n  common:\n    extra:\n      sip:\n        a: 1\n",
            "p.yaml:7:7: files.common.extra.sip: section 'sip': write the name in capitals "
            "without CONFIG MODULE, e.g. 'SIP' for <SIP CONFIG MODULE>",
        ),
        (
            "files:\n  common:\n    extra:\n      SIP CONFIG MODULE:\n        a: 1\n",
            "p.yaml:7:7: files.common.extra.SIP CONFIG MODULE: section 'SIP CONFIG MODULE': "
            "write the name in capitals without CONFIG MODULE, e.g. 'SIP'",
        ),
        (
            "files:\n  common:\n    extra:\n      SIP:\n        'a:b': 1\n",
            "p.yaml:8:9: files.common.extra.SIP.a:b: key 'a:b': a CFG line is `Key :Value`",
        ),
        (
            "files:\n  common:\n    extra:\n      SIP:\n        a: 2.10\n",
            "p.yaml:8:12: files.common.extra.SIP.a: YAML read this value as a decimal number",
        ),
        (
            'files:\n  common:\n    extra:\n      SIP:\n        a: "x\\ny"\n',
            "p.yaml:8:12: files.common.extra.SIP.a: holds a line break or another control",
        ),
        (
            "files:\n  common:\n    auto_update:\n      firmware:\n        url: http://x/f\n"
            "        server: http://x\n",
            "p.yaml:8:9: files.common.auto_update.firmware: give `url` (format 1) or `server` "
            "and `name` (format 2), not both (also set: server)",
        ),
        (
            "files:\n  common:\n    auto_update:\n      firmware: {version: '1'}\n",
            "p.yaml:7:17: files.common.auto_update.firmware: needs `url` (format 1), or "
            "`server` and `name` (format 2)",
        ),
        (
            "files:\n  common:\n    auto_update:\n      firmware: {server: 198.18.0.1, name: f}\n",
            "p.yaml:7:17: files.common.auto_update.firmware: format 2 needs `protocol` (ftp, "
            "tftp or http) when `server` is not a URL",
        ),
        (
            "files:\n  common:\n    auto_update:\n      firmware:\n        server: h\n"
            "        name: f\n        protocol: https\n",
            "p.yaml:10:19: files.common.auto_update.firmware.protocol: spec 5.1.2 numbers only "
            "ftp (1), tftp (2), http (4): for an HTTPS server use format 1 (`url`)",
        ),
        (
            "files:\n  common:\n    auto_update:\n      firmware:\n        server: h\n"
            "        name: f\n        protocol: 3\n",
            "p.yaml:10:19: files.common.auto_update.firmware.protocol: 3 is not one of ftp (1)",
        ),
        (
            "files:\n  common:\n    auto_update:\n      firmware:\n        server: http://h/\n"
            "        name: f\n        protocol: ftp\n",
            "p.yaml:8:9: files.common.auto_update.firmware: `protocol` ftp (1) contradicts the "
            "http:// server URL",
        ),
        (
            "files:\n  common:\n    auto_update:\n      phonebook_url: gopher://x/\n",
            "p.yaml:7:22: files.common.auto_update.phonebook_url: URL scheme 'gopher' is not one",
        ),
        (
            "files:\n  common:\n    auto_update:\n"
            "      firmware: {url: 'http://x/', password: 1234}\n",
            "p.yaml:7:46: files.common.auto_update.firmware.password: YAML read this value as a "
            "number; put it in quotes",
        ),
        (
            "files:\n  common:\n    auto_update:\n      firmware: {url: 'http://x/'}\n    extra:\n"
            "      AUTOUPDATE:\n        auto image url: y\n",
            "p.yaml:10:25: files.common.extra.AUTOUPDATE.auto image url: 'auto image url' is "
            "also written by auto_update; set it once",
        ),
        (
            "files:\n  format: xml\n  common:\n    extra:\n      SIP:\n        '--List--': ''\n",
            "p.yaml:9:21: files.common.extra.SIP.--List--: '--List--' cannot be an XML element "
            "name (files.format is xml)",
        ),
        (
            "files:\n  models:\n    X4U: {}\n",
            "p.yaml:6:10: files.models.X4U: no known source names the Common file of X4U "
            "(kea_fanvil/data/common_config_files.tsv); name it with "
            "files.models.X4U.common_file",
        ),
        (
            "files:\n  models:\n    C62: {}\n    c62: {}\n",
            "p.yaml:7:10: files.models.c62: 'c62' repeats 'C62' (case is ignored)",
        ),
        (
            "files:\n  models:\n    C62: {common_file: a/b.cfg}\n",
            "p.yaml:6:24: files.models.C62.common_file: 'a/b.cfg' is not a plain file name",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    model: 'C 62'\n",
            "p.yaml:6:12: devices[0].model: 'C 62' is not a model name such as C62 or X4U",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    custom_file: ../x.cfg\n",
            "p.yaml:6:18: devices[0].custom_file: '../x.cfg' is not a plain file name",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    custom_file: $input.cfg\n",
            "p.yaml:6:18: devices[0].custom_file: '$input.cfg': only a custom file name may "
            "hold a variable, and only $mac",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    boot_file: pxe/a.cfg\n    model: C62\n",
            "p.yaml:6:16: devices[0].boot_file: as the ID-oriented file's name: 'pxe/a.cfg' is "
            "not a plain file name",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    boot_file: a.cfg\n"
            "    settings: {extra: {SIP: {a: 1}}}\n  - mac: 0c383e000002\n    boot_file: a.cfg\n",
            "p.yaml:9:16: devices[1].boot_file: 'a.cfg' is also the ID-oriented file of "
            "0c:38:3e:00:00:01, with other settings",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    boot_file: f0C006200000.cfg\n    model: C62\n",
            "p.yaml:6:16: devices[0].boot_file: 'f0C006200000.cfg' is also the Common file of C62",
        ),
        (
            "devices:\n  - mac: 0c383e000001\n    settings: {colour: red}\n",
            "p.yaml:6:24: devices[0].settings.colour: unknown key",
        ),
    ],
)
def test_one_problem_located(extra: str, expected: str) -> None:
    problems = _problems(BASE + extra)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_errors_never_show_the_secret_values() -> None:
    bad_key = "Z" + KEY[1:]
    problems = _problems(
        BASE
        + f"files:\n  encryption:\n    common_key: '{bad_key}'\n"
        + "  common:\n    auto_update:\n      firmware: {url: 'http://x/', password: [secret]}\n"
    )
    text = "\n".join(problems)
    assert len(problems) == 2
    assert bad_key not in text and KEY[1:] not in text and "secret" not in text


def test_shared_id_file_with_equal_settings_is_one_file() -> None:
    policy = parse_policy(
        BASE + "devices:\n  - {mac: 0c383e000001, boot_file: lobby.cfg}\n"
        "  - {mac: 0c383e000002, boot_file: lobby.cfg}\n"
    )
    assert [d.boot_file for d in policy.devices] == ["lobby.cfg", "lobby.cfg"]


def test_boot_file_folders_only_matter_once_files_are_used(tmp_path: Path) -> None:
    """An existing DHCP-only policy with a path as boot file stays valid."""
    text = BASE + "devices:\n  - mac: 0c383e000001\n    boot_file: pxe/a.cfg\n"
    assert parse_policy(text).devices[0].boot_file == "pxe/a.cfg"
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(PolicyError, match="not a plain file name"):
        load_policy(tmp_path / "p.yaml", check_files=True)


def test_csv_inventory_takes_a_model_column(tmp_path: Path) -> None:
    csv = tmp_path / "phones.csv"
    csv.write_text("mac,model\n0c:38:3e:00:00:01,C60\n0c383e000002,\n")
    policy = parse_policy(BASE + "devices_file: phones.csv\n", "p.yaml", tmp_path)
    assert [d.model for d in policy.devices] == ["C60", None]
    csv.write_text("mac,model\n0c:38:3e:00:00:01,C60\n0c383e000002,X4U\n")
    (problem,) = _problems_in(BASE + "devices_file: phones.csv\n", tmp_path)
    assert problem.startswith(f"{csv}:3: row 2 model: no known source names the Common file")


def test_merge_and_sections_order() -> None:
    policy = parse_policy(
        BASE
        + """files:
  common:
    auto_update:
      firmware: {url: "http://198.18.0.1/a.z"}
      phonebook_url: "http://198.18.0.1/pb"
    extra: {SIP: {a: "1", b: "2"}}
  models:
    C62:
      auto_update:
        firmware: {server: "tftp://198.18.0.1", name: c62.z}
      extra: {SIP: {b: "3"}, NET: {c: "4"}}
"""
    )
    from kea_fanvil.policy.sections import merge

    assert policy.files is not None
    merged = merge(policy.files.common, policy.files.models["C62"])
    assert sections(merged) == [
        (
            "AUTOUPDATE",
            [
                ("Auto Image Server", "tftp://198.18.0.1"),
                ("Auto Image Name", "c62.z"),
                ("Auto Image Protocol", "2"),
                ("Auto Pbook Url", "http://198.18.0.1/pb"),
            ],
        ),
        ("SIP", [("a", "1"), ("b", "3")]),
        ("NET", [("c", "4")]),
    ]


def test_secret_fields_and_world_readable_warning(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        BASE
        + f"""files:
  encryption: {{common_key: "{KEY}"}}
  common:
    auto_update:
      firmware: {{url: "http://198.18.0.1/a.z", password: pw}}
      phonebook_url: "http://u:pw@198.18.0.1/pb"
    extra: {{SIP: {{SIP1 Register Pswd: pw, SIP1 Phone Number: "1"}}}}
"""
    )
    os.chmod(path, 0o644)
    policy = load_policy(path)
    assert secret_fields(policy) == [
        "files.encryption.common_key",
        "files.common.auto_update.firmware.password",
        "files.common.auto_update (Auto Pbook Url)",
        "files.common.extra.SIP.SIP1 Register Pswd",
    ]
    (warning,) = exposure_warnings(path, policy)
    assert "files.encryption.common_key" in warning and KEY not in warning
    os.chmod(path, 0o600)
    assert exposure_warnings(path, policy) == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0042", "YAML 1.1 reads 0042 as the number 34, not as typed; put it in quotes"),
        ("0x1F", "YAML 1.1 reads 0x1F as the number 31, not as typed; put it in quotes"),
        ("4:30", "YAML 1.1 reads 4:30 as the number 270, not as typed; put it in quotes"),
        ("1_000", "YAML 1.1 reads 1_000 as the number 1000, not as typed; put it in quotes"),
        ("1.0e+3", "YAML read this value as a decimal number and would drop trailing zeros"),
        ("2.10", "YAML read this value as a decimal number and would drop trailing zeros"),
        ("off", "YAML 1.1 reads a bare off as a boolean; for this value write 1 or 0"),
        ("Yes", "YAML 1.1 reads a bare Yes as a boolean; for this value write 1 or 0"),
    ],
)
def test_setting_values_yaml_would_change_are_refused(typed: str, message: str) -> None:
    text = (
        "version: 1\nprovisioning:\n  url: http://prov.example.com/\ndevices:\n"
        f"  - mac: 0c383e000001\n    settings: {{extra: {{SIP: {{Port: {typed}}}}}}}\n"
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    (problem,) = caught.value.problems
    assert problem.message.startswith(message), problem.message
    assert problem.line == 6


@pytest.mark.parametrize(
    ("typed", "kept"), [("42", "42"), ("'0042'", "0042"), ("true", "1"), ("1e3", "1e3")]
)
def test_setting_values_that_round_trip(typed: str, kept: str) -> None:
    text = (
        "version: 1\nprovisioning:\n  url: http://prov.example.com/\ndevices:\n"
        f"  - mac: 0c383e000001\n    settings: {{extra: {{SIP: {{Port: {typed}}}}}}}\n"
    )
    settings = parse_policy(text, "p.yaml").devices[0].settings
    assert settings is not None and settings.extra == {"SIP": {"Port": kept}}
