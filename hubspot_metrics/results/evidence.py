"""The report's evidence: the records behind each headline KPI, and the records to fix in HubSpot.

Both come from `metrics.explain.Explainer`, the function behind `hubspot-metrics explain`, so
the report lists exactly the records that command prints (the largest contributions first,
a few per role); nothing here decides again which records count.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hubspot_metrics.metrics.catalog import HEADLINE_KPIS, LABELS
from hubspot_metrics.metrics.explain import BASE_COLUMNS, POPULATIONS, ROLES, VALUE_UNITS, Explainer
from hubspot_metrics.metrics.render import format_value
from hubspot_metrics.values import parse_instant

CONTRIBUTORS = 20  # rows per role in "behind this number"
TO_FIX = 50        # records per kind in "fix in HubSpot"
# (key whose --all rows hold them, the reasons, what the admin reads)
FIX_KINDS = (
    ("revenue", ("no_amount", "amount_in_other_currency", "unparsable_amount"),
     "Won deals without an amount in the home currency"),
    ("avg_sales_cycle_days", ("negative_duration",), "Won deals closed before they were created"),
    ("avg_sales_cycle_days", ("no_closedate", "unparsable_closedate"), "Won deals without a valid close date"),
    ("avg_first_response_hours", ("no_reply",), "Tickets without a first agent reply"),
    ("avg_first_response_hours", ("negative_duration",), "Tickets replied before they were created"),
)
VALUE_HEADINGS = {"currency": "amount", "days": "days", "hours": "hours", "score": "score"}


@dataclass(frozen=True)
class Record:
    label: str
    url: str | None
    value: str
    dates: list[str]
    note: str = ""  # the reason or the raw value, in the fix list


@dataclass(frozen=True)
class RoleGroup:
    role: str
    total: int
    records: list[Record]


@dataclass(frozen=True)
class Behind:
    key: str
    label: str
    value_heading: str
    dates: list[str]
    groups: list[RoleGroup]


@dataclass(frozen=True)
class FixKind:
    title: str
    total: int
    dates: list[str]
    records: list[Record]


def _when(text, tz: ZoneInfo) -> str:
    moment = parse_instant(text) if isinstance(text, str) else None
    if moment is None:
        return "" if text is None else str(text)  # an unparsable value is shown as HubSpot holds it
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _record(row: dict, dates: list[str], unit: str | None, currency: str | None, tz: ZoneInfo,
            note: str = "") -> Record:
    value = row["value"]
    text = "" if value is None or unit is None else f"{value:g}" if unit == "score" else format_value(value, unit,
                                                                                                      currency)
    return Record(row["label"] or f"{row['object']} {row['id']}", row["url"], text,
                  [_when(row[c], tz) for c in dates], note)


def behind_the_numbers(explainer: Explainer, currency: str | None, tz: ZoneInfo) -> list[Behind]:
    """For each headline KPI, its records grouped by role, at most CONTRIBUTORS per role."""
    out = []
    listed: dict[str, list[dict]] = {}  # retention, churn and lifetime value list one population
    for key in HEADLINE_KPIS:
        population = POPULATIONS[key]
        unit = VALUE_UNITS.get(population)
        dates = [c for c in explainer.columns(key) if c not in BASE_COLUMNS and c != "share"]
        rows = listed[population] = listed.get(population) or explainer.rows(key)
        by_role: dict[str, list[dict]] = {role: [] for role in ROLES.get(population, ())}
        for row in rows:  # already largest value first within a role
            by_role.setdefault(row["role"], []).append(row)
        groups = [RoleGroup(role, len(found), [_record(r, dates, unit, currency, tz) for r in found[:CONTRIBUTORS]])
                  for role, found in by_role.items() if found]
        out.append(Behind(key, LABELS[key], VALUE_HEADINGS.get(unit, ""), dates, groups))
    return out


def to_fix(explainer: Explainer, db, tz: ZoneInfo) -> list[FixKind]:
    """The records the data-quality warnings count, at most TO_FIX per kind: the period's
    left-out deals and tickets (archived and merged ones are not for fixing), then every
    unparsable value in the store per object and property."""
    kinds = []
    left_out = {key: [r for r in explainer.rows(key, include_all=True) if r["reason"]]
                for key in dict.fromkeys(k for k, _, _ in FIX_KINDS)}
    for key, reasons, title in FIX_KINDS:
        dates = [c for c in explainer.columns(key) if c not in BASE_COLUMNS]
        found = [r for r in left_out[key] if r["reason"] in reasons]
        if found:
            kinds.append(FixKind(title, len(found), dates, [_record(r, dates, None, None, tz, r["reason"].replace("_", " "))
                                                            for r in found[:TO_FIX]]))
    issues = db.conn.execute(
        "SELECT object_type, property, record_id, raw_value, total FROM (SELECT *, row_number() OVER (PARTITION BY "
        "object_type, property ORDER BY record_id) AS k, count(*) OVER (PARTITION BY object_type, property) AS total "
        f"FROM value_issues) WHERE k <= {TO_FIX} ORDER BY total DESC, object_type, property, k").fetchall()
    grouped: dict[tuple, list] = {}
    for table, prop, record_id, raw, total in issues:
        grouped.setdefault((table, prop, total), []).append(
            Record(f"{table} {record_id}", explainer.url(table, str(record_id)), "", [], f"{raw!s}"))
    for (table, prop, total), records in grouped.items():
        kinds.append(FixKind(f"Unparsable {prop} of {table}", total, [], records))
    return kinds
