"""The application layer: each use case of the product as one function.

A use case takes the settings (a `Config` and its own options), does the work through the
layers below and returns a result object. None of them prints: the CLI renders the results,
and tests, `bench/` and the demo call the same functions, so "lock, open, build the client,
run, close" is written once, here. A problem the user can fix is raised as a `UserError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from hubspot_metrics.client import HubSpotClient, RunStats
from hubspot_metrics.config import DEFAULT_SCHEMA, Config, HubSpotSettings, MetricsSettings
from hubspot_metrics.errors import ConfigError, StoreError
from hubspot_metrics.files import check_output, write_file
from hubspot_metrics.metrics import complete_to, compute_kpis, with_store_timezone
from hubspot_metrics.metrics.render import compare
from hubspot_metrics.metrics.sql import StoreView
from hubspot_metrics.periods import (
    NAMED_PERIODS, PERIOD_HELP, Period, named_period, parse_period, period_from_range, previous_period)
from hubspot_metrics.results.export import export_csv, export_history
from hubspot_metrics.results.report import build_report
from hubspot_metrics.results.snapshots import snapshot
from hubspot_metrics.status import render_status, run_check
from hubspot_metrics.store import describe, is_postgres_url, open_store, prepare_demo_store
from hubspot_metrics.sync import Sync, SyncLock, SyncResult, summarize


# --- sync ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncOutcome:
    """What one sync did, object by object, and what it cost in requests and retries."""

    result: SyncResult
    stats: RunStats

    @property
    def warnings(self) -> list[str]:
        return self.result.warnings

    @property
    def summary(self) -> str:
        """The closing lines a person reads: records per object, requests, retries."""
        return summarize(self.result, self.stats)


def sync(config: Config, *, full: bool = False, only: list[str] | None = None, progress=None,
         client: HubSpotClient | None = None) -> SyncOutcome:
    """Lock the store, sync it from HubSpot, close it. `progress` receives start/advance/finish
    (silent when None); `client` lets tests and the bench count requests or skip the waits."""
    with SyncLock(config.store_path, config.store_schema):
        with open_store(config.store_path, schema=config.store_schema) as db:
            client = client or HubSpotClient(config.hubspot)
            result = Sync(config, db, client, full=full, only=only, progress=progress).run()
    return SyncOutcome(result, client.stats)


# --- reading the store -----------------------------------------------------------------------

def open_synced_store(config: Config):
    """The store, read-only; one sentence when it is missing or was never synced."""
    db = open_store(config.store_path, schema=config.store_schema, create=False, readonly=True)
    if not StoreView.open(db).was_synced():
        db.conn.close()
        raise StoreError(f"The store {describe(config.store_path)} has never been synced; run `hubspot-metrics sync` first.")
    return db


def resolve_period(period: str | None, since: str | None, until: str | None, tz: str, now) -> Period:
    """--period P, or --since D --until D (one or the other, and both of the pair); named
    periods (last_month, ...) are relative to `now`, the instant the store is complete to."""
    if period and (since or until):
        raise ConfigError(f"Give either --period or --since/--until, not both; {PERIOD_HELP}.")
    if period:
        if period.strip() in NAMED_PERIODS:
            return named_period(period.strip(), tz, now)
        return parse_period(period, tz)
    if since and until:
        return period_from_range(since, until, tz)
    if since or until:
        raise ConfigError("--since and --until go together (until is exclusive), e.g. --since 2026-01-15 --until 2026-02-15.")
    raise ConfigError(f"Say which period to compute: {PERIOD_HELP}.")


def _period_before(period: Period) -> Period:
    try:
        return previous_period(period)
    except (OverflowError, ValueError):  # e.g. --since 1900-01-01 --until 9998-12-31
        raise ConfigError("--compare needs an equally long period before this one, which would start before "
                          "the year 1; compare a shorter range.") from None


def kpis(config: Config, *, period: str | None = None, since: str | None = None, until: str | None = None,
         by: str | None = None, with_compare: bool = False) -> dict[str, Any]:
    """The KPIs of one period from the store (never calls HubSpot), optionally with the period before."""
    # The period's syntax first, so a mistyped period is named even where there is no store.
    resolve_period(period, since, until, "UTC", None)
    with open_synced_store(config) as db:
        settings = with_store_timezone(db, config.metrics)
        now = complete_to(db)
        chosen = resolve_period(period, since, until, settings.timezone, now)
        previous = _period_before(chosen) if with_compare else None  # (before the work, to fail fast)
        result = compute_kpis(db, chosen, settings, by=by, now=now)
        if previous is not None:
            result = compare(result, compute_kpis(db, previous, settings, now=now))
    return result


@dataclass(frozen=True)
class ExportOutcome:
    path: str
    periods: int
    from_snapshots: int


def export(config: Config, out: str, *, grain: str = "month", periods: int = 12, wide: bool = False) -> ExportOutcome:
    """KPI history as CSV at `out`: each closed period from its latest snapshot, else computed."""
    check_output(out, config.store_path)
    with open_synced_store(config) as db:
        text, from_snapshots = export_history(db, config.metrics, grain=grain, periods=periods, wide=wide)
        write_file(out, text)
    return ExportOutcome(out, periods, from_snapshots)


def report(config: Config, out: str) -> str:
    """The self-contained HTML report at `out`; returns the path written."""
    check_output(out, config.store_path, example="report.html")
    with open_synced_store(config) as db:
        write_file(out, build_report(db, config.metrics))
    return out


def status(config: Config, *, live: bool | None = None) -> str:
    """What the store holds and how fresh it is, as the text the user reads."""
    return render_status(config, live=live)


@dataclass(frozen=True)
class CheckOutcome:
    report: str
    ok: bool  # the token can read everything the KPIs need


def check(config: Config) -> CheckOutcome:
    return CheckOutcome(*run_check(config))


# --- nightly ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class NightlyOutcome:
    sync: SyncOutcome
    periods: list[Period]
    snapshot_rows: int
    outputs: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line for cron's mail."""
        result, stats = self.sync.result, self.sync.stats
        records = sum(r.written for r in result.objects.values())
        keys = self.snapshot_rows // len(self.periods) if self.periods else 0
        line = (f"nightly {result.status}: synced {records:,} records in {stats.requests:,} requests "
                f"({stats.retries} retries, {stats.rate_limited} rate-limited); "
                f"snapshotted {len(self.periods)} periods × {keys} KPIs ({', '.join(p.label for p in self.periods)})")
        if result.warnings:
            line += f"; {len(result.warnings)} warnings"
        return line + ("; " + "; ".join(self.outputs) if self.outputs else "")


