"""RFC 3396 on the wire: the installed kea-dhcp4 sends an option of over 255 bytes split.

Kea's ChangeLog puts the splitting in 2.1.6 (entry 2018), while this project's docs once said
2.2 could not: this settles it per version, on the wire. An option's length is one byte, so a
value of 300 bytes reaching the client (which joins the instances of a code, RFC 3396 section
7) can only have come as two or more instances of that code.
"""

from __future__ import annotations

from pathlib import Path

from daemons import kea_config, start_kea
from lab import Lab, client_dora

from kea_fanvil.kea_install import installed

LONG = bytes(range(256)) + bytes(range(44))  # 300 bytes, every value once at least
PRL = bytes([1, 3, 6, 224])


def test_kea_splits_an_option_longer_than_255_bytes(lab: Lab, tmp_path: Path) -> None:
    config = kea_config(
        lab,
        option_def=[{"name": "kf-long", "code": 224, "type": "binary"}],
        option_data=[{"code": 224, "data": LONG.hex(), "always-send": True}],
    )
    kea = start_kea(lab, config, tmp_path)
    phone = client_dora(lab, "0c:38:3e:00:33:96", b"Fanvil X4", PRL)
    for message in (phone.offer, phone.ack):
        assert message.option(224) == LONG, kea.log()
    assert installed().splits_long_options
