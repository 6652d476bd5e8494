"""`hubspot-metrics sandbox`: a simulated HubSpot portal to point the tool at, no token needed."""

from __future__ import annotations

import signal
import threading

import click


SANDBOX_TOKEN = "pat-na1-sandbox-not-a-real-token"


@click.command()
@click.option("--scale", default=5000, show_default=True, type=click.IntRange(min=1),
              help="Number of contacts (companies, deals, tickets and surveys scale with it).")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the generated data.")
@click.option("--rate-limit", "rate_limit", default=190, show_default=True, type=click.IntRange(min=1),
              help="Requests per rolling 10 seconds before HubSpot-style 429s.")
def sandbox(scale: int, port: int, seed: int, rate_limit: int) -> None:
    """Serve a simulated HubSpot portal with realistic data until Ctrl-C."""
    click.echo(f"Generating a portal with {scale:,} contacts (seed {seed})...")
    from .generate import generate_portal
    from .server import PortalServer

    portal = generate_portal(scale=scale, seed=seed)
    server = PortalServer(portal, token=SANDBOX_TOKEN, requests_per_10s=rate_limit, port=port)
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(f"Cannot listen on port {port}: {exc.strerror or exc}.") from None
    stop = threading.Event()
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    except ValueError:  # not in the main thread (e.g. embedded): Ctrl-C still works
        pass
    click.echo(f"Simulated HubSpot portal {portal.portal_id} listening at {server.url}\n"
               f"Token: {SANDBOX_TOKEN}\n\n"
               "Point hubspot-metrics at it:\n"
               f"  export HUBSPOT_API_BASE_URL={server.url}\n"
               f"  export HUBSPOT_ACCESS_TOKEN={SANDBOX_TOKEN}\n\n"
               "Press Ctrl-C to stop.")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    click.echo("Sandbox stopped.")
