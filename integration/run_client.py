"""Run one `kea_fanvil.probe.dhcp_client` function in this process and print its result as JSON.

`lab.call_in_netns` runs this script under `ip netns exec`, so the pytest process never
changes namespace. Usage:

    python integration/run_client.py '{"call": "dora", "kwargs": {"iface": "kfcli0", ...}}'

Values that JSON cannot carry are tagged: `{"$bytes": hex}` for bytes, `{"$dhcp": hex}` for a
DhcpMessage (its `to_bytes()`), `{"$dora": {"offer": ..., "ack": ..., "server_mac": ...}}` for a
DoraResult. The output is one JSON object: `{"result": value}` or
`{"error": {"type": "DhcpTimeout", "message": "..."}}`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from kea_fanvil.errors import DhcpClientError
from kea_fanvil.probe import dhcp_client
from kea_fanvil.wire.dhcp import DhcpMessage

CALLS: dict[str, Callable[..., Any]] = {
    "dora": dhcp_client.dora,
    "dora_relayed": dhcp_client.dora_relayed,
    "release": dhcp_client.release,
    "release_relayed": dhcp_client.release_relayed,
}


def encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, DhcpMessage):
        return {"$dhcp": value.to_bytes().hex()}
    if isinstance(value, dhcp_client.DoraResult):
        return {
            "$dora": {
                "offer": encode(value.offer),
                "ack": encode(value.ack),
                "server_mac": encode(value.server_mac),
            }
        }
    if isinstance(value, IPv4Address):
        return str(value)
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$bytes" in value:
            return bytes.fromhex(value["$bytes"])
        if "$dhcp" in value:
            return DhcpMessage.from_bytes(bytes.fromhex(value["$dhcp"]))
        if "$dora" in value:
            parts = value["$dora"]
            return dhcp_client.DoraResult(
                offer=decode(parts["offer"]),
                ack=decode(parts["ack"]),
                server_mac=decode(parts["server_mac"]),
            )
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def main(argv: list[str]) -> int:
    request = json.loads(argv[1])
    function = CALLS[request["call"]]
    try:
        result = function(**decode(request.get("kwargs", {})))
    except DhcpClientError as exc:
        print(json.dumps({"error": {"type": type(exc).__name__, "message": str(exc)}}))
        return 0
    print(json.dumps({"result": encode(result)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
