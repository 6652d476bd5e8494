"""`hubspot-metrics demo`: the whole product on a simulated portal, offline, with no token.

It generates a portal of about 5,000 contacts, serves it on 127.0.0.1, syncs it into a fresh
store exactly as a real sync would (same client, limiter and store), prints the KPIs of the
last closed month and writes the HTML report. The user's own HUBSPOT_* settings are ignored: the demo never talks
to a real portal and never touches the user's store.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from hubspot_metrics.config import Config, HubSpotSettings, MetricsSettings
from hubspot_metrics.errors import ConfigError, StoreError

from hubspot_metrics.portal.cli import SANDBOX_TOKEN as DEMO_TOKEN  # the simulated portal's own token
# Sales + marketing spend per month for CAC: spend is not CRM data, so the demo supplies some.
DEMO_MONTHLY_SPEND = 25_000.0
# What a run leaves in its folder: the store with its WAL, shared memory and sync lock, and the
# report. Only these are deleted on the next run; anything else in the folder is the user's.
DEMO_FILES = ("demo.db", "demo.db-wal", "demo.db-shm", "demo.db.lock", "report.html")


def demo_config(url: str, store_path: Path, months: list[str]) -> Config:
    return Config(
        hubspot=HubSpotSettings(base_url=url, access_token=DEMO_TOKEN, requests_per_10s=190),
        store_path=str(store_path),
        metrics=MetricsSettings(spend={m: DEMO_MONTHLY_SPEND for m in months}),
    )


@click.command()
# A plain path, not click.Path(file_okay=False): a file is refused below in one sentence.
@click.option("--dir", "folder", default="hubspot-metrics-demo", show_default=True, type=click.Path(),
              help="Folder for the demo store (its demo files are replaced on every run).")
@click.option("--scale", default=5000, show_default=True, type=click.IntRange(50, 200_000),
              help="Contacts in the simulated portal.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated portal.")
def demo(folder: str, scale: int, seed: int) -> None:
    """See the whole product work: simulated portal → sync → KPIs (no token, no network)."""
    from hubspot_metrics.cli import run_sync
    from hubspot_metrics.metrics import compute_kpis
    from hubspot_metrics.metrics.render import render_table
    from hubspot_metrics.periods import named_period
    from hubspot_metrics.portal import PortalServer, generate_portal
    from hubspot_metrics.store import open_store

    started = time.monotonic()
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder; give --dir a folder for the demo (a missing one is created).")
    if out.exists() and not (out / "demo.db").exists() and any(out.iterdir()):
        raise StoreError(f"{out} exists and is not a demo folder; choose another --dir.")
    for name in DEMO_FILES:
        (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    store_path = out / "demo.db"

    click.echo(f"Generating a simulated HubSpot portal with {scale:,} contacts…", err=True)
    portal = generate_portal(scale=scale, seed=seed)
    with PortalServer(portal, token=DEMO_TOKEN, requests_per_10s=190) as server:
        tz = "UTC"
        last_month = named_period("last_month", tz, portal.now)
        months = sorted({f"{y}-{m:02d}" for y in range(last_month.start.year - 2, last_month.start.year + 1)
                         for m in range(1, 13)})
        config = demo_config(server.url, store_path, months)
        click.echo(f"Syncing it from {server.url} into {store_path}…", err=True)
        result, stats = run_sync(config)
    from hubspot_metrics.sync import summarize

    click.echo(summarize(result, stats), err=True)
    from hubspot_metrics.results.export import write_file
    from hubspot_metrics.results.report import build_report

    report_path = out / "report.html"
    db = open_store(store_path, create=False, readonly=True)
    try:
        kpis = compute_kpis(db, last_month, config.metrics)
        write_file(str(report_path), build_report(db, config.metrics, portal.now), "--dir")
    finally:
        db.conn.close()
    click.echo("")
    click.echo(render_table(kpis))
    click.echo("")
    click.echo(f"CAC uses a demo spend of {DEMO_MONTHLY_SPEND:,.0f} a month ([spend] in the config).")
    click.echo(f"Report: {report_path.resolve()}")
    click.echo(f"Store: {store_path} (query it with sqlite3); took {time.monotonic() - started:.1f} s.")
    click.echo(f"Next: hubspot-metrics --db {store_path} kpis --period {last_month.label} --compare")
