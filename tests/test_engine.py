"""The decision engine, case by case: request facts in, options out."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from kea_fanvil import Engine, Request, parse_policy

POLICY = """\
version: 1
provisioning:
  url: "http://prov.example.com/fanvil/$mac.cfg"
delivery:
  option_66: true
  option_43: string
  custom_option: 160
  always_send: {always_send}
match:
  vendor_class_prefixes: ["Fanvil"]
  ouis: ["0c:38:3e", "02:fa:00"]
  oui_organizations: {organizations}
sites:
  - name: branch-a
    subnet: 198.18.64.0/18
    url: "http://branch-a.example.com/fanvil/$mac.cfg"
  - name: branch-a-core
    subnet: 198.18.64.0/24
    url: "http://never.example.com/"
    boot_file: "never.cfg"
  - name: lab
    subnet: [192.0.2.0/25]
    boot_file: "lab.cfg"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    name: desk-12
    boot_file: "desk-12.cfg"
    url: "https://prov.example.com/special/desk-12/"
  - mac: "00:15:65:00:00:99"
"""

DEFAULT = b"http://prov.example.com/fanvil/$mac.cfg"
SITE = b"http://branch-a.example.com/fanvil/$mac.cfg"
DEVICE = b"https://prov.example.com/special/desk-12/"
RELAY = bytes([198, 18, 64, 2])
LAB = bytes([192, 0, 2, 7])


def _engine(always_send: bool = True, organizations: str = "[]") -> Engine:
    text = POLICY.format(always_send=str(always_send).lower(), organizations=organizations)
    return Engine(parse_policy(text))


def _url(url: bytes) -> list[tuple[int, bytes]]:
    return [(43, url), (66, url), (160, url)]


@dataclass
class Case:
    id: str
    mac: str
    vendor_class: bytes | None = None
    giaddr: bytes = bytes(4)
    yiaddr: bytes = bytes(4)
    matched_by: str | None = None
    options: list[tuple[int, bytes]] = field(default_factory=list)
    boot_file: str | None = None
    site: str | None = None
    model: str = ""
    firmware: str = ""

    @property
    def url(self) -> str | None:
        """The URL every carrier holds (43, 66 and 160 carry the same bytes here)."""
        return dict(self.options)[66].decode() if self.options else None


CASES = [
    Case("fanvil-oui", "0c:38:3e:00:00:01", matched_by="oui", options=_url(DEFAULT)),
    Case(
        "vendor-class",
        "02:00:00:00:00:02",
        b"Fanvil X4 2.10.2.6887",
        matched_by="vendor-class",
        options=_url(DEFAULT),
        model="X4",
        firmware="2.10.2.6887",
    ),
    Case(
        "case-insensitive",
        "02:00:00:00:00:03",
        b"fanvil c62",
        matched_by="vendor-class",
        options=_url(DEFAULT),
        model="c62",
    ),
    Case("prefix-not-substring", "02:00:00:00:00:04", b"My Fanvil"),
    Case("yealink", "00:15:65:00:00:04", b"yealink"),
    Case("extra-prefix", "02:fa:00:00:00:05", matched_by="oui", options=_url(DEFAULT)),
    Case(
        "device",
        "0c:38:3e:11:3a:f8",
        b"Fanvil C62",
        matched_by="device",
        options=sorted([*_url(DEVICE), (67, b"desk-12.cfg")]),
        boot_file="desk-12.cfg",
        model="C62",
    ),
    Case(
        "device-url-beats-site",
        "0c:38:3e:11:3a:f8",
        giaddr=RELAY,
        matched_by="device",
        options=sorted([*_url(DEVICE), (67, b"desk-12.cfg")]),
        boot_file="desk-12.cfg",
        site="branch-a",
    ),
    Case(
        "device-without-url-gets-site",
        "00:15:65:00:00:99",
        b"yealink",
        giaddr=RELAY,
        matched_by="device",
        options=_url(SITE),
        site="branch-a",
    ),
    Case(
        "device-without-url-outside-sites-gets-default",
        "00:15:65:00:00:99",
        b"yealink",
        yiaddr=bytes([203, 0, 113, 5]),
        matched_by="device",
        options=_url(DEFAULT),
    ),
    Case(
        "relayed-site-first-wins",
        "0c:38:3e:00:00:06",
        giaddr=RELAY,
        matched_by="oui",
        options=_url(SITE),
        site="branch-a",
    ),
    Case(
        "offered-address-site",
        "0c:38:3e:00:00:07",
        yiaddr=bytes([198, 18, 100, 1]),
        matched_by="oui",
        options=_url(SITE),
        site="branch-a",
    ),
    Case(
        "site-boot-file-default-url",
        "0c:38:3e:00:00:08",
        yiaddr=LAB,
        matched_by="oui",
        options=sorted([*_url(DEFAULT), (67, b"lab.cfg")]),
        boot_file="lab.cfg",
        site="lab",
    ),
    Case("not-text-option-60", "02:00:00:00:00:09", b"\xff\xfe\x00Fanvil\x01"),
    Case(
        "255-bytes-option-60",
        "02:00:00:00:00:0a",
        b"Fanvil " + bytes(range(1, 249)),
        matched_by="vendor-class",
        options=_url(DEFAULT),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decisions(case: Case) -> None:
    engine = _engine()
    mac = bytes.fromhex(case.mac.replace(":", ""))
    request = Request(mac, case.vendor_class, bytes([1, 3, 6]), case.giaddr, case.yiaddr)
    decision = engine.decide(request)
    assert decision.matched_by == case.matched_by
    assert list(decision.options) == case.options
    assert decision.boot_file == case.boot_file
    assert decision.site == case.site
    assert decision.model == case.model
    assert decision.firmware == case.firmware
    assert decision.url == case.url
    assert [code for code, _ in decision.options] == sorted(c for c, _ in decision.options)
    raw = engine.decide_raw(mac, case.vendor_class, bytes([1, 3, 6]), case.giaddr, case.yiaddr)
    explained = engine.explain(mac, case.vendor_class, case.giaddr, case.yiaddr)
    if case.matched_by is None:
        assert raw is None
        assert explained is None
    else:
        assert raw == (decision.options, case.boot_file.encode() if case.boot_file else None)
        # What the inventory records agrees with the full decision.
        assert explained == (case.matched_by, decision.url, case.boot_file, case.site)


def test_always_send_false_filters_by_option_55() -> None:
    engine = _engine(always_send=False)
    mac = bytes.fromhex("0c383e113af8")
    assert engine.decide_raw(mac, None, bytes([1, 3, 66, 67]), bytes(4), bytes(4)) == (
        ((66, DEVICE), (67, b"desk-12.cfg")),
        b"desk-12.cfg",
    )
    # Nothing asked, nothing sent; the file field is a header field and is still filled.
    assert engine.decide_raw(mac, None, None, bytes(4), bytes(4)) == ((), b"desk-12.cfg")


def test_option_43_as_suboption() -> None:
    policy = parse_policy(
        'version: 1\nprovisioning:\n  url: "tftp://t/x"\ndelivery:\n'
        "  option_66: false\n  option_43: 1\n"
    )
    decision = Engine(policy).decide(Request(bytes.fromhex("0c383e000001")))
    assert decision.options == ((43, b"\x01\x0atftp://t/x"),)


def test_oui_organizations_come_from_the_registry() -> None:
    engine = _engine(organizations='["Fanvil Technology"]')
    assert "0c:38:3e" in engine.mac_prefixes
    plain = Engine(
        parse_policy(
            'version: 1\nprovisioning:\n  url: "tftp://t/x"\nmatch:\n  ouis: []\n'
            '  oui_organizations: ["Fanvil Technology"]\n'
        )
    )
    assert plain.decide(Request(bytes.fromhex("0c383e000001"))).matched_by == "oui"
