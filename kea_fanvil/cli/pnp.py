"""``kea-fanvil pnp``: the SIP PnP responder for phones with static addresses, and its probe.

The probe's run and report are :mod:`kea_fanvil.cli.pnp_probe`, which `probe --pnp` shares.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from kea_fanvil.cli.common import fail, load
from kea_fanvil.cli.pnp_probe import run_probe
from kea_fanvil.errors import PnpError
from kea_fanvil.pnp.responder import GROUP, PORT, Limits
from kea_fanvil.pnp.service import serve

__all__ = [
    "EPILOG",
    "pnp",
    "probe_command",
    "serve_command",
]

EPILOG = "Docs: docs/pnp.md (setup, what phones send, what is answered, limits)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def pnp() -> None:
    """Serve the provisioning URL to phones that never see DHCP (static addresses).

    \b
    A Fanvil phone with PnP on (the default "PnP Server" is 224.0.1.75:5060) multicasts a SIP
    SUBSCRIBE at boot and takes its provisioning URL from the NOTIFY that answers it. The
    responder answers from the same policy as DHCP: device, then the site holding the phone's
    address, then the default URL.

    \b
      kea-fanvil pnp serve policy.yaml --interface eth0    answer phones on eth0
      kea-fanvil pnp probe eth0 --mac 0c:38:3e:11:3a:f8    play a phone: what would it get?
    """


def _logging() -> None:
    # Under systemd (JOURNAL_STREAM set) the journal stamps each line; elsewhere we do.
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format=f"{stamp}%(levelname)s %(message)s"
    )


@pnp.command("serve", epilog=EPILOG)
@click.argument("policy", type=click.Path(path_type=Path, dir_okay=False), metavar="POLICY")
@click.option(
    "-i",
    "--interface",
    "interfaces",
    multiple=True,
    metavar="IF",
    help="Join the multicast group on this interface (repeat for several). Default: the one "
    "the kernel picks for the group (the default route's).",
)
@click.option(
    "--group",
    default=GROUP,
    show_default=True,
    help='The address phones send to: their "PnP Server" setting. A unicast address of '
    "this host works too, for phones pointed at it.",
)
@click.option(
    "--port", default=PORT, show_default=True, type=click.IntRange(1, 65535), help="UDP port."
)
@click.option(
    "--rate",
    default=Limits.rate,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Datagrams per second one source address may send; the excess is dropped unread.",
)
@click.option(
    "--burst",
    default=Limits.burst,
    show_default=True,
    type=click.IntRange(min=1),
    help="Datagrams one source may send at once (a booting phone sends one SUBSCRIBE and "
    "retransmits it a few times).",
)
@click.option(
    "--log-interval",
    default=Limits.log_interval,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between two log lines of the same kind of problem (malformed SIP, rate "
    "limit, ...); the rest is counted.",
)
@click.option(
    "--stats-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the counters as JSON here on SIGUSR1 and at exit.",
)
def serve_command(
    policy: Path,
    interfaces: tuple[str, ...],
    group: str,
    port: int,
    rate: float,
    burst: int,
    log_interval: float,
    stats_file: Path | None,
) -> None:
    """Answer PnP SUBSCRIBEs with the URL POLICY gives each phone, until SIGTERM.

    \b
    For each SUBSCRIBE with "Event: ua-profile;profile-type=device":
      - the MAC comes from the Request-URI (sip:MAC=0c383e113af8@..., MAC%3A..., MAC:...),
        the vendor class from the Event's vendor, model and version ("Fanvil C62 2.4.1"),
        the site from the phone's source address;
      - a phone the policy matches gets 200 OK, then a NOTIFY to its Contact with
        "Content-Type: application/url" and the URL as the body ($mac left for the phone);
      - any other sender gets nothing (another PnP server may answer it) and is counted.
    Retransmissions get the same bytes again without a new decision.

    \b
    Signals: SIGTERM/SIGINT stop (exit 0, a final counters line); SIGHUP reloads POLICY and
    keeps the previous one if the new file is broken (each problem logged as file:line);
    SIGUSR1 logs the counters. Logs go to stderr; passwords in URLs are masked.
    """
    from kea_fanvil.engine import Engine

    _logging()
    engine = Engine(load(policy))
    try:
        code = serve(
            policy,
            engine,
            interfaces,
            group,
            port,
            Limits(rate, burst, log_interval),
            stats_file,
        )
    except PnpError as exc:
        fail(str(exc))
    sys.exit(code)


@pnp.command("probe", epilog=EPILOG)
@click.argument("source", metavar="IFACE")
@click.option("--mac", required=True, help="The phone to play, e.g. 0c:38:3e:11:3a:f8.")
@click.option(
    "--vendor",
    default="Fanvil",
    show_default=True,
    help="The Event's vendor=; with model and version it makes the vendor class.",
)
@click.option("--model", default="C62", show_default=True, help="The Event's model=.")
@click.option(
    "--version",
    "firmware",
    default="2.4.1",
    show_default=True,
    help="The Event's version= (firmware).",
)
@click.option("--group", default=GROUP, show_default=True, help="Where to send the SUBSCRIBE.")
@click.option(
    "--port", default=PORT, show_default=True, type=click.IntRange(1, 65535), help="UDP port."
)
@click.option(
    "--timeout",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for the NOTIFY.",
)
@click.option(
    "--repeat",
    default=1,
    show_default=True,
    type=click.IntRange(1, 10),
    help="Send the same SUBSCRIBE this many times, as a phone retransmits; each answer is "
    "reported.",
)
@click.option(
    "--uri-form",
    type=click.Choice(["MAC=", "MAC%3A", "MAC:"]),
    default="MAC=",
    show_default=True,
    help="How the Request-URI carries the MAC (forms seen from different phones).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON object: "status", "url", "content_type", "responses" and "notifies" '
    '(each with "from", "after_ms" and the message "text").',
)
@click.option("--show-secrets", is_flag=True, help="Print passwords in the URL as they are.")
def probe_command(
    source: str,
    mac: str,
    vendor: str,
    model: str,
    firmware: str,
    group: str,
    port: int,
    timeout: float,
    repeat: int,
    uri_form: str,
    as_json: bool,
    show_secrets: bool,
) -> None:
    """Play a phone on IFACE (an interface, or a local address): multicast the PnP SUBSCRIBE
    a Fanvil phone sends at boot and report the 200 OK and NOTIFY that come back.

    Exit 0 when a NOTIFY brought a URL, 1 when nothing did within --timeout (the policy does
    not match this phone, no responder on the segment, or no multicast route: try
    `ip route get 224.0.1.75`).
    """
    run_probe(
        source,
        mac,
        vendor,
        model,
        firmware,
        group,
        port,
        timeout,
        repeat,
        uri_form,  # type: ignore[arg-type]  # click.Choice checked it
        as_json,
        show_secrets,
    )
