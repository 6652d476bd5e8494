"""KPI results for people (a rounded table) and for machines (JSON, CSV: 6 decimals, integer counts).

`render_table` and `render_csv` take the dict `compute_kpis` returns, optionally with the
`previous` / `change` of `compare` and the `breakdown` of `by`, and narrowed to some keys by
`only_keys`. A breakdown is drawn as one table: a row per segment, a column per KPI.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from typing import Iterable

from hubspot_metrics.metrics.catalog import HEADLINE_KPIS, KPI_KEYS, KPI_UNITS, LABELS
from hubspot_metrics.metrics.kpis import output_number
from hubspot_metrics.metrics.segments import SEGMENT_SIZE_HELP
from hubspot_metrics.values import spreadsheet_safe

CSV_COLUMNS = ("period", "start", "end", "as_of", "partial", "key", "value", "n", "reason", "unit", "currency")
BREAKDOWN_COLUMNS = ("by", "group", "group_label")
CHANGE_COLUMNS = ("change", "change_percent")


def compare(current: dict, previous: dict) -> dict:
    """`current` plus the previous period's KPIs and the change of each value.

    change = current − previous (for percent KPIs: percentage points) and percent =
    100 · change / |previous|; null where either value is null (or previous is 0 for percent).
    """
    change = {}
    for key in KPI_KEYS:
        now, before = current["kpis"][key]["value"], previous["kpis"][key]["value"]
        delta = None if now is None or before is None else now - before
        relative = None if delta is None or before == 0 else 100 * delta / abs(before)
        change[key] = {"value": output_number(delta, KPI_UNITS[key]), "percent": output_number(relative, "percent"),
                       "unit": KPI_UNITS[key]}
    out = dict(current)
    out["previous"] = {k: previous[k] for k in ("period", "start", "end", "as_of", "partial", "timezone", "kpis",
                                                "warnings")}
    out["change"] = change
    return out


def only_keys(result: dict, keys: Iterable[str]) -> dict:
    """`result` with only these KPI keys (in catalogue order) wherever KPIs are listed: the
    period's, each breakdown group's, and the previous period's and the change of `compare`."""
    wanted = [k for k in KPI_KEYS if k in set(keys)]
    out = dict(result)
    out["kpis"] = {k: result["kpis"][k] for k in wanted}
    if "change" in result:
        out["change"] = {k: result["change"][k] for k in wanted}
    if "previous" in result:
        out["previous"] = {**result["previous"], "kpis": {k: result["previous"]["kpis"][k] for k in wanted}}
    if "breakdown" in result:
        out["breakdown"] = {**result["breakdown"], "groups": [{**g, "kpis": {k: g["kpis"][k] for k in wanted}}
                                                              for g in result["breakdown"]["groups"]]}
    return out


def render_json(result: dict) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False)


# --- CSV ------------------------------------------------------------------------------------

def render_csv(results: dict | Iterable[dict], *, header: bool = True) -> str:
    """One row per (period, key) — and per breakdown group — with unrounded values.

    Accepts one result or several (e.g. twelve months for an export); with `compare` results
    the previous period's rows come too, and the current rows carry the change.
    """
    results = [results] if isinstance(results, dict) else list(results)
    with_groups = any("breakdown" in r for r in results)
    with_change = any("change" in r for r in results)
    columns = CSV_COLUMNS + (BREAKDOWN_COLUMNS if with_groups else ()) + (CHANGE_COLUMNS if with_change else ())
    out = io.StringIO()
    # The csv module quotes a field only for the characters of its own line terminator, so a
    # bare "\n" would leave a carriage return in a label unquoted: rows end "\r\n" while
    # written, then lose the "\r".
    writer = csv.writer(out, lineterminator="\r\n")

    def writerow(row) -> None:
        writer.writerow(row)
        out.seek(out.tell() - 2)
        out.write("\n")
        out.truncate()

    if header:
        writerow(columns)

    def rows(result: dict, kpis: dict, group: tuple = ("", "", ""), change: dict | None = None):
        for key in (k for k in KPI_KEYS if k in kpis):
            k = kpis[key]
            row = [_csv_text(result["period"]), _csv_text(result["start"]), _csv_text(result["end"]),
                   _csv_text(result["as_of"]), _csv_flag(result["partial"]), key, _csv_number(k["value"]), k["n"],
                   _csv_text(k["reason"]), _csv_text(k["unit"]), _csv_text(currency)]
            if with_groups:  # owner names and pipeline labels come from HubSpot users: untrusted
                row += [_csv_text(g) for g in group]
            if with_change:
                c = (change or {}).get(key) or {}
                row += [_csv_number(c.get("value")), _csv_number(c.get("percent"))]
            writerow(row)

    currency = ""
    for result in results:
        currency = result.get("currency") or ""
        if "previous" in result:
            rows(result["previous"], result["previous"]["kpis"])
        rows(result, result["kpis"], change=result.get("change"))
        breakdown = result.get("breakdown")
        if breakdown:
            for g in breakdown["groups"]:
                rows(result, g["kpis"], (breakdown["by"], "" if g["key"] is None else g["key"], g["label"]))
    return out.getvalue()


