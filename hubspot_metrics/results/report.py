"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network).

`gather_history` picks the months the report shows and takes their results from history.py,
the rule the CSV export follows too, so the two always show the same numbers. The rest turns
them into what a reader needs (comparisons, colours, chart geometry) and hands that to the
Jinja2 template `templates/report.html.j2`, which escapes every text it prints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from html import escape
from zoneinfo import ZoneInfo

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import (
    DEFINITION_VERSION, LABELS, complete_to, compute_kpis, definitions, with_store_timezone)
from hubspot_metrics.metrics.catalog import HEADLINE_KPIS, KPI_UNITS
from hubspot_metrics.metrics.render import format_change, format_value
from hubspot_metrics.metrics.explain import Explainer
from hubspot_metrics.periods import closed_periods, measured_up_to, running_period, zone
from hubspot_metrics.results.charts import Chart, Point, Series, axis_unit, line_chart
from hubspot_metrics.results.evidence import CONTRIBUTORS, TO_FIX, behind_the_numbers, to_fix
from hubspot_metrics.results.history import SNAPSHOT, history as kpi_history
from hubspot_metrics.values import parse_instant

# The KPI cards, grouped by the question they answer (the ten KPIs, plus LTV : CAC).
CARD_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Acquisition", ("cac", "conversion_rate", "ltv_to_cac")),
    ("Retention and value", ("customer_retention_rate", "churn_rate", "customer_lifetime_value")),
    ("Sales", ("avg_sales_cycle_days", "pipeline_velocity")),
    ("Service", ("nps", "csat", "avg_first_response_hours")),
)
# Supporting metrics under the same headings; keys a result does not have are skipped, and
# keys named nowhere here land under "Other", so a new metric is never lost.
SUPPORTING_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Acquisition", ("leads", "new_customers", "spend", "lead_to_customer_days")),
    ("Retention and value", ("customers_at_start", "customers_retained", "active_customers", "paying_customers",
                             "revenue_per_customer", "arpa", "monthly_churn_rate")),
    ("Sales", ("revenue", "revenue_per_day", "deals_won", "deals_lost", "win_rate", "avg_deal_size",
               "new_deals", "open_deals_at_start", "median_sales_cycle_days", "deal_throughput",
               "pipeline_speed", "open_deals", "open_pipeline_value")),
    ("Service", ("nps_responses", "csat_responses", "tickets_created", "tickets_unanswered",
                 "median_first_response_hours")),
)
# +1: a rise is good news; -1: a rise is bad news. Keys not named (spend, counts) are neutral.
GOOD_DIRECTION: dict[str, int] = {
    "cac": -1, "conversion_rate": +1, "ltv_to_cac": +1, "customer_retention_rate": +1, "churn_rate": -1,
    "customer_lifetime_value": +1, "avg_sales_cycle_days": -1, "pipeline_velocity": +1, "nps": +1, "csat": +1,
    "avg_first_response_hours": -1, "revenue": +1, "revenue_per_day": +1, "revenue_per_customer": +1, "arpa": +1,
    "monthly_churn_rate": -1, "win_rate": +1, "avg_deal_size": +1, "median_sales_cycle_days": -1,
    "deal_throughput": +1, "pipeline_speed": +1, "open_pipeline_value": +1, "median_first_response_hours": -1,
    "lead_to_customer_days": -1,
}
# Rates and scores move in points: a relative change of a percentage misleads.
POINT_UNITS = ("percent", "score")
# What counts as a big move: the change against the previous value, with a floor for rates
# and scores so that 0.2 % -> 0.5 % does not outrank a real shift.
MOVE_FLOOR = {"percent": 1.0, "score": 10.0}
TREND_MONTHS = 12


@dataclass(frozen=True)
class History:
    closed: list[dict]       # the closed months, oldest first; the last is the report's period
    open: dict | None        # the month still running, measured up to `now` (partial), if any


def gather_history(db, settings: MetricsSettings, now: datetime, months: int = TREND_MONTHS) -> History:
    """`months` closed months and the month `now` falls in, by history.py's rule.

    `settings.timezone` is the zone in use; `now` the instant the store is complete to. The
    running month has no open month to show when `now` is its very first instant."""
    periods = closed_periods("month", months, settings.timezone, now)
    running = running_period("month", settings.timezone, now)
    if running.start < now:
        periods.append(running)
    results = kpi_history(db, periods, settings, now)
    if len(results) > months:
        return History(results[:months], results[months])
    return History(results, None)


