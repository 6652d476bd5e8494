"""`status` (what the store holds and how fresh it is) and `check` (what the token may read)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from hubspot_metrics.bookkeeping import RunLog, read_state
from hubspot_metrics.client import HubSpotClient
from hubspot_metrics.config import Config
from hubspot_metrics.errors import HubSpotError, MissingScopeError
from hubspot_metrics.objects import OBJECTS, OWNERS_SCOPE
from hubspot_metrics.metrics.catalog import kpi_inputs, kpis_blocked_by, kpis_missing_properties
from hubspot_metrics.metrics.compute import timezone_in_use
from hubspot_metrics.metrics.sql import StoreView
from hubspot_metrics.store import describe, open_store, stored_portal_id, sync_running


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"


def _age(ms: int | None) -> str:
    if not ms:
        return "never"
    seconds = datetime.now(timezone.utc).timestamp() - ms / 1000
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def portal_totals(config: Config) -> dict[str, int | str]:
    client = HubSpotClient(config.hubspot)
    totals: dict[str, int | str] = {}
    for name in config.sync.objects:
        try:
            total = client.search(name, {"filterGroups": [], "limit": 1})
            total = total.get("total") if isinstance(total, dict) else None
            totals[name] = total if isinstance(total, int) else "?"
        except MissingScopeError:
            totals[name] = "no scope"
    return totals


def render_status(config: Config, live: bool | None = None) -> str:
    # Only reads: a store this user may not write (an analyst's copy) is opened read-only.
    writable = os.access(config.store_path, os.W_OK) or not os.path.exists(config.store_path)
    with open_store(config.store_path, schema=config.store_schema, create=False, readonly=not writable) as db:
        conn = db.conn
        portal = stored_portal_id(conn)
        lines = [f"Store: {describe(config.store_path)}" + (f" (HubSpot portal {portal})" if portal else ""), "",
                 "Last runs:"]
        runs = RunLog(conn).recent(5)
        if not runs:
            lines.append("  none yet: run `hubspot-metrics sync`")
        running = sync_running(config.store_path, config.store_schema)
        for run in runs:
            # A 'running' run without the lock was killed; the next sync records it so.
            status = "interrupted" if run.status == "running" and not running else run.status
            lines.append(f"  #{run.id} {run.started_at} → {run.ended_at or '…'} {status}: "
                         f"{_count(run.requests, 'request', 'requests')}, {run.rate_limited} × 429, "
                         f"{_count(run.retries, 'retry', 'retries')}, {_count(run.errors, 'error', 'errors')}"
                         + (f" ({run.message})" if run.message else ""))
        totals: dict[str, int | str] = {}
        if live is None:
            live = bool(config.hubspot.access_token or config.hubspot.refresh_token)
        if live:
            try:
                totals = portal_totals(config)
            except HubSpotError as exc:
                lines += ["", f"Could not ask HubSpot for totals: {exc}"]
        lines += ["", f"{'object':<22}{'live':>10}{'archived':>10}{'merged':>8}{'in HubSpot':>12}  cursor age  mode"]
        for name in OBJECTS:
            live_n, archived_n, merged_n = conn.execute(
                f"SELECT count(*) FILTER (WHERE NOT archived AND merged_into IS NULL), count(*) FILTER (WHERE archived), "
                f"count(*) FILTER (WHERE merged_into IS NOT NULL) FROM [{name}]").fetchone()
            state = read_state(conn, name)
            # Live totals when HubSpot answers; else the count HubSpot gave when the last full sync began.
            total = totals.get(name, f"~{state.portal_total}" if state and state.portal_total is not None else "?")
            flag = "  ⚠ incomplete" if isinstance(total, int) and total != live_n else ""
            lines.append(f"{name:<22}{live_n:>10}{archived_n:>10}{merged_n:>8}{str(total):>12}  "
                         f"{_age(state.cursor_ms) if state else 'never':>10}  {state.mode if state else '-'}{flag}")
        owners = conn.execute("SELECT count(*), count(*) FILTER (WHERE archived) FROM owners").fetchone()
        lines.append(f"{'owners':<22}{owners[0] - owners[1]:>10}{owners[1]:>10}")
        lines += ["", "cursor age: how long ago (by this computer's clock) the newest change the store has read for "
                      "that object was made in HubSpot; the next sync reads the changes made since."]
        zone, source = timezone_in_use(db, config.metrics)
        lines += ["", f"KPI time zone: {zone} ({source})"]
        warnings = []
        if runs:
            warnings += runs[0].warnings
        for obj, prop, n in conn.execute("SELECT object_type, property, count(*) FROM value_issues "
                                         "GROUP BY object_type, property ORDER BY 3 DESC LIMIT 10"):
            records = _count(n, OBJECTS[obj].singular, obj) + (" has" if n == 1 else " have")
            warnings.append(f"{records} an unparsable {prop} (kept raw; see the value_issues table)")
        warnings += _unsynced_inputs(db, config)
        if runs and runs[0].unfinished:
            warnings.append("the last sync did not finish; the next `hubspot-metrics sync` resumes it")
        if warnings:
            lines += ["", "Warnings:"] + [f"  - {w}" for w in warnings]
    return "\n".join(lines)


def _missing_input(obj: str, prop: str, kpis: list[str], config: Config, where: str) -> str:
    hint = " ([metrics.churn] property)" if prop == config.metrics.churn.property else ""
    return f"{obj} property {prop}{hint} is {where}; {', '.join(kpis)} cannot be computed without it"


def _unsynced_inputs(db, config: Config) -> list[str]:
    """The KPI inputs (metrics catalogue) of the synced objects that have no column in the store."""
    view = StoreView.open(db)
    metrics = config.metrics
    defined = {name: {p for p in OBJECTS[name].properties if view.column(name, p)} | (
                   {metrics.churn.property} if view.column(name, metrics.churn.property) else set())
               for name in OBJECTS if read_state(db.conn, name) is not None and view.has(name)}
    missing = kpis_missing_properties(defined, metrics.customer_object, metrics.churn.mode, metrics.churn.property)
    return [_missing_input(obj, prop, kpis, config, "not in the store (run `hubspot-metrics sync`)")
            for (obj, prop), kpis in missing.items()]


def _undefined_inputs(client: HubSpotClient, readable: list[str], config: Config) -> list[str]:
    """The KPI inputs (metrics catalogue) that the portal does not define, among the readable objects."""
    metrics = config.metrics
    read = {name for inputs in kpi_inputs(metrics.customer_object, metrics.churn.mode).values()
            for name in inputs.objects}
    defined = {}
    for name in readable:
        if name in read:
            try:
                answer = client.properties(name)
            except MissingScopeError:  # (the properties need the schema scope too; the sync says so)
                continue
            defined[name] = {p.get("name") for p in answer.get("results", []) if isinstance(p, dict)}
    missing = kpis_missing_properties(defined, metrics.customer_object, metrics.churn.mode, metrics.churn.property)
    return [_missing_input(obj, prop, kpis, config, "not defined in the portal")
            for (obj, prop), kpis in missing.items()]


def run_check(config: Config) -> tuple[str, bool]:
    client = HubSpotClient(config.hubspot)
    lines = [f"HubSpot at {config.hubspot.base_url}:"]
    try:
        account = client.account_details()
        lines.append(f"  token accepted: portal {account.get('portalId')}, time zone {account.get('timeZone')}, "
                     f"home currency {account.get('companyCurrency')}")
        portal_zone = account.get("timeZone")
    except MissingScopeError:
        lines.append("  token accepted (account details not readable)")
        portal_zone = None
    missing: dict[str, str] = {}
    for name in config.sync.objects:
        try:
            client.list_page(name, ["hs_object_id"], limit=1)
            lines.append(f"  {name:<22} readable")
        except MissingScopeError as exc:
            scope = ", ".join(exc.scopes) or OBJECTS[name].scope
            missing[name] = scope
            lines.append(f"  {name:<22} NOT readable: needs {scope}")
    try:
        client.owners_page()
        lines.append(f"  {'owners':<22} readable")
    except MissingScopeError:
        lines.append(f"  {'owners':<22} NOT readable: needs {OWNERS_SCOPE} (only --by owner needs it)")
    if config.metrics.timezone:
        zone, source = config.metrics.timezone, "[metrics] timezone"
    elif portal_zone:
        zone, source = portal_zone, "the portal's"
    else:
        zone, source = "UTC", "the account details are not readable"
    blocked = sorted(kpis_blocked_by(set(missing), config.metrics.customer_object, config.metrics.churn.mode))
    lines += ["", f"KPI time zone: {zone} ({source})"]
    undefined = _undefined_inputs(client, [n for n in config.sync.objects if n not in missing], config)
    lines.append("")
    lines += [f"Warning: {text}." for text in undefined]
    if blocked:
        lines.append("KPIs that cannot be computed: " + ", ".join(blocked))
    else:
        lines.append("Every KPI can be computed with this token.")
    return "\n".join(lines), not blocked
