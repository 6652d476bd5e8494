"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network).

It shows the last closed month against the one before with arrows, a 12-month trend chart
per KPI, the definitions (from the metrics catalogue, as docs/metrics.md quotes them), and the
data-quality warnings. Its months follow the same history rule as the CSV export (history.py),
so the two always show the same numbers. Every text from HubSpot or the configuration is escaped.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import DEFINITION_VERSION, LABELS, complete_to, compute_kpis, definitions, with_store_timezone
from hubspot_metrics.metrics.catalog import HEADLINE_KPIS
from hubspot_metrics.metrics.render import format_value
from hubspot_metrics.periods import closed_periods, format_moment
from hubspot_metrics.results.history import SNAPSHOT, history

TREND_KPIS = HEADLINE_KPIS + ("revenue", "new_customers", "win_rate", "leads")
# A rising churn rate, response time or sales cycle is bad news: their arrows turn red going up.
LOWER_IS_BETTER = {"churn_rate", "avg_first_response_hours", "avg_sales_cycle_days", "cac",
                   "median_first_response_hours", "median_sales_cycle_days", "tickets_unanswered", "deals_lost"}

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;color:#1d2430;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #dde3ea;padding-bottom:.3rem}
.sub{color:#5b6573}table{border-collapse:collapse;width:100%}th,td{padding:.35rem .6rem;text-align:left;border-bottom:1px solid #eef1f4}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.up{color:#12805c}.down{color:#c2362f}.flat{color:#5b6573}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:1rem}
.card{border:1px solid #e3e8ee;border-radius:8px;padding:.6rem .8rem}.card h3{font-size:.95rem;margin:.1rem 0 .3rem}
.card .last{font-size:1.1rem;font-weight:600}.card .sub{font-size:.8rem}svg{display:block}dl dt{font-weight:600;margin-top:.6rem}dl dd{margin-left:0;color:#3a4350}
.warn li{margin:.2rem 0}.ok{color:#12805c}
"""


def _arrow(key: str, current: float | None, previous: float | None) -> tuple[str, str]:
    if current is None or previous is None:
        return "", "flat"
    if current == previous:
        return "→", "flat"
    rising = current > previous
    good = rising != (key in LOWER_IS_BETTER)
    return ("▲" if rising else "▼"), ("up" if good else "down")


def _chart(points: list[tuple[str, float | None]]) -> str:
    """A small SVG line chart; months without a value leave a gap."""
    width, height, pad = 240, 70, 6
    values = [v for _, v in points if v is not None]
    if not values:
        return '<p class="sub">no values in these months</p>'
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(1, len(points) - 1)
    segments, current = [], []
    for i, (_, v) in enumerate(points):
        if v is None:
            if current:
                segments.append(current)
            current = []
            continue
        x = pad + i * step
        y = height - pad - (v - low) / span * (height - 2 * pad)
        current.append(f"{x:.1f},{y:.1f}")
    if current:
        segments.append(current)
    lines = "".join(f'<polyline fill="none" stroke="#2f6fdb" stroke-width="2" points="{" ".join(s)}"/>'
                    for s in segments)
    dots = "".join(f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.2" fill="#2f6fdb"/>'
                   for s in segments for p in s)
    first, last = escape(points[0][0]), escape(points[-1][0])
    return (f'<svg viewBox="0 0 {width} {height + 14}" width="100%" role="img">{lines}{dots}'
            f'<text x="{pad}" y="{height + 12}" font-size="9" fill="#5b6573">{first}</text>'
            f'<text x="{width - pad}" y="{height + 12}" font-size="9" fill="#5b6573" text-anchor="end">{last}</text>'
            f'</svg>')


def build_report(db, settings: MetricsSettings, now: datetime | None = None, months: int = 12) -> str:
    """`now`: the instant the store is complete to (by default the start of its last completed sync)."""
    settings = with_store_timezone(db, settings)
    now = now or complete_to(db)
    periods = closed_periods("month", months + 1, settings.timezone, now)
    results = history(db, periods, settings, now)
    from_snapshots = sum(r["source"] == SNAPSHOT for r in results)
    account = db.conn.execute("SELECT portalId, companyCurrency FROM account").fetchone() or (None, None)
    currency = account[1]
    current, previous = results[-1], results[-2]
    trend = results[1:]

    rows = []
    for key in current["kpis"]:
        cur, prev = current["kpis"][key], previous["kpis"][key]
        arrow, css = _arrow(key, cur["value"], prev["value"])
        rows.append(f'<tr><td>{escape(LABELS[key])}</td>'
                    f'<td class="num">{escape(format_value(cur["value"], cur["unit"], currency, cur["reason"]))}</td>'
                    f'<td class="num">{escape(format_value(prev["value"], prev["unit"], currency, prev["reason"]))}</td>'
                    f'<td class="num {css}">{arrow}</td><td class="num">{cur["n"]}</td></tr>')
    cards = []
    for key in TREND_KPIS:
        points = [(r["period"], r["kpis"][key]["value"]) for r in trend]
        last = current["kpis"][key]
        # The chart scales to its own low and high: print them, or a flat line and a cliff look alike.
        known = [v for _, v in points if v is not None]
        scale = (f'<div class="sub">{escape(format_value(min(known), last["unit"], currency))} – '
                 f'{escape(format_value(max(known), last["unit"], currency))}</div>' if known else "")
        cards.append(f'<div class="card"><h3>{escape(LABELS[key])}</h3><div class="last">'
                     f'{escape(format_value(last["value"], last["unit"], currency, last["reason"]))}</div>'
                     f'{scale}{_chart(points)}</div>')
    # Data quality is about the store as it is now, whatever the month's values came from.
    warnings = compute_kpis(db, periods[-1], settings, now=now)["warnings"]
    quality = ("".join(f"<li>{escape(w)}</li>" for w in warnings) if warnings
               else '<li class="ok">No data-quality gaps in this month.</li>')
    issues = db.conn.execute("SELECT object_type, property, count(*) FROM value_issues "
                             "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20").fetchall()
    issue_rows = "".join(f"<tr><td>{escape(o)}</td><td>{escape(p)}</td><td class='num'>{n}</td></tr>"
                         for o, p, n in issues)
    defs = "".join(f"<dt>{escape(LABELS[k])} <code>{escape(k)}</code></dt><dd>{escape(definitions[k])}</dd>"
                   for k in current["kpis"])
    portal = f"portal {escape(str(account[0]))}, " if account[0] is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>CRM KPIs {escape(current["period"])}</title><style>{STYLE}</style></head>
<body>
<h1>CRM KPIs: {escape(current["period"])}</h1>
<p class="sub">{portal}home currency {escape(currency or "unknown")}, time zone {escape(current["timezone"])};
data as of {escape(format_moment(now))} (the last completed sync); closed months only (partial: no);
{from_snapshots} of {len(results)} months from snapshots, the others computed now; definitions {escape(DEFINITION_VERSION)}.</p>
<h2>Last closed month against the one before</h2>
<table><thead><tr><th>KPI</th><th class="num">{escape(current["period"])}</th>
<th class="num">{escape(previous["period"])}</th><th class="num">change</th><th class="num">n</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<h2>Trends over the last {months} months</h2>
<div class="grid">{"".join(cards)}</div>
<h2>Data quality</h2>
<ul class="warn">{quality}</ul>
{"<table><thead><tr><th>object</th><th>property</th><th class='num'>unparsable values</th></tr></thead><tbody>" + issue_rows + "</tbody></table>" if issue_rows else ""}
<h2>Definitions</h2>
<dl>{defs}</dl>
</body></html>
"""