def last_sync_end(db) -> datetime | None:
    """When the latest successful sync finished, for the summary. (KPIs are measured up to its
    start, `complete_to`: changes made in HubSpot while it ran may not all have been read.)"""
    row = db.conn.execute("SELECT ended_at FROM sync_runs WHERE status = 'ok' ORDER BY id DESC LIMIT 1").fetchone()
    return parse_instant(row[0]) if row and row[0] else None


# --- comparisons -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    key: str
    label: str
    unit: str
    current: str
    previous: str
    change: str          # "+3.4 pts", "-46.00 EUR"; empty when either value is missing
    relative: str        # "+85.0 %"; empty for rates, scores, and a previous value of 0
    arrow: str           # ▲ ▼ or =, only ever shown beside `change`
    tone: str            # good, bad, neutral (no judgement) or none (nothing to compare)
    n: int
    size: float          # how large the move is, for the summary's top three


def compare_kpi(key: str, now: dict, before: dict | None, currency: str | None) -> Comparison:
    unit = now.get("unit") or KPI_UNITS.get(key, "")
    value = now.get("value")
    previous = before.get("value") if before else None
    current_text = format_value(value, unit, currency, now.get("reason"))
    previous_text = format_value(previous, unit, currency, before.get("reason")) if before else ""
    if value is None or previous is None:
        return Comparison(key, LABELS.get(key, key), unit, current_text, previous_text, "", "", "", "none",
                          now.get("n", 0), 0.0)
    delta = value - previous
    change = format_change({"value": delta, "percent": None}, unit, currency)
    relative = ""
    if unit not in POINT_UNITS and previous > 0:
        relative = f"{100 * delta / previous:+.1f} %"
    direction = GOOD_DIRECTION.get(key, 0)
    if delta == 0:
        arrow, tone = "=", "neutral"
    else:
        arrow = "▲" if delta > 0 else "▼"
        tone = "neutral" if direction == 0 else "good" if (delta > 0) == (direction > 0) else "bad"
    size = abs(delta) / max(abs(previous), MOVE_FLOOR.get(unit, 1e-9))
    return Comparison(key, LABELS.get(key, key), unit, current_text, previous_text, change, relative, arrow, tone,
                      now.get("n", 0), size)


def largest_moves(comparisons: list[Comparison], count: int = 3) -> list[Comparison]:
    moved = [c for c in comparisons if c.tone != "none" and c.size > 0]
    return sorted(moved, key=lambda c: -c.size)[:count]


# --- charts ---------------------------------------------------------------------------------------

def _reason_text(reason: str | None) -> str:
    return (reason or "no value").replace("_", " ")


def _kpi_of(result: dict, key: str) -> dict:
    return result["kpis"].get(key, {})


def trend(history: History, keys: tuple[str, ...], currency: str | None, title: str) -> tuple[Chart | None, str | None]:
    """The chart of `keys` over the history (the first key leads, the others are drawn grey),
    or None and the reason when no month has a value."""
    results = history.closed + ([history.open] if history.open else [])
    unit = (_kpi_of(results[-1], keys[0]).get("unit") or KPI_UNITS.get(keys[0], ""))
    series = [Series(LABELS.get(key, key),
                     [Point(r["period"], _kpi_of(r, key).get("value"), _kpi_of(r, key).get("reason"), r["partial"])
                      for r in results], muted=i > 0)
              for i, key in enumerate(keys)]
    chart = line_chart(series, axis_unit(unit, currency), lambda v: format_value(v, unit, currency),
                       _reason_text, title)
    if chart:
        return chart, None
    # No value in any month: name each reason once, with how many months it explains.
    reasons = Counter(_reason_text(p.reason) for p in series[0].points)
    if len(reasons) == 1:
        return None, next(iter(reasons))
    return None, ", ".join(f"{reason} in {n}" for reason, n in reasons.most_common())