def _csv_text(value) -> str:
    return "" if value is None else spreadsheet_safe(str(value))


def _csv_number(value) -> str:
    return "" if value is None else repr(value)


def _csv_flag(value: bool) -> str:
    return "true" if value else "false"


# --- the table --------------------------------------------------------------------------------

def format_value(value: float | None, unit: str, currency: str | None = None, reason: str | None = None) -> str:
    """A value rounded for people, with its unit; a null shows its reason."""
    if value is None:
        return f"n/a: {(reason or 'no value').replace('_', ' ')}"
    money = f" {currency}" if currency else ""
    if unit == "currency":
        return f"{value:,.2f}{money}"
    if unit == "currency_per_day":
        return f"{value:,.2f}{money}/day"
    if unit == "currency_per_month":
        return f"{value:,.2f}{money}/month"
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "score":
        return f"{value:+.1f}" if value else "0.0"
    if unit == "hours":
        return f"{value:,.2f} h"
    if unit == "days":
        return f"{value:,.1f} days"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "per_day":
        return f"{value:,.2f}/day"
    return f"{value:,.2f}"  # ratio


def format_change(change: dict, unit: str, currency: str | None) -> str:
    if change["value"] is None:
        return ""
    delta = change["value"]
    if unit == "percent":
        text = f"{delta:+.1f} pts"
    elif unit == "score":
        text = f"{delta:+.1f}"
    elif unit == "count":
        text = f"{delta:+,.0f}"
    else:
        text = format_value(abs(delta), unit, currency)
        text = ("-" if delta < 0 else "+") + text
    if change["percent"] is not None:
        text += f" ({change['percent']:+.1f} %)"
    return text


def _table(rows: list[list[str]], align: str) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [cell.ljust(w) if a == "<" else cell.rjust(w) for cell, w, a in zip(row, widths, align)]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _kpi_rows(kpis: dict, keys, currency: str | None, result: dict) -> list[list[str]]:
    with_change = "change" in result
    header = ["KPI", "value", "n"] + (["previous", "change"] if with_change else [])
    rows = [header]
    for key in (k for k in keys if k in kpis):
        k = kpis[key]
        row = [LABELS[key], format_value(k["value"], k["unit"], currency, k["reason"]), f"{k['n']:,}"]
        if with_change:
            before = result["previous"]["kpis"][key]
            row += [format_value(before["value"], before["unit"], currency, before["reason"]),
                    format_change(result["change"][key], k["unit"], currency)]
        rows.append(row)
    return rows


def render_table(result: dict, keys: Iterable[str] | None = None) -> str:
    """The KPIs for people (those of `keys`, else all); with a breakdown, the one segment table
    (`render_segments`, the ten KPIs unless `keys` says otherwise)."""
    if keys is not None:
        result = only_keys(result, keys)
    if result.get("breakdown"):
        return render_segments(result, HEADLINE_KPIS if keys is None else keys)
    currency = result.get("currency")
    align = "<>>>>"
    lines = [f"KPIs for {result['period']}: {_span(result)} (time zone {result['timezone']}, end exclusive)"]
    if "previous" in result:
        p = result["previous"]
        lines.append(f"compared with {p['period']}: {_span(p, 'the same stretch of it')}")
    for title, keys in (("", HEADLINE_KPIS), ("Supporting metrics", KPI_KEYS[len(HEADLINE_KPIS):])):
        if any(k in result["kpis"] for k in keys):
            lines += ["", title, ""] if title else [""]
            lines += _table(_kpi_rows(result["kpis"], keys, currency, result), align)
    return "\n".join(lines + _quality_lines(result))


def _quality_lines(result: dict, width: int | None = None) -> list[str]:
    """The data-quality warnings, one item each; wrapped at `width` when given."""
    warnings = result.get("warnings") or []
    lines = ["", "Data quality: " + ("no gaps found." if not warnings else f"{len(warnings)} warning(s)")]
    if width is None:
        return lines + [f"  - {w}" for w in warnings]
    for warning in warnings:
        lines += textwrap.wrap(warning, width, initial_indent="  - ", subsequent_indent="    ")
    return lines


# --- the segment table of a breakdown ------------------------------------------------------

