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
from hubspot_metrics.demo_portal import portal_process
from hubspot_metrics.errors import ConfigError, StoreError
from hubspot_metrics.files import check_output, write_file
from hubspot_metrics.metrics import KPI_KEYS, complete_to, compute_kpis, with_store_timezone
from hubspot_metrics.metrics.catalog import kpis_reading
from hubspot_metrics.metrics.explain import check_key, check_segment, explain_kpi
from hubspot_metrics.metrics.render import compare, only_keys
from hubspot_metrics.metrics.sql import StoreView
from hubspot_metrics.periods import (
    NAMED_PERIODS, PERIOD_HELP, Period, compared_period, measured_up_to, named_period, parse_period,
    period_from_range)
from hubspot_metrics.results.export import HistoryRows, export_csv, history_csv, history_rows
from hubspot_metrics.results.report import build_report
from hubspot_metrics.results.snapshots import snapshot
from hubspot_metrics.status import render_status, run_check
from hubspot_metrics.store import describe, is_postgres_url, open_store, prepare_demo_store
from hubspot_metrics.sync import Sync, SyncLock, SyncResult, summarize
from hubspot_metrics.tables import StoredTable, read_table


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
            metrics = config.metrics
            result = Sync(config, db, client, full=full, only=only, progress=progress,
                          kpis_reading=lambda name: kpis_reading(name, metrics.customer_object, metrics.churn.mode)
                          ).run()
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
        return compared_period(period)
    except (OverflowError, ValueError):  # e.g. --since 1900-01-01 --until 9998-12-31
        raise ConfigError("--compare needs an equally long period before this one, which would start before "
                          "the year 1; compare a shorter range.") from None


def parse_keys(text: str) -> list[str]:
    """`--keys a,b,c` as a list of catalogue keys; one sentence for an empty list or an unknown key."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise ConfigError("--keys needs at least one KPI key, e.g. --keys revenue,win_rate.")
    return keys


def _check_keys(keys: list[str]) -> None:
    unknown = [k for k in keys if k not in KPI_KEYS]
    if unknown:
        raise ConfigError(f"{unknown[0]!r} is not a KPI key; use any of {', '.join(KPI_KEYS)}.")


def kpis(config: Config, *, period: str | None = None, since: str | None = None, until: str | None = None,
         by: str | None = None, keys: list[str] | None = None, with_compare: bool = False) -> dict[str, Any]:
    """The KPIs of one period from the store (never calls HubSpot), optionally with the period
    before, broken down `by` a dimension, and narrowed to `keys` (all of them by default)."""
    # The period's syntax and the keys first, so a typo is named even where there is no store.
    resolve_period(period, since, until, "UTC", None)
    if keys is not None:
        _check_keys(keys)
    with open_synced_store(config) as db:
        settings = with_store_timezone(db, config.metrics)
        now = complete_to(db)
        chosen = resolve_period(period, since, until, settings.timezone, now)
        # (before the work, to fail fast; an open period compares with the same stretch before it)
        previous = _period_before(measured_up_to(chosen, now)) if with_compare else None
        result = compute_kpis(db, chosen, settings, by=by, now=now)
        if previous is not None:
            result = compare(result, compute_kpis(db, previous, settings, now=previous.until))
    return result if keys is None else only_keys(result, keys)


@dataclass(frozen=True)
class ExplainOutcome:
    """The records behind one KPI of one period: `rows` (dicts keyed by `columns`, in the order
    the CLI prints them; instants as ISO text, numbers as int or float) number `kpi["n"]`."""

    key: str
    kpi: dict[str, Any]   # the entry `kpis` gives for the key: value, n, reason, unit
    period: str
    start: str
    end: str
    as_of: str
    partial: bool
    timezone: str
    currency: str | None
    columns: list[str]
    rows: list[dict[str, Any]]
    by: str | None = None
    segment: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON object `explain --format json` prints."""
        return {"key": self.key, "period": self.period, "start": self.start, "end": self.end, "as_of": self.as_of,
                "partial": self.partial, "timezone": self.timezone, "currency": self.currency, "by": self.by,
                "segment": self.segment, "kpi": self.kpi, "columns": self.columns, "rows": self.rows}