def nightly(config: Config, *, now: datetime | None = None, progress=None, client: HubSpotClient | None = None,
            on_synced: Callable[[SyncOutcome], None] = lambda outcome: None) -> NightlyOutcome:
    """Sync, snapshot the KPIs of [nightly] periods, export and report.

    `now`, by default the start of the sync just run, is the instant every KPI is measured
    up to: month_to_date and year_to_date end there, and last_month is the one before it.
    `on_synced` hears the sync's outcome as soon as it is known, so its warnings reach the
    user even when a later step (snapshot, export, report) fails."""
    # Refuse a bad export or report path before the sync, not after it.
    if config.nightly.export_path:
        check_output(config.nightly.export_path, config.store_path, "[nightly] export_path")
    if config.nightly.report_path:
        check_output(config.nightly.report_path, config.store_path, "[nightly] report_path", "report.html")
    synced = sync(config, progress=progress, client=client)
    on_synced(synced)
    with open_store(config.store_path, schema=config.store_schema) as db:
        now = now or complete_to(db)
        settings = with_store_timezone(db, config.metrics)
        periods = [named_period(name, settings.timezone, now) for name in config.nightly.periods]
        rows = snapshot(db, periods, settings, now, run_id=synced.result.run_id)
        outputs = []
        if config.nightly.export_path:
            write_file(config.nightly.export_path, export_csv(db, settings, now=now), "[nightly] export_path")
            outputs.append(f"exported {config.nightly.export_path}")
        if config.nightly.report_path:
            write_file(config.nightly.report_path, build_report(db, settings, now), "[nightly] report_path")
            outputs.append(f"report {config.nightly.report_path}")
    return NightlyOutcome(synced, periods, rows, outputs)