# Column headers short enough for the ten KPIs to fit a 160-column terminal; money columns
# add the currency, the other units travel with each number.
SHORT_LABELS = {
    "cac": "CAC", "customer_retention_rate": "Retention", "customer_lifetime_value": "CLV",
    "conversion_rate": "Conversion", "churn_rate": "Churn", "nps": "NPS", "csat": "CSAT",
    "avg_first_response_hours": "1st reply", "avg_sales_cycle_days": "Cycle", "pipeline_velocity": "Velocity",
    "new_customers": "New cust.", "leads": "Leads", "customers_at_start": "Cust. start",
    "customers_retained": "Retained", "revenue": "Revenue", "paying_customers": "Paying",
    "revenue_per_customer": "Rev./cust.", "deals_won": "Won", "deals_lost": "Lost", "win_rate": "Win rate",
    "avg_deal_size": "Deal size", "new_deals": "New deals", "open_deals_at_start": "Open start",
    "active_customers": "Active", "arpa": "ARPA", "monthly_churn_rate": "Churn/mo", "revenue_per_day": "Rev./day",
    "lead_to_customer_days": "Lead→cust.", "median_sales_cycle_days": "Med. cycle", "deal_throughput": "Won/day",
    "pipeline_speed": "Speed", "spend": "Spend", "ltv_to_cac": "LTV:CAC", "open_deals": "Open end",
    "open_pipeline_value": "Open value", "nps_responses": "NPS resp.", "csat_responses": "CSAT resp.",
    "tickets_created": "Tickets", "tickets_unanswered": "Unanswered", "median_first_response_hours": "Med. reply",
}
MONEY_SUFFIX = {"currency": "", "currency_per_day": "/d", "currency_per_month": "/mo"}
SEGMENT_LABEL_WIDTH = 42
TERMINAL_WIDTH = 160  # the segment table of the ten KPIs, and the lines around it, fit this
NOT_APPLICABLE, NO_VALUE = "–", "n/a"


def render_segments(result: dict, keys: Iterable[str] = HEADLINE_KPIS) -> str:
    """A breakdown as one table: a row per segment (largest `n` first), a column per KPI of
    `keys`, and a last row with the period's totals."""
    breakdown = result["breakdown"]
    by, currency = breakdown["by"], result.get("currency")
    keys = [k for k in KPI_KEYS if k in set(keys)]
    header = [by.capitalize(), "n"] + [_short_header(k, currency) for k in keys]
    rows = [header]
    for g in breakdown["groups"]:
        rows.append([_fit(str(g["label"])), f"{g['n']:,}"] + [compact_value(g["kpis"][k]) for k in keys])
    lines = [f"KPIs for {result['period']} by {by}: {_span(result)} (time zone {result['timezone']}, end exclusive)",
             ""]
    if breakdown["groups"]:
        # (every record falls in one segment, so the segments' n add up to the period's)
        total = sum(g["n"] for g in breakdown["groups"])
        rows.append(["All", f"{total:,}"]
                    + [compact_value(result["kpis"][k]) for k in keys])
        table = _table(rows, "<" + ">" * (len(header) - 1))
        lines += table[:-1] + [table[1], table[-1]]  # the totals under a rule of their own
    else:
        lines.append(f"Nothing in this period has a {by}.")
    lines += ["", f"n: {SEGMENT_SIZE_HELP[by]} in the period (rows sorted by it).",
              f"{NOT_APPLICABLE}: not computed by {by}; {NO_VALUE}: no value (the reason is in --format json or csv)."]
    if "previous" in result:
        lines.append(f"--compare: {result['previous']['period']} and the change are in --format json or csv.")
    return "\n".join(lines + _quality_lines(result, TERMINAL_WIDTH))


def _short_header(key: str, currency: str | None) -> str:
    unit = KPI_UNITS[key]
    if unit in MONEY_SUFFIX and currency:
        return f"{SHORT_LABELS[key]} {currency}{MONEY_SUFFIX[unit]}"
    return SHORT_LABELS[key]


def _fit(label: str) -> str:
    label = " ".join(label.split())  # a tab or line break in a name would break the row
    return label if len(label) <= SEGMENT_LABEL_WIDTH else label[:SEGMENT_LABEL_WIDTH - 1] + "…"


def compact_value(kpi: dict) -> str:
    """A value in a few characters for the segment table: 12.3k, 98.7%, +42.9, 6.8h, 35.0d."""
    value, unit = kpi["value"], kpi["unit"]
    if value is None:
        return NOT_APPLICABLE if kpi["reason"] == "not_applicable" else NO_VALUE
    if unit in MONEY_SUFFIX:
        return _compact_money(value)
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "score":
        return f"{value:+.1f}" if value else "0.0"
    if unit in ("hours", "days"):
        return (f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}") + unit[0]
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "per_day":
        return f"{value:.2f}/d"
    return f"{value:,.2f}"  # ratio


def _compact_money(value: float) -> str:
    size = abs(value)
    if size < 100:
        return f"{value:.2f}"
    if size < 100_000:
        return f"{value:,.0f}"
    if size < 1_000_000:
        return f"{value / 1e3:.1f}k"
    if size < 1_000_000_000:
        return f"{value / 1e6:.2f}M"
    return f"{value / 1e9:,.2f}B"


def _span(result: dict, stop: str = "the last completed sync") -> str:
    """The measured span; an open period says where it stops (`stop`: why there) and that it is partial."""
    span = f"{_moment(result['start'])} to {_moment(result['end'])}"
    if result.get("partial"):
        span += f", partial: measured up to {_moment(result['as_of'])} ({stop})"
    return span


def _moment(iso: str) -> str:
    # 2026-10-01T00:00:00+02:00 -> 2026-10-01 00:00 (the zone is named on the same line)
    date, _, rest = iso.partition("T")
    return f"{date} {rest[:5]}" if rest else date
