"""KPI results for people (a rounded table) and for machines (JSON, CSV: 6 decimals, integer counts).

`render_table` and `render_csv` take the dict `compute_kpis` returns, optionally with the
`previous` / `change` of `compare` and the `breakdown` of `by`.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Iterable

from hubspot_metrics.metrics.catalog import HEADLINE_KPIS, KPI_KEYS, KPI_UNITS, LABELS
from hubspot_metrics.metrics.kpis import output_number
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
        for key in KPI_KEYS:
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
    for key in keys:
        k = kpis[key]
        row = [LABELS[key], format_value(k["value"], k["unit"], currency, k["reason"]), f"{k['n']:,}"]
        if with_change:
            before = result["previous"]["kpis"][key]
            row += [format_value(before["value"], before["unit"], currency, before["reason"]),
                    format_change(result["change"][key], k["unit"], currency)]
        rows.append(row)
    return rows


def render_table(result: dict) -> str:
    currency = result.get("currency")
    align = "<>>>>"
    lines = [f"KPIs for {result['period']}: {_span(result)} (time zone {result['timezone']}, end exclusive)"]
    if "previous" in result:
        p = result["previous"]
        lines.append(f"compared with {p['period']}: {_span(p, 'the same stretch of it')}")
    lines.append("")
    lines += _table(_kpi_rows(result["kpis"], HEADLINE_KPIS, currency, result), align)
    lines += ["", "Supporting metrics", ""]
    lines += _table(_kpi_rows(result["kpis"], KPI_KEYS[len(HEADLINE_KPIS):], currency, result), align)
    breakdown = result.get("breakdown")
    if breakdown:
        lines += ["", f"By {breakdown['by']} (KPIs that do not apply to it are left out)"]
        if not breakdown["groups"]:
            lines.append("  nothing in this period")
        for g in breakdown["groups"]:
            keys = [k for k in KPI_KEYS if g["kpis"][k]["reason"] != "not_applicable"]
            title = g["label"] if g["key"] is None or g["label"] == g["key"] else f"{g['label']} ({g['key']})"
            lines += ["", title]
            plain = {k: v for k, v in result.items() if k not in ("change", "previous")}
            lines += ["  " + line for line in _table(_kpi_rows(g["kpis"], keys, currency, plain), "<>>")]
    warnings = result.get("warnings") or []
    lines += ["", "Data quality: " + ("no gaps found." if not warnings else f"{len(warnings)} warning(s)")]
    lines += [f"  - {w}" for w in warnings]
    return "\n".join(lines)


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
