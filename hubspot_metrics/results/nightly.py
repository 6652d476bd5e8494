"""`hubspot-metrics nightly`: sync, snapshot, export, report, one summary line (for cron)."""

from __future__ import annotations

from datetime import datetime

from hubspot_metrics.config import Config
from hubspot_metrics.metrics import complete_to, with_store_timezone
from hubspot_metrics.periods import named_period
from hubspot_metrics.results.export import check_output, export_csv, write_file
from hubspot_metrics.results.report import build_report
from hubspot_metrics.results.snapshots import snapshot
from hubspot_metrics.store import open_store


def run_nightly(config: Config, now: datetime | None = None, verbose: bool = False) -> str:
    """Run the whole job; returns the summary line. Failures raise UserError (exit codes).

    `now`, by default the start of the sync just run, is the instant every KPI is measured
    up to: month_to_date and year_to_date end there, and last_month is the one before it."""
    from hubspot_metrics.cli import run_sync

    # Refuse a bad export or report path before the sync, not after it.
    if config.nightly.export_path:
        check_output(config.nightly.export_path, config.store_path, "[nightly] export_path")
    if config.nightly.report_path:
        check_output(config.nightly.report_path, config.store_path, "[nightly] report_path", "report.html")
    result, stats = run_sync(config, progress_lines=verbose)
    db = open_store(config.store_path)
    try:
        now = now or complete_to(db)
        settings = with_store_timezone(db, config.metrics)
        periods = [named_period(name, settings.timezone, now) for name in config.nightly.periods]
        rows = snapshot(db, periods, settings, now, run_id=result.run_id)
        outputs = []
        if config.nightly.export_path:
            write_file(config.nightly.export_path, export_csv(db, settings, now=now), "[nightly] export_path")
            outputs.append(f"exported {config.nightly.export_path}")
        if config.nightly.report_path:
            write_file(config.nightly.report_path, build_report(db, settings, now), "[nightly] report_path")
            outputs.append(f"report {config.nightly.report_path}")
    finally:
        db.conn.close()
    records = sum(r.written for r in result.objects.values())
    keys = rows // len(periods) if periods else 0
    summary = (f"nightly {result.status}: synced {records:,} records in {stats.requests:,} requests "
               f"({stats.retries} retries, {stats.rate_limited} rate-limited); "
               f"snapshotted {len(periods)} periods × {keys} KPIs ({', '.join(p.label for p in periods)})")
    if result.warnings:
        summary += f"; {len(result.warnings)} warnings"
    return summary + ("; " + "; ".join(outputs) if outputs else "")