def explain(config: Config, key: str, *, period: str | None = None, since: str | None = None,
            until: str | None = None, by: str | None = None, segment: str | None = None,
            include_all: bool = False) -> ExplainOutcome:
    """The records `key`'s n counts in one period (optionally of one owner, pipeline or source),
    each with its part in the formula; `include_all` adds those the rule left out, with why."""
    check_key(key)  # the key, the segment and the period's syntax first: they need no store
    check_segment(by, segment)
    resolve_period(period, since, until, "UTC", None)
    with open_synced_store(config) as db:
        settings = with_store_timezone(db, config.metrics)
        now = complete_to(db)
        chosen = resolve_period(period, since, until, settings.timezone, now)
        found = explain_kpi(db, chosen, settings, key, now=now, include_all=include_all, by=by, segment=segment)
    r = found.result
    return ExplainOutcome(key, found.kpi, r["period"], r["start"], r["end"], r["as_of"], r["partial"], r["timezone"],
                          r["currency"], found.columns, found.rows, by, segment)


@dataclass(frozen=True)
class ExportOutcome:
    path: str
    periods: int
    from_snapshots: int


def history(config: Config, *, grain: str = "month", periods: int = 12, wide: bool = False) -> HistoryRows:
    """KPI history, the rows `export` writes: each closed period from its latest snapshot, else computed."""
    with open_synced_store(config) as db:
        return history_rows(db, config.metrics, grain=grain, periods=periods, wide=wide)


def export(config: Config, out: str, *, grain: str = "month", periods: int = 12, wide: bool = False) -> ExportOutcome:
    """KPI history (`history`) as CSV at `out`."""
    check_output(out, config.store_path)
    rows = history(config, grain=grain, periods=periods, wide=wide)
    write_file(out, history_csv(rows))
    return ExportOutcome(out, periods, rows.from_snapshots)


def table(config: Config, name: str) -> StoredTable:
    """A synced table's rows and the kind of each column (tables.py), read-only."""
    with open_synced_store(config) as db:
        return read_table(db.conn, name)


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

    The portal is served by a child process (demo_portal.py), started first so that it loads
    while this one checks the folder. The user's own HUBSPOT_* settings and store are never used."""
    started = time.monotonic()
    with portal_process() as child:
        out = Path(folder)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{out} is a file, not a folder; give --dir a folder for the demo "
                              "(a missing one is created).")
        on_postgres = is_postgres_url(db)
        if db is not None and not on_postgres:
            raise ConfigError(f"demo --db takes a postgresql:// URL, not {db!r}; "
                              "leave it out for a SQLite store in --dir.")
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
        portal = child.serve(scale=scale, seed=seed, requests_per_10s=190)
        # Spend for every month of three calendar years, whichever zone "last month" is read in.
        months = [f"{y}-{m:02d}" for y in range(portal.now.year - 2, portal.now.year + 1) for m in range(1, 13)]
        config = demo_config(portal.url, store_path, months, portal.token, schema)
        step(f"Syncing it from {portal.url} into {describe(store_path)}"
             + (f", schema {schema}…" if on_postgres else "…"))
        client = HubSpotClient(config.hubspot)
        child.when_it_ends(client.cancel)
        try:
            synced = sync(config, progress=progress, client=client)
        except Exception:
            child.check_alive("during the sync")
            raise
    on_synced(synced)

    report_path = out / "report.html"
    with open_store(store_path, schema=schema, create=False, readonly=True) as store:
        # Last month in the portal's own zone, as the report and `kpis` read it (spec v2, §0).
        settings = with_store_timezone(store, config.metrics)
        last_month = named_period("last_month", settings.timezone, portal.now)
        result = compute_kpis(store, last_month, settings)
        write_file(str(report_path), build_report(store, config.metrics, portal.now), "--dir")
    return DemoOutcome(synced, result, last_month, describe(store_path) if on_postgres else store_path, report_path,
                       time.monotonic() - started, schema if on_postgres else None)
