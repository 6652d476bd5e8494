"""`hubspot-metrics sandbox`: a simulated HubSpot portal to point the tool at, no token needed.

The sandbox's clock runs in real time and, unless `--still`, the portal keeps changing while
it serves (portal/live.py). `sandbox --edit N` asks a running sandbox for N changes at once.
"""

from __future__ import annotations

import json
import signal
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import click

from . import SANDBOX_TOKEN

DEFAULT_PACE = 6.0
# The generated history ends this long before the sandbox opens (longer than a sync's default
# lookback): dozens of records carry the generator's last instant as their modified date, and
# a sync a minute after the first should read the sandbox's own changes, not those again.
QUIET_BEFORE_OPENING = timedelta(minutes=15)


@click.command()
@click.option("--scale", default=5000, show_default=True, type=click.IntRange(min=1),
              help="Number of contacts (companies, deals, tickets and surveys scale with it).")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the generated data.")
@click.option("--rate-limit", "rate_limit", default=190, show_default=True, type=click.IntRange(min=1),
              help="Requests per rolling 10 seconds before HubSpot-style 429s.")
@click.option("--still", is_flag=True,
              help="Make no changes while serving (the clock still runs), so a second sync finds nothing new.")
@click.option("--pace", default=DEFAULT_PACE, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Changes a minute while serving: new contacts and deals, stage moves, tickets, survey answers, "
                   "the odd merge or deletion.")
@click.option("--edit", "edits", type=click.IntRange(1, 1000), metavar="N",
              help="Don't serve: make N changes at once in the sandbox already running at --url, and list them.")
@click.option("--url", envvar="HUBSPOT_API_BASE_URL", metavar="URL",
              help="The running sandbox's address, for --edit (default: $HUBSPOT_API_BASE_URL, as the sandbox "
                   "prints it).")
def sandbox(scale: int, port: int, seed: int, rate_limit: int, still: bool, pace: float, edits: int | None,
            url: str | None) -> None:
    """Serve a simulated HubSpot portal that changes as a real one does, until Ctrl-C."""
    if edits is not None:
        _edit_running_sandbox(url, edits)
        return
    click.echo(f"Generating a portal with {scale:,} contacts (seed {seed})...")
    from .generate import generate_portal
    from .live import LivePortal
    from .server import PortalServer

    portal = generate_portal(scale=scale, seed=seed, now=datetime.now(timezone.utc) - QUIET_BEFORE_OPENING)
    portal.advance_clock(seconds=QUIET_BEFORE_OPENING.total_seconds())
    server = PortalServer(portal, token=SANDBOX_TOKEN, requests_per_10s=rate_limit, port=port)
    live = LivePortal(portal, per_minute=pace, seed=seed)
    live.attach(server)
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(f"Cannot listen on port {port}: {exc.strerror or exc}.") from None
    if still:
        portal.run_clock()
    else:
        live.start()
    stop = threading.Event()
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    except ValueError:  # not in the main thread (e.g. embedded): Ctrl-C still works
        pass
    pace_text = ("It stands still: its clock runs, but nothing changes unless you ask" if still
                 else f"It lives: about {pace:g} changes a minute, stamped on a clock that runs in real time")
    click.echo(f"Simulated HubSpot portal {portal.portal_id} listening at {server.url}\n"
               f"Token: {SANDBOX_TOKEN}\n\n"
               "Point hubspot-metrics at it:\n"
               f"  export HUBSPOT_API_BASE_URL={server.url}\n"
               f"  export HUBSPOT_ACCESS_TOKEN={SANDBOX_TOKEN}\n\n"
               f"{pace_text}; `hubspot-metrics sandbox --edit 10` makes ten changes at once.\n"
               "Press Ctrl-C to stop.")
    try:
        while not stop.wait(0.5):
            if not still:
                live.catch_up()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    click.echo("Sandbox stopped.")


def _edit_running_sandbox(url: str | None, count: int) -> None:
    from .live import EDITS_PATH

    if not url:
        raise click.ClickException("--edit needs the running sandbox's address: export HUBSPOT_API_BASE_URL as the "
                                   "sandbox printed it, or pass --url.")
    request = urllib.request.Request(
        url.rstrip("/") + EDITS_PATH, data=json.dumps({"count": count}).encode(), method="POST",
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            changes = json.loads(response.read())["changes"]
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"{url} is not a running hubspot-metrics sandbox (it answered {exc.code}); "
                                   "point --url at the address the sandbox printed.") from None
    except (urllib.error.URLError, OSError):
        raise click.ClickException(f"Nothing answers at {url}; start `hubspot-metrics sandbox` in another terminal "
                                   "and use the address it prints.") from None
    except (ValueError, KeyError, TypeError):
        raise click.ClickException(f"{url} is not a running hubspot-metrics sandbox (its answer was not the "
                                   "sandbox's); point --url at the address the sandbox printed.") from None
    records = {(r["objectType"], r["id"]) for change in changes for r in change["records"]}
    for change in changes:
        click.echo(f"  {change['text']}")
    click.echo(f"{len(changes)} changes touched {len(records)} records; "
               "run `hubspot-metrics sync` to pick them up.")