# --- demo ------------------------------------------------------------------------------------

# Sales + marketing spend per month for CAC: spend is not CRM data, so the demo supplies some.
DEMO_MONTHLY_SPEND = 25_000.0
# What a run leaves in its folder: the store with its WAL, shared memory and sync lock, and the
# report. Only these are deleted on the next run; anything else in the folder is the user's.
DEMO_FILES = ("demo.db", "demo.db-wal", "demo.db-shm", "demo.db.lock", "report.html")


def demo_config(url: str, store_path: Path | str, months: list[str], token: str,
                schema: str = DEFAULT_SCHEMA) -> Config:
    return Config(
        hubspot=HubSpotSettings(base_url=url, access_token=token, requests_per_10s=190),
        store_path=str(store_path),
        store_schema=schema,
        metrics=MetricsSettings(spend={m: DEMO_MONTHLY_SPEND for m in months}),
    )


@dataclass(frozen=True)
class DemoOutcome:
    sync: SyncOutcome
    kpis: dict[str, Any]
    last_month: Period
    store_path: Path | str  # the SQLite file, or the PostgreSQL URL (password masked)
    report_path: Path
    seconds: float
    schema: str | None = None  # the PostgreSQL schema of the store


def demo(folder: str, *, scale: int = 5000, seed: int = 1, progress=None, db: str | None = None,
         schema: str = DEFAULT_SCHEMA, step: Callable[[str], None] = lambda text: None,
         on_synced: Callable[[SyncOutcome], None] = lambda outcome: None) -> DemoOutcome:
    """The whole product on a simulated portal, offline and with no token: generate a portal,
    serve it on 127.0.0.1, sync it into a fresh store in `folder` exactly as a real sync would,
    compute last month's KPIs and write the report. `step` hears what is about to happen,
    `on_synced` the sync's outcome as soon as it is known. `db`, a PostgreSQL URL, puts the
    store in its `schema` instead (emptied first if an earlier demo made it, else refused
    unless empty); the report still goes to `folder`.

    The user's own HUBSPOT_* settings and store are never used."""
    # The demo is the one use case that serves the simulated portal; nothing else here needs it.
    from hubspot_metrics.portal import SANDBOX_TOKEN, PortalServer, generate_portal

    started = time.monotonic()
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder; give --dir a folder for the demo (a missing one is created).")
    on_postgres = is_postgres_url(db)
    if db is not None and not on_postgres:
        raise ConfigError(f"demo --db takes a postgresql:// URL, not {db!r}; leave it out for a SQLite store in --dir.")
    # (a PostgreSQL demo leaves only its report in the folder)
    if out.exists() and not (out / ("report.html" if on_postgres else "demo.db")).exists() and any(out.iterdir()):
        raise StoreError(f"{out} exists and is not a demo folder; choose another --dir.")
    if on_postgres:
        prepare_demo_store(db, schema)
    for name in DEMO_FILES:
        (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    store_path = db if on_postgres else out / "demo.db"

    step(f"Generating a simulated HubSpot portal with {scale:,} contacts…")
    portal = generate_portal(scale=scale, seed=seed)
    with PortalServer(portal, token=SANDBOX_TOKEN, requests_per_10s=190) as server:
        last_month = named_period("last_month", "UTC", portal.now)
        months = sorted({f"{y}-{m:02d}" for y in range(last_month.start.year - 2, last_month.start.year + 1)
                         for m in range(1, 13)})
        config = demo_config(server.url, store_path, months, SANDBOX_TOKEN, schema)
        step(f"Syncing it from {server.url} into {describe(store_path)}"
             + (f", schema {schema}…" if on_postgres else "…"))
        synced = sync(config, progress=progress)
    on_synced(synced)

    report_path = out / "report.html"
    with open_store(store_path, schema=schema, create=False, readonly=True) as store:
        result = compute_kpis(store, last_month, config.metrics)
        write_file(str(report_path), build_report(store, config.metrics, portal.now), "--dir")
    return DemoOutcome(synced, result, last_month, describe(store_path) if on_postgres else store_path, report_path,
                       time.monotonic() - started, schema if on_postgres else None)
