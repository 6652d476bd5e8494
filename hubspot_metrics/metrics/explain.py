"""Behind a number: the records a KPI's `n` counts, one row each, with their part in its formula.

`Explainer(db, period, settings).rows(key)` lists exactly the population of `key`'s `n`
(docs/metrics.md, "explain"): customers, deals, tickets or survey answers, or the months of
spend. Each row names the record (`object`, `id`, `label`, a `url` to its HubSpot page), its
`role` (retained / churned, won / lost, promoter / passive / detractor, ...), the `value` it
contributes (amount, days, hours, score) and the dates the rule read. With `include_all`, the
records the rule looked at and left out follow, each with a `reason`.

The conditions are not written twice: deals and tickets are read through the very facts
subqueries `Queries` counts (`_deal_facts`, `_ticket_facts`) and filtered by the conditions
it counts with (`WON_IN_P`, `OPEN_AT_START`, ...); customers through the same `Instant`
conditions, record filters (`live`, `in_pipelines`) and won-deal test (`deal_won`); survey
answers through `kpis.answer_outcome`. A test holds every key's rows to `compute_kpis`.

One code path for both stores: every piece of SQL written differently on PostgreSQL (booleans,
durations, an unparsable value kept in `value_issues` rather than its cell, ...) comes from the
store's `SqlFlavour`; tests/postgres/test_explain_parity.py holds the rows of both to each other.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from datetime import datetime

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.errors import ConfigError
from hubspot_metrics.metrics.catalog import DIMENSIONS, KPI_KEYS
from hubspot_metrics.metrics.compute import _in_two_lanes, compute_kpis
from hubspot_metrics.metrics.counts import group_key
from hubspot_metrics.metrics.kpis import answer_outcome
from hubspot_metrics.metrics.queries import (
    CUSTOMER_DATE, LEAD_DATE, LOST, LOST_IN_P, OPEN_AT_END, OPEN_AT_START, WON, WON_IN_P, Queries)
from hubspot_metrics.metrics.sql import CUSTOMER_ASSOCIATIONS, SqlFlavour, StoreView, quote
from hubspot_metrics.periods import Period, measured_up_to

# HubSpot's object type ids, as its record pages spell them
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5",
                   "feedback_submissions": "0-19"}
DEFAULT_UI_DOMAIN = "app.hubspot.com"
BASE_COLUMNS = ["object", "id", "label", "url", "role", "value"]
LEFT_OUT = "excluded"  # the role of a row that --all adds
HOUR_MS, DAY_MS = 3_600_000, 86_400_000

# key -> the population its n counts (docs/metrics.md, "Counts and n")
POPULATIONS: dict[str, str] = {
    "cac": "new_customers", "new_customers": "new_customers", "leads": "leads", "conversion_rate": "leads",
    **{k: "customers_at_start" for k in ("customers_at_start", "customers_retained", "customer_retention_rate",
                                         "churn_rate", "monthly_churn_rate", "customer_lifetime_value", "ltv_to_cac")},
    "active_customers": "active_customers", "arpa": "active_customers",
    "paying_customers": "paying_customers", "revenue_per_customer": "paying_customers",
    "lead_to_customer_days": "lead_to_customer",
    "deals_won": "won", "deal_throughput": "won", "pipeline_speed": "won", "deals_lost": "lost", "win_rate": "closed",
    "revenue": "won_with_amount", "revenue_per_day": "won_with_amount", "avg_deal_size": "won_with_amount",
    "avg_sales_cycle_days": "cycle", "median_sales_cycle_days": "cycle", "new_deals": "created",
    "open_deals_at_start": "open_at_start", "pipeline_velocity": "open_at_start", "open_deals": "open_at_end",
    "open_pipeline_value": "open_at_end_with_amount",
    "tickets_created": "tickets_created", "tickets_unanswered": "tickets_created",
    "avg_first_response_hours": "replied", "median_first_response_hours": "replied",
    "nps": "NPS", "nps_responses": "NPS", "csat": "CSAT", "csat_responses": "CSAT", "spend": "spend",
}
FAMILY_OF = {**{p: "customers" for p in ("new_customers", "leads", "customers_at_start", "active_customers",
                                         "paying_customers", "lead_to_customer")},
             **{p: "deals" for p in ("won", "lost", "closed", "won_with_amount", "cycle", "created", "open_at_start",
                                     "open_at_end", "open_at_end_with_amount")},
             "tickets_created": "tickets", "replied": "tickets", "NPS": "surveys", "CSAT": "surveys",
             "spend": "spend"}
# What a row's value is, per population (None: the population's rows carry no value)
VALUE_UNITS: dict[str, str] = {
    **{p: "currency" for p in ("won", "lost", "closed", "won_with_amount", "created", "open_at_start", "open_at_end",
                               "open_at_end_with_amount", "paying_customers", "spend")},
    "cycle": "days", "lead_to_customer": "days", "tickets_created": "hours", "replied": "hours",
    "NPS": "score", "CSAT": "score",
}
# The roles of each population in the order people read them (the report's "behind this number").
ROLES: dict[str, tuple[str, ...]] = {
    "leads": ("converted", "not_converted"), "customers_at_start": ("churned", "retained"),
    "closed": ("won", "lost"), "created": ("won", "lost", "open"), "tickets_created": ("unanswered", "answered"),
    "NPS": ("detractor", "passive", "promoter"), "CSAT": ("unsatisfied", "satisfied"),
}


@dataclass(frozen=True)
class _Select:
    """One population as SQL over a family's records: which count, their role and value, and
    (for --all) the conditions that leave a considered record out, in order, with their reason."""
    counted: str
    role: str
    value: str
    left_out: tuple[tuple[str, str], ...] = ()


def _either(*conditions: str) -> str:
    return "(" + " OR ".join(f"({c})" for c in conditions) + ")"


def _sorted(rows: list[dict]) -> list[dict]:
    """Counted rows first, by role, largest value first; then the left-out ones by reason."""
    def order(row: dict):
        value = row["value"]
        numeric_id = (len(row["id"]), row["id"])
        return (row.get("reason") is not None, row.get("reason") or "", row["role"] or "",
                value is None, -(value or 0), numeric_id)
    return sorted(rows, key=order)


class Explainer:
    """Explanations of one period over one store; the setup (excluded ids, stage settings) is
    shared by every key asked for."""

    def __init__(self, db, period: Period, settings: MetricsSettings):
        self.view = StoreView.open(db)
        self.q = Queries(self.view, period, settings)
        self.period, self.settings = period, settings
        account = (self.view.conn.execute("SELECT [uiDomain], [portalId] FROM account LIMIT 1").fetchone()
                   if "account" in self.view.tables else None)
        self.ui_domain = (account[0] if account and account[0] else DEFAULT_UI_DOMAIN)
        self.portal_id = account[1] if account else None

    def on(self, queries: Queries) -> "Explainer":
        """The same explanations through `queries` (another connection to the store, for a second thread)."""
        other = copy.copy(self)
        other.q, other.view = queries, queries.view
        return other

    def url(self, table: str, record_id: str) -> str | None:
        if self.portal_id is None or table not in OBJECT_TYPE_IDS:
            return None
        portal = int(self.portal_id) if isinstance(self.portal_id, float) else self.portal_id
        return f"https://{self.ui_domain}/contacts/{portal}/record/{OBJECT_TYPE_IDS[table]}/{record_id}"

    def columns(self, key: str, include_all: bool = False) -> list[str]:
        population = POPULATIONS[key]
        family = FAMILY_OF[population]
        dates = {"customers": ["customer_date", "lead_date", "createdate"], "deals": ["createdate", "closedate"],
                 "tickets": ["createdate", "first_reply"], "surveys": ["submitted_at"], "spend": ["share"]}[family]
        if population in ("customers_at_start", "active_customers"):
            dates = dates + (["churn_date"] if self.settings.churn.mode == "property" else ["last_purchase"])
        return BASE_COLUMNS + dates + (["reason"] if include_all else [])

    def rows(self, key: str, *, include_all: bool = False, by: str | None = None,
             segment: str | None = None) -> list[dict]:
        """The rows of `key` (see the module's docstring); with `by` and `segment`, only the
        records of that owner, pipeline or source."""
        population = POPULATIONS[key]
        family = FAMILY_OF[population]
        if family == "spend":
            return self._spend(include_all)
        if family == "surveys":
            found = self._surveys(population, include_all)
        else:
            found = getattr(self, f"_{family}")(population, include_all, by)
        if by is not None:
            found = [r for r in found if group_key(r.pop("grp")) == segment]
        else:
            for r in found:
                r.pop("grp", None)
        columns = self.columns(key, include_all)
        return _sorted([{c: r.get(c) for c in columns} for r in found])

    # --- running a population's SQL ------------------------------------------------------------

    def _run(self, table: str, source: str, live: str, archived: str, select: _Select, extra: dict[str, str],
             include_all: bool, prefix: str = "") -> list[dict]:
        """`source`: the records (a table with alias, or a facts subquery); `live`: the SQL of
        "not archived nor merged" over it, `archived` its archived flag; `extra`: output column -> SQL."""
        if include_all:
            reasons = " ".join(f"WHEN {c} THEN {r}" for c, r in select.left_out)
            reason = (f"CASE WHEN NOT ({live}) THEN {_exclusion(self.view.sql, archived)} WHEN {select.counted} THEN NULL "
                      f"{reasons} END")
            where = _either(select.counted, *(c for c, _ in select.left_out))
        else:
            reason, where = "NULL", f"({live}) AND ({select.counted})"
        columns = {"role": select.role, "value": select.value, "reason": reason, **extra}
        sql = (f"{prefix}SELECT {', '.join(f'{expr} AS {quote(name)}' for name, expr in columns.items())}\n"
               f"FROM {source}\nWHERE {where}")
        out = []
        for values in self.view.conn.execute(sql, self.q.params):
            row = dict(zip(columns, values))
            if row["reason"] is not None:
                row["role"], row["value"] = LEFT_OUT, None
            row["object"], row["id"] = table, str(row["id"])
            row["url"] = self.url(table, row["id"])
            out.append(row)
        return out

    # --- customers -----------------------------------------------------------------------------

    def _purchases(self, low: str) -> str:
        """A CTE `purchases`: per customer, from its won deals closed in [`low`, end of P) (the
        purchases of docs/metrics.md, "Churn", read as Queries.purchases reads them), whether
        one closed in [t − L, t) for t = start and end, whether one closed in P and their
        revenue, and the latest close. One pass over the won deals, not a lookup per customer."""
        table = self.settings.customer_object
        assoc, deal_column, customer_column = CUSTOMER_ASSOCIATIONS[table]
        close = self.view.instant("deals", "closedate", alias="d")
        sql = self.view.sql
        if assoc not in self.view.tables or not self.view.has("deals") or not close.columns:
            won = f"SELECT NULL AS cid, NULL AS close, NULL AS amount WHERE {sql.false}"
        else:
            amount = self.q._amount(lambda p: self.view.column("deals", p, "d") or "NULL")
            won = (f"SELECT a.{quote(customer_column)} AS cid, {close.value()} AS close, {amount} AS amount\n"
                   f"  FROM deals d {sql.join_in_order} {quote(assoc)} a ON a.{quote(deal_column)} = d.id\n"
                   f"  WHERE {close.between(low, ':e')} AND {self.q.live('deals', 'd')} AND "
                   f"{self.q.in_pipelines('deals', 'd')} AND {self.q.deal_won('d')}")
        return (f"WITH won AS ({won}),\npurchases AS (SELECT cid, "
                f"{sql.any_of('close >= :thr_s AND close < :s')} AS before_start, "
                f"{sql.any_of('close >= :thr_e')} AS before_end, {sql.any_of('close >= :s')} AS paid, "
                f"{sql.total('amount', 'close >= :s')} AS revenue, max(close) AS last_close "
                f"FROM won GROUP BY cid)\n")

    def _active(self, at: str, threshold: str, cd) -> str:
        """active(c, t) per record, t = `at` (:s or :e), `threshold` its t − inactivity_days."""
        table = self.settings.customer_object
        if self.settings.churn.mode == "property":
            churn = self.view.instant(table, self.settings.churn.property, alias="c")
            return f"({cd.before(at)} AND ({churn.missing()} OR {churn.at_or_after(at)}))"
        before = "p.before_start" if at == ":s" else "p.before_end"
        purchased = f"coalesce({before}, {self.view.sql.false})"
        return f"({cd.before(at)} AND ({cd.at_or_after(threshold)} OR {purchased}))"

    def _customers(self, population: str, include_all: bool, by: str | None) -> list[dict]:
        table = self.settings.customer_object
        if not self.view.has(table):
            return []
        instant = lambda *props: self.view.instant(table, *props, alias="c")
        cd, ld, created = instant(*CUSTOMER_DATE), instant(*LEAD_DATE), instant("createdate")
        new = cd.between(":s", ":e")
        sql = self.view.sql
        bad_cd = (self._unparsable(table, CUSTOMER_DATE, cd), "'unparsable_customer_date'")
        if population == "new_customers":
            select = _Select(new, "'new_customer'", "NULL", (bad_cd,))
        elif population == "leads":
            select = _Select(ld.between(":s", ":e"),
                             f"(CASE WHEN {cd.before(':e')} THEN 'converted' ELSE 'not_converted' END)", "NULL",
                             ((self._unparsable(table, LEAD_DATE, ld), "'unparsable_lead_date'"),))
        elif population == "customers_at_start":
            select = _Select(self._active(":s", ":thr_s", cd),
                             f"(CASE WHEN {self._active(':e', ':thr_e', cd)} THEN 'retained' ELSE 'churned' END)",
                             "NULL", (bad_cd,))
        elif population == "active_customers":
            select = _Select(self._active(":e", ":thr_e", cd), "'active'", "NULL", (bad_cd,))
        elif population == "paying_customers":
            select = _Select(f"coalesce(p.paid, {sql.false})", "'paying'", "p.revenue")
        else:  # lead_to_customer
            select = _Select(f"{new} AND {created.value()} IS NOT NULL AND {cd.value()} >= {created.value()}",
                             "'new_customer'", sql.duration(cd.value(), created.value(), DAY_MS),
                             ((f"{new} AND {created.value()} IS NULL", "'no_createdate'"),
                              (f"{new} AND {cd.value()} < {created.value()}", "'negative_duration'")))
        extra = {"id": "c.id", "label": self._customer_label(table), "customer_date": cd.value(),
                 "lead_date": ld.value(), "createdate": created.value(),
                 "grp": self.q._group("customers", table, by, "c")}
        if population in ("customers_at_start", "active_customers"):
            if self.settings.churn.mode == "property":
                extra["churn_date"] = instant(self.settings.churn.property).value()
            else:
                # the latest purchase before the end: the customer date or a won deal's close
                extra["last_purchase"] = sql.latest("p.last_close", cd.before(":e"), cd.value())
        source, prefix = f"{quote(table)} c", ""
        # Whoever is active at t bought in [t − L, t), so the window from the start's threshold
        # holds each listed customer's latest purchase too.
        low = {"paying_customers": ":s", "active_customers": ":thr_e", "customers_at_start": ":thr_s"}.get(population)
        if low and (population == "paying_customers" or self.settings.churn.mode == "inactivity"):
            source, prefix = f"{source} LEFT JOIN purchases p ON p.cid = c.id", self._purchases(low)
        rows = self._run(table, source, self.q.live(table, "c"), self.view.column(table, "archived", "c") or sql.false,
                         select, extra, include_all, prefix)
        for row in rows:
            if row.get("last_purchase") == "":
                row["last_purchase"] = None
        return rows

    def _unparsable(self, table: str, props: tuple[str, ...], instant) -> str:
        """No valid value in `instant` (the properties `props`) while one of them holds a value
        that is not an instant."""
        if not instant.columns:
            return self.view.sql.false
        sql = self.view.sql
        if sql.postgres:  # (the raw value is NULL in its typed column and kept in value_issues)
            held = [sql.unparsable("", "c.id", table, p, "instant") for p in props if self.view.column(table, p)]
        else:
            held = list(instant.unparsable().values())
        return f"({instant.missing()} AND {_either(*held)})"

    def _customer_label(self, table: str) -> str:
        col = lambda prop: self.view.column(table, prop, "c")
        if table == "contacts":
            names = [f"coalesce({c}, '')" for c in (col("firstname"), col("lastname")) if c]
            name = "nullif(trim(" + " || ' ' || ".join(names) + "), '')" if names else None
            parts = [p for p in (name, col("email")) if p]
        else:
            parts = [p for p in (col("name"), col("domain")) if p]
        return f"coalesce({', '.join(parts)}, NULL)" if parts else "NULL"

    # --- deals ---------------------------------------------------------------------------------

    def _deals(self, population: str, include_all: bool, by: str | None) -> list[dict]:
        if not self.view.has("deals"):
            return []
        q, sql = self.q, self.view.sql
        ref = q._deal_ref
        label = "dealname" if self.view.column("deals", "dealname") else None
        archived = "archived" if include_all and self.view.column("deals", "archived") else None
        facts = q._deal_facts(by, tuple(p for p in (label, archived) if p), everyone=include_all)
        amount = q._amount(ref)
        created, closed = ref("createdate"), ref("closedate")
        won, lost = f"({WON_IN_P})", f"({LOST_IN_P})"
        empty = lambda prop: sql.no_value(ref(prop), "deal_id", "deals", prop, "instant")
        undated = lambda state: (f"state = {state} AND close_pos IS NULL",
                                 f"(CASE WHEN {empty('closedate')} THEN 'no_closedate' ELSE 'unparsable_closedate' END)")
        no_amount = (f"(CASE WHEN {sql.number(ref('amount'))} IS NOT NULL THEN 'amount_in_other_currency' "
                     f"WHEN {sql.unparsable(ref('amount'), 'deal_id', 'deals', 'amount', 'number')} "
                     f"THEN 'unparsable_amount' ELSE 'no_amount' END)")
        cycle_days = sql.duration(closed, created, DAY_MS)
        bad_created = (f"NOT {empty('createdate')} AND create_pos IS NULL", "'unparsable_createdate'")
        selects = {
            "won": _Select(won, "'won'", amount, (undated(WON),)),
            "lost": _Select(lost, "'lost'", amount, (undated(LOST),)),
            "closed": _Select(f"({won} OR {lost})", f"(CASE state WHEN {WON} THEN 'won' ELSE 'lost' END)", amount,
                              (undated(WON), undated(LOST))),
            "won_with_amount": _Select(f"({won} AND {amount} IS NOT NULL)", "'won'", amount,
                                       ((f"{won} AND {amount} IS NULL", no_amount), undated(WON))),
            "cycle": _Select(f"({won} AND create_pos IS NOT NULL AND {closed} >= {created})", "'won'", cycle_days,
                             ((f"{won} AND create_pos IS NULL",
                               f"(CASE WHEN {empty('createdate')} THEN 'no_createdate' ELSE 'unparsable_createdate' END)"),
                              (f"{won} AND {closed} < {created}", "'negative_duration'"), undated(WON))),
            "created": _Select("create_pos = 0", f"(CASE state WHEN {WON} THEN 'won' WHEN {LOST} THEN 'lost' ELSE 'open' END)",
                               amount, (bad_created,)),
            "open_at_start": _Select(f"({OPEN_AT_START})", "'open_at_start'", amount),
            "open_at_end": _Select(f"({OPEN_AT_END})", "'open'", amount),
            "open_at_end_with_amount": _Select(f"({OPEN_AT_END} AND {amount} IS NOT NULL)", "'open'", amount,
                                               ((f"({OPEN_AT_END}) AND {amount} IS NULL", no_amount),)),
        }
        shown = lambda prop: sql.instant_as_stored(ref(prop), "deal_id", "deals", prop)
        extra = {"id": "deal_id", "label": quote(label) if label else "NULL", "createdate": shown("createdate"),
                 "closedate": shown("closedate"), "grp": "grp"}
        return self._run("deals", facts, "live" if include_all else sql.true, quote(archived) if archived else sql.false,
                         selects[population], extra, include_all)

    # --- tickets -------------------------------------------------------------------------------

    def _tickets(self, population: str, include_all: bool, by: str | None) -> list[dict]:
        if not self.view.has("tickets"):
            return []
        label = "subject" if self.view.column("tickets", "subject") else None
        archived = "archived" if include_all and self.view.column("tickets", "archived") else None
        facts = self.q._ticket_facts(by, tuple(p for p in (label, archived) if p), everyone=include_all)
        sql = self.view.sql
        none = sql.no_instant()  # the reply of a ticket created in P that has none
        created = quote("createdate") if self.view.column("tickets", "createdate") else "NULL"
        replied = f"reply <> {none} AND reply >= {created}"
        hours = sql.duration("reply", created, HOUR_MS)
        unparsable_created = (sql.unparsable(created, "ticket_id", "tickets", "createdate", "instant"),
                              "'unparsable_createdate'")
        if population == "tickets_created":
            select = _Select("reply IS NOT NULL", f"(CASE WHEN reply = {none} THEN 'unanswered' ELSE 'answered' END)",
                             f"(CASE WHEN {replied} THEN {hours} END)", (unparsable_created,))
        else:
            # (a ticket without a reply has no duration: PostgreSQL refuses one from -infinity)
            select = _Select(f"({replied})", "'answered'", f"(CASE WHEN {replied} THEN {hours} END)",
                             ((f"reply = {none}", "'no_reply'"),
                              (f"reply <> {none} AND reply < {created}", "'negative_duration'")))
        extra = {"id": "ticket_id", "label": quote(label) if label else "NULL",
                 "createdate": sql.instant_as_stored(created, "ticket_id", "tickets", "createdate"),
                 "first_reply": f"nullif(reply, {none})", "grp": "grp"}
        return self._run("tickets", facts, "live" if include_all else sql.true, quote(archived) if archived else sql.false,
                         select, extra, include_all)

    # --- survey answers ------------------------------------------------------------------------

    def _surveys(self, survey: str, include_all: bool) -> list[dict]:
        table = "feedback_submissions"
        col = lambda prop: self.view.column(table, prop, "f")
        if not self.view.has(table) or col("hs_survey_type") is None:
            return []
        stamp = self.view.instant(table, "hs_submission_timestamp", alias="f")
        live, sql = self.q.live(table, "f"), self.view.sql
        labels = [c for c in (col("hs_submission_name"), col("hs_survey_name")) if c]
        columns = {"id": "f.id", "label": f"coalesce({', '.join(labels)}, NULL)" if labels else "NULL",
                   "answer": col("hs_value") or "NULL", "submitted_at": stamp.value(),
                   "reason": f"(CASE WHEN {live} THEN NULL ELSE {_exclusion(sql, col('archived') or sql.false)} END)"}
        where = f"{col('hs_survey_type')} = '{survey}' AND {stamp.between(':s', ':e')}"
        query = (f"SELECT {', '.join(f'{e} AS {quote(n)}' for n, e in columns.items())} FROM {quote(table)} f "
                 f"WHERE {where}" + ("" if include_all else f" AND {live}"))
        out = []
        for values in self.view.conn.execute(query, self.q.params):
            row = dict(zip(columns, values))
            value, issue = answer_outcome(survey, row.pop("answer"), self.settings.csat)
            if row["reason"] is None and issue is not None:
                if not include_all:
                    continue
                row["reason"] = {"without_value": "no_value", "unparsable": "unparsable_value",
                                 "out_of_scale": "outside_the_scale"}[issue]
            if row["reason"] is not None:
                row["role"], row["value"] = LEFT_OUT, None
            else:
                row["role"], row["value"] = _survey_role(survey, value, self.settings), value
            row.update(object=table, id=str(row["id"]), url=self.url(table, str(row["id"])), grp=None)
            out.append(row)
        return out

    # --- spend ---------------------------------------------------------------------------------

    def _spend(self, include_all: bool) -> list[dict]:
        """One row per month of [spend] that spend(P) adds (the running month prorated); with
        --all, the months it needs that have no entry."""
        shares = self.period.spend_shares() or []
        missing = [m for m, _ in shares if m not in self.settings.spend]
        rows = []
        for month, share in shares:
            row = {"object": "spend", "id": month, "label": f"[spend] {month}", "url": None, "share": share}
            if missing:
                if month not in missing or not include_all:
                    continue
                row.update(role=LEFT_OUT, value=None, reason="no_spend_entry")
            else:
                row.update(role="month" if share == 1.0 else "month_so_far",
                           value=self.settings.spend[month] * share, reason=None)
            rows.append(row)
        columns = self.columns("spend", include_all)
        return [{c: r.get(c) for c in columns} for r in rows]


def _exclusion(sql: SqlFlavour, archived: str) -> str:
    """Why a record that is not live is left out: archived, else merged away."""
    return f"(CASE WHEN {sql.archived(f'coalesce({archived}, {sql.false})')} THEN 'archived' ELSE 'merged' END)"


def _survey_role(survey: str, value: float, settings: MetricsSettings) -> str:
    if survey == "NPS":
        return "promoter" if value >= 9 else "passive" if value >= 7 else "detractor"
    return "satisfied" if value >= settings.csat.satisfied_min else "unsatisfied"


# --- one key, with its KPI ------------------------------------------------------------------------

NO_ROWS = ("churn_property_not_synced", "not_applicable")  # n = 0 by definition: nothing to list


def check_key(key: str) -> None:
    """One sentence naming the nearest keys when `key` is not in the catalogue."""
    if key in POPULATIONS:
        return
    near = difflib.get_close_matches(key, KPI_KEYS, n=4, cutoff=0.5) or [k for k in KPI_KEYS if key in k][:4]
    hint = f"did you mean {', '.join(near)}?" if near else f"the keys are {', '.join(KPI_KEYS)}."
    raise ConfigError(f"{key!r} is not a KPI key; {hint}")


def check_segment(by: str | None, segment: str | None) -> None:
    if by is not None and by not in DIMENSIONS:
        raise ConfigError(f"--by {by!r} is not a breakdown; use owner, pipeline or source.")
    if (by is None) != (segment is None or segment == ""):
        raise ConfigError("A segment is a breakdown and one of its values: --owner ID, --pipeline ID or "
                          "--source VALUE (or --by owner|pipeline|source with --segment VALUE).")


@dataclass(frozen=True)
class Explanation:
    result: dict          # compute_kpis' output for the period (with the breakdown when `by`)
    kpi: dict             # the key's entry: for a segment, the segment's
    columns: list[str]
    rows: list[dict]


def explain_kpi(db, period: Period, settings: MetricsSettings, key: str, *, now: datetime,
                include_all: bool = False, by: str | None = None, segment: str | None = None) -> Explanation:
    """`key`'s KPI for `period` (measured up to `now` as `compute_kpis` does) and its rows."""
    check_key(key)
    check_segment(by, segment)
    explainer = Explainer(db, measured_up_to(period, now), settings)
    # The KPI and the rows are two scans of the store: on two cores, one each.
    result, rows = _in_two_lanes(
        explainer.q, lambda q: compute_kpis(db, period, settings, by=by, now=now, keys=(key,)),
        lambda q: explainer.on(q).rows(key, include_all=include_all, by=by, segment=segment))
    kpi = result["kpis"][key]
    if by is not None:
        groups = {g["key"]: g for g in result["breakdown"]["groups"]}
        if segment not in groups:
            known = ", ".join(str(k) for k in list(groups)[:10] if k is not None)
            raise ConfigError(f"The {by} {segment!r} has no records in {result['period']}; "
                              f"{by}s with records: {known or 'none'}.")
        kpi = groups[segment]["kpis"][key]
    rows = [] if kpi["reason"] in NO_ROWS else rows
    return Explanation(result, kpi, explainer.columns(key, include_all), rows)