# --- the page -------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _environment():
    import jinja2  # here, not at the top: cron's `sync` and `kpis` never pay for loading it
    from markupsafe import Markup

    def escaped(value):
        # The entities of html.escape (&quot; &#x27;), as the report has always written them;
        # autoescape would write &#34; &#39;. Markup (a macro's output) is already escaped.
        return value if isinstance(value, Markup) else Markup(escape(str(value)))

    # Autoescape on for every template: HubSpot's texts (currency, property names, warnings)
    # reach the page only through the template, so none of them can become markup.
    return jinja2.Environment(loader=jinja2.PackageLoader("hubspot_metrics.results", "templates"),
                              autoescape=True, finalize=escaped, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def _moment(iso_or_datetime, tz: ZoneInfo) -> str:
    moment = iso_or_datetime if isinstance(iso_or_datetime, datetime) else datetime.fromisoformat(iso_or_datetime)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def build_report(db, settings: MetricsSettings, now: datetime | None = None) -> str:
    """`now`: the instant the store is complete to (by default the start of its last completed sync)."""
    settings = with_store_timezone(db, settings)
    now = now or complete_to(db)
    history = gather_history(db, settings, now)
    current, previous = history.closed[-1], history.closed[-2] if len(history.closed) > 1 else None
    portal_id, portal_zone = db.conn.execute("SELECT [portalId], [timeZone] FROM account").fetchone() or (None, None)
    currency = current["currency"]
    tz = zone(settings.timezone)

    def compared(key: str, result: dict | None = None) -> Comparison:
        before = _kpi_of(previous, key) if previous else None
        return compare_kpi(key, _kpi_of(result or current, key), before, currency)

    card_keys = [k for _, keys in CARD_GROUPS for k in keys]
    card_groups = []
    for name, keys in CARD_GROUPS:
        cards = []
        for key in keys:
            if key not in current["kpis"]:
                continue
            shown = (key, "revenue_per_day") if key == "pipeline_velocity" else (key,)
            extra = compared("revenue_per_day") if key == "pipeline_velocity" else None
            open_kpi = history.open["kpis"].get(key) if history.open else None
            chart, empty = trend(history, shown, currency, f"{LABELS.get(key, key)} by month")
            cards.append({"kpi": compared(key), "beside": extra, "chart": chart, "empty": empty,
                          "so_far": format_value(open_kpi["value"], open_kpi["unit"], currency, open_kpi["reason"])
                          if open_kpi else None,
                          "definition": definitions.get(key, "")})
        card_groups.append({"name": name, "cards": cards})

    listed = {k for _, keys in SUPPORTING_GROUPS for k in keys}
    supporting = [{"name": name, "rows": [compared(k) for k in keys if k in current["kpis"]]}
                  for name, keys in SUPPORTING_GROUPS]
    others = [k for k in current["kpis"] if k not in listed and k not in card_keys]
    if others:
        supporting.append({"name": "Other", "rows": [compared(k) for k in others]})

    # Data quality is about the store as it is now, whatever the month's values came from.
    warnings = current["warnings"] if "warnings" in current else compute_kpis(
        db, closed_periods("month", 1, settings.timezone, now)[0], settings, now=now)["warnings"]
    synced = last_sync_end(db)
    open_result = history.open
    # The evidence of the report's month, from the function behind `explain`
    explainer = Explainer(db, measured_up_to(closed_periods("month", 1, settings.timezone, now)[0], now), settings)
    behind = behind_the_numbers(explainer, currency, tz)
    # Ties in one order, so that the page is the same on every store.
    issues = db.conn.execute("SELECT object_type, property, count(*) FROM value_issues "
                             "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 20").fetchall()
    page = {
        "period": current["period"],
        "previous_period": previous["period"] if previous else None,
        "period_span": f"{_moment(current['start'], tz)} to {_moment(current['end'], tz)}",
        "open": {"period": open_result["period"], "as_of": _moment(open_result["as_of"], tz)} if open_result else None,
        "portal": portal_id,
        "portal_zone": portal_zone,
        "zone": settings.timezone,
        "currency": currency,
        "last_sync": _moment(synced, tz) if synced else None,
        "from_snapshots": sum(r["source"] == SNAPSHOT for r in history.closed),
        "generated": _moment(now, tz),
        "definitions_version": DEFINITION_VERSION,
        "moves": largest_moves([compared(k) for k in HEADLINE_KPIS if k in current["kpis"]]),
        "card_groups": card_groups,
        "supporting": [g for g in supporting if g["rows"]],
        "warnings": warnings,
        "issues": issues,
        "behind": behind,
        "behind_keys": [b.key for b in behind],
        "fix": to_fix(explainer, db, tz),
        "contributors": CONTRIBUTORS,
        "to_fix": TO_FIX,
        "definitions": [(LABELS.get(k, k), k, definitions.get(k, "")) for k in current["kpis"]],
        "months": len(history.closed),
    }
    return _environment().get_template("report.html.j2").render(page)
