"""``kea-fanvil metrics``: serve the hook's statistics from running kea-dhcp4 servers as
Prometheus text (kea_fanvil.metrics.exporter)."""

from __future__ import annotations

import ipaddress
import signal
import threading
from types import FrameType

import click

from kea_fanvil.cli.common import EPILOG, fail, out
from kea_fanvil.metrics.exporter import HookCollector, parse_target

__all__ = ["metrics"]

DEFAULT_LISTEN = "127.0.0.1:9547"


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    try:
        if not sep:
            raise ValueError
        address = str(ipaddress.ip_address(host.strip("[]")))
        number = int(port)
        if not 1 <= number <= 65535:
            raise ValueError
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not ADDRESS:PORT such as 127.0.0.1:9547", param_hint="--listen"
        ) from None
    return address, number


@click.command(epilog=EPILOG)
@click.option(
    "--kea",
    "targets",
    metavar="[NAME=]SOCKET_OR_URL",
    multiple=True,
    required=True,
    help="A kea-dhcp4 to read (its control socket or HTTP URL); repeat for several. NAME is "
    "the `server` label (default: the address).",
)
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    help="Where to serve /metrics. Keep it on a management address: the labels name servers "
    "and phone models.",
)
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for each server.")
def metrics(targets: tuple[str, ...], listen: str, timeout: float) -> None:
    """Serve Prometheus metrics of the kea-fanvil hook in running kea-dhcp4 servers.

    Each scrape asks every server for its statistics and the hook's status: packets matched
    and changed, errors, policy reloads and failures, the policy in force, the inventory
    (records written and dropped, phones by model and firmware), kea_fanvil_up per server.
    Stork's exporter drops the hook's statistics; run this beside it. Stops on SIGTERM.
    """
    from prometheus_client import CollectorRegistry, start_http_server

    address, port = _listen(listen)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HookCollector([parse_target(t) for t in targets], timeout))
    try:
        server, thread = start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        fail(f"cannot listen on {listen}: {exc.strerror}")
    out.print(f"serving http://{listen}/metrics for {len(targets)} server(s)", markup=False)
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done.wait()
    server.shutdown()
    thread.join(5)
