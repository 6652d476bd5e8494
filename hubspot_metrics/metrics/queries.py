"""The aggregate queries: what the KPIs count, computed in SQL, one scan per family of records.

Each query returns counts per group of an optional breakdown dimension (the group key `ALL`
when there is none). Counts of one family add up across groups, so totals are the sum of the
groups and every query runs once per call.

Families: customers (the customer unit's records, plus their won deals for purchases and
paying customers), deals, tickets and survey answers. Definitions are those of
docs/metrics.md; the comments name its section where a condition is not obvious.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import Counter
from datetime import datetime, timedelta, timezone

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.dialect import dialect_of
from hubspot_metrics.indexes import excluded_where
from hubspot_metrics.metrics.catalog import CUSTOMER_DATE, LEAD_DATE, TICKET_REPLY
from hubspot_metrics.metrics.counts import (
    PAIR_UNIT, CellPlaces, CustomerCounts, DealCounts, SurveyCounts, TicketCounts, counts_from_row, group_key,
    merge_values)
from hubspot_metrics.metrics.sql import (
    CUSTOMER_ASSOCIATIONS, DAY_SUFFIX, StoreView, quote)
from hubspot_metrics.periods import Period, first_midnight_at_or_after
from hubspot_metrics.values import format_instant

ALL = "*"  # the only group key when there is no breakdown

# Breakdown dimension -> family -> the property the family is grouped by.
DIMENSION_PROPERTIES = {
    "owner": {"customers": "hubspot_owner_id", "deals": "hubspot_owner_id", "tickets": "hubspot_owner_id"},
    "pipeline": {"deals": "pipeline", "tickets": "hs_pipeline"},
    "source": {"customers": "hs_analytics_source"},
}
REPLY_DATES = TICKET_REPLY[1]  # (the lifecycle dates and this are declared in the catalogue)


WINDOW_BITS = 60  # cells per integer column of a customer's won deals (Queries.purchases)


# --- the queries ---------------------------------------------------------------------------

DEAL_PROPERTIES = ("closedate", "createdate", "amount", "amount_in_home_currency", "deal_currency_code",
                   "hs_is_closed_won", "hs_is_closed")
# A deal's state in the deal facts: won, closed and not won, open now, or open now in a stage
# the pipeline settings do not know (deleted?), so nothing could say it closed. Integers: every
# aggregate of the deals scan tests the state, and comparing text cost a tenth of the scan.
WON, LOST, OPEN, UNKNOWN_STAGE = 1, 2, 3, 4
# Over the deal facts: open at P.start / at the end of P = created before it and not closed
# before it; a closed deal without a close time is neither open nor counted in a period.
OPEN_AT_START = f"create_pos = -1 AND (state >= {OPEN} OR close_pos >= 0)"
OPEN_AT_END = f"create_pos <= 0 AND (state >= {OPEN} OR close_pos = 1)"
WON_IN_P = f"state = {WON} AND close_pos = 0"
LOST_IN_P = f"state = {LOST} AND close_pos = 0"

def _shifted(moment: datetime, days: float) -> str:
    try:
        return format_instant(moment - timedelta(days=days))
    except OverflowError:  # an inactivity window longer than recorded history
        return "0001-01-01T00:00:00.000Z"  # (the first instant PostgreSQL reads too)


def _day_twin(instant: str, zone) -> str:
    try:
        moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
        # in the stored form of a date-only value: its date at midnight UTC
        return first_midnight_at_or_after(moment, zone).date().isoformat() + "T00:00:00.000Z"
    except (ValueError, OverflowError):  # the far-past bound of a window longer than history
        return instant


def _bits(low: int, high: int) -> int:
    """The mask of bits low..high (none when high < low)."""
    return ((1 << (high - low + 1)) - 1) << low if high >= low else 0


def _count_pair(first: str, second: str) -> str:
    """Two counts in one aggregate: the rows meeting `first` (the low 32 bits) and, of those, the
    rows meeting `second` too (the bits above); counts_from_row splits the "a+b" name. A scan of a
    million contacts then tests `first` once, not once per count. (No store holds 2^32 records.)"""
    return f"sum(CASE WHEN {second} THEN {1 + PAIR_UNIT} ELSE 1 END) FILTER (WHERE {first})"


def _count(condition: str) -> str:
    # (a condition known to be false, e.g. a column without raw values, costs no test per row)
    return "0" if condition == "0" else f"count(*) FILTER (WHERE {condition})"


class Queries:
    """The KPI queries for one period and one configuration over one store."""

    def __init__(self, view: StoreView, period: Period, settings: MetricsSettings):
        self.view = view
        self.sql = view.sql
        self.settings = settings
        self.inactivity = settings.churn.mode == "inactivity"
        start, end = period.utc_bounds()
        days = settings.churn.inactivity_days
        self.cuts = [moment.astimezone(timezone.utc) for moment in period.boundaries()]
        self.params: dict = {"s": format_instant(start), "e": format_instant(end),
                             # active(c, t) in inactivity mode: the latest purchase p < t has p >= t - L
                             "thr_s": _shifted(start, days), "thr_e": _shifted(end, days),
                             **{f"b{i}": format_instant(cut) for i, cut in enumerate(self.cuts)},
                             **{f"thr{i}": _shifted(cut, days) for i, cut in enumerate(self.cuts)}}
        # Date-only values compare by local date (sql.Instant): every instant gets its twin.
        zone = period.start.tzinfo
        for name, value in list(self.params.items()):
            self.params[name + DAY_SUFFIX] = _day_twin(value, zone)
        # The instants the customer dates and churn dates are compared with, sorted: each record
        # gets the index of its date among them once (a "cell"), and Python counts the cells.
        self.cd_points = sorted({self.params[f"{k}{i}"] for i in range(len(self.cuts)) for k in ("b", "thr")})
        self.params.update({f"cdpt{k}": v for k, v in enumerate(self.cd_points)})
        # a date-only churn date is compared with the cut instants' local dates (sql.Instant)
        day = DAY_SUFFIX if view.instant(settings.customer_object, settings.churn.property).date_only else ""
        self.churn_cut_points = [self.params[f"b{i}{day}"] for i in range(len(self.cuts))]
        self.churn_points = sorted(set(self.churn_cut_points))
        last = len(self.cuts) - 1  # the pairs of cuts whose kept customers count: pieces, and all of P
        self.cut_pairs = [(i, i + 1) for i in range(last)] + ([(0, last)] if last > 1 else [])
        self._cut_test_cache: dict[int, tuple[list[bool], list[bool]]] = {}  # (every CellPlaces numbers cd alike)
        self.params.update({f"chpt{k}": v for k, v in enumerate(self.churn_points)})
        self.params.update({"deals_pipelines": json.dumps(list(settings.deal_pipelines)),
                            "tickets_pipelines": json.dumps(list(settings.ticket_pipelines))})
        # (only the tables the KPIs read: the other customer unit's records count nowhere)
        self.excluded = {t: view.merged_ids(t) for t in (settings.customer_object, "deals", "tickets",
                                                         "feedback_submissions") if view.has(t)}
        for table, ids in self.excluded.items():
            self.params[f"excluded_{table}"] = json.dumps(view.record_keys(table, ids))
        self.home_currency = view.home_currency() or self._single_deal_currency()
        self.params["home_currency"] = self.home_currency
        self._stage_params("deals")

    def on(self, conn) -> "Queries":
        """The same queries over another connection to the same store (for a second thread)."""
        other = copy.copy(self)
        other.view = dataclasses.replace(self.view, conn=conn)
        other.params = dict(self.params)  # (each adds what its own queries need, e.g. `_live_by_key`)
        return other

    # --- shared conditions ----------------------------------------------------------------

    def live(self, table: str, alias: str) -> str:
        """Not archived, not merged away, not named in another record's hs_merged_object_ids."""
        terms = self.view.status_terms(table, alias)
        if self.excluded.get(table):
            terms.append(self.sql.not_among(alias, f"excluded_{table}"))
        return " AND ".join(terms) or self.sql.true

    def in_pipelines(self, table: str, alias: str) -> str:
        """The configured deal or ticket pipelines: they filter every use of deals and tickets."""
        wanted = self.settings.deal_pipelines if table == "deals" else self.settings.ticket_pipelines
        if not wanted:
            return self.sql.true
        column = self.view.column(table, "pipeline" if table == "deals" else "hs_pipeline", alias)
        if column is None:
            return self.sql.false
        return f"coalesce({self.sql.in_json_list(column, f'{table}_pipelines')}, {self.sql.false})"

    def _stage_params(self, table: str) -> None:
        stages = self.view.stages(table)
        kinds = {"known": lambda s: True, "closed": lambda s: s.is_closed,
                 # won by stage metadata = isClosed "true" and probability "1.0"
                 "won": lambda s: s.is_closed and s.probability == 1.0}
        for kind, keep in kinds.items():
            chosen = [s for s in stages if keep(s)]
            self.params[f"{table}_{kind}_pairs"] = json.dumps(sorted({f"{s.pipeline_id}\x1f{s.id}" for s in chosen}))
            self.params[f"{table}_{kind}_ids"] = json.dumps(sorted({s.id for s in chosen}))

    def stage_is(self, table: str, kind: str, alias: str) -> str:
        """The record's (pipeline, stage) is a `kind` stage; by stage id alone when it has no pipeline."""
        pipeline = self.view.column(table, "pipeline" if table == "deals" else "hs_pipeline", alias)
        stage = self.view.column(table, "dealstage" if table == "deals" else "hs_pipeline_stage", alias)
        sql = self.sql
        if stage is None:
            return sql.false
        by_id = f"coalesce({sql.in_json_list(stage, f'{table}_{kind}_ids')}, {sql.false})"
        if pipeline is None:
            return by_id
        pair = sql.in_json_list(f"{pipeline} || {sql.separator} || {stage}", f"{table}_{kind}_pairs")
        return f"(CASE WHEN {pipeline} IS NOT NULL THEN coalesce({pair}, {sql.false}) ELSE {by_id} END)"

    def deal_won(self, alias: str) -> str:
        """hs_is_closed_won = true; empty or unparsable: the stage metadata decides, per record."""
        column = self.view.column("deals", "hs_is_closed_won", alias)
        if column is None:
            return self.stage_is("deals", "won", alias)
        return (f"({self.sql.is_true(column)} OR ({self.sql.flag_unusable(column)} AND "
                f"{self.stage_is('deals', 'won', alias)}))")

    def deal_closed_flag(self, alias: str) -> str:
        """hs_is_closed = true or stage isClosed (lost = this and not won)."""
        column = self.view.column("deals", "hs_is_closed", alias)
        stage = self.stage_is("deals", "closed", alias)
        return stage if column is None else f"({self.sql.is_true(column)} OR {stage})"

    def _single_deal_currency(self) -> str | None:
        """Without the account details: the deals' currency when they all share one."""
        column = self.view.column("deals", "deal_currency_code")
        if column is None:
            return None
        codes = self.view.conn.execute(
            f"SELECT DISTINCT upper(trim({column})) FROM deals WHERE {column} IS NOT NULL AND trim({column}) <> '' "
            f"LIMIT 2").fetchall()
        return codes[0][0] if len(codes) == 1 else None

    def _group(self, family: str, table: str, by: str | None, alias: str) -> str:
        if by is None:
            return "NULL"
        prop = DIMENSION_PROPERTIES[by].get(family)
        column = self.view.column(table, prop, alias) if prop else None
        return column or "NULL"

    def _run(self, table_sql: str, where: str, group: str, aggregates: list[tuple[str, str]], by: str | None,
             prefix: str = "") -> dict[str, dict]:
        select = ",\n  ".join(f"{expr} AS {quote(name)}" for name, expr in aggregates)
        sql = f"{prefix}SELECT {group} AS grp,\n  {select}\nFROM {table_sql}\nWHERE {where}"
        if by is not None:
            sql += "\nGROUP BY grp"
        out = {}
        for row in self.view.conn.execute(sql, self.params):
            key = ALL if by is None else group_key(row[0])
            values = dict(zip((name for name, _ in aggregates), row[1:]))
            if key in out:  # e.g. 7 and '7' as owner ids
                for name, value in values.items():
                    out[key][name] = merge_values(out[key][name], value)
            else:
                out[key] = values
        return out

    def _cells(self, inner: str, cells: list[tuple[str, str]], by: str | None, prefix: str = "") -> dict[str, Counter]:
        """How many rows of `inner` share each value of `cells` (name, expression), per group:
        group key -> Counter of cell values. SQLite's rows are counted here: its GROUP BY sorted
        every row first, which cost more than counting them in Python; PostgreSQL groups them itself."""
        select = ",\n  ".join(f"{expr} AS {name}" for name, expr in cells)
        group = f"\nGROUP BY {', '.join(['grp', *(name for name, _ in cells)])}" if self.sql.postgres else ""
        sql = (f"{prefix}SELECT {'grp' if by else 'NULL'} AS grp,\n  {select},\n  "
               f"{'count(*)' if group else '1'} AS n\nFROM {inner}{group}")
        out: dict[str, Counter] = {}
        for (grp, *values, n), times in Counter(self.view.conn.execute(sql, self.params)).items():
            key = ALL if by is None else group_key(grp)
            if key not in out:
                out[key] = Counter()
            out[key][tuple(values)] += n * times
        return out

    @staticmethod
    def _ladder(fact: str, points: list[str], param: str) -> str:
        """The index of `fact` among the sorted `points` (how many are <= it); -1 when NULL.
        A binary search written as nested CASEs: a year has 26 points, and a chain of 26
        comparisons ran for every one of a few hundred thousand values."""
        def search(low: int, high: int) -> str:  # the index, known to lie in low..high
            if low == high:
                return str(low)
            middle = (low + high) // 2  # fact < points[middle] means the index is <= middle
            return f"CASE WHEN {fact} < :{param}{middle} THEN {search(low, middle)} ELSE {search(middle + 1, high)} END"
        return f"(CASE WHEN {fact} IS NULL THEN -1 ELSE {search(0, len(points))} END)"

    # --- customers ------------------------------------------------------------------------

    def customers(self, by: str | None = None) -> dict[str, CustomerCounts]:
        """One scan. The counts of P are conditions of the scan; who is active at each cut
        instant of P is counted in Python from the customer dates (and churn dates) that can
        matter, which come back as one list: a year's twelve monthly pieces would otherwise
        cost dozens of conditions per record."""
        table = self.settings.customer_object
        if not self.view.has(table):
            return {}
        cd = self.view.instant(table, *CUSTOMER_DATE, alias="c")
        ld = self.view.instant(table, *LEAD_DATE, alias="c")
        aggregates = [
            ("records", "count(*)"),
            # a cohort of the leads of P; converted = customer date before P.end (docs/metrics.md, "conversion_rate")
            ("leads+converted", _count_pair(ld.between(":s", ":e"), cd.before(":e"))),
        ]
        created = self.view.instant(table, "createdate", alias="c")
        if created.columns:
            # lead_to_customer_days: from the record's creation to its customer date; the new
            # customers created after it are the ones with a createdate less those in the list
            since_created = f"{cd.between(':s', ':e')} AND {created.value()} IS NOT NULL"
            aggregates += [
                ("new_customers+new_with_createdate", _count_pair(cd.between(":s", ":e"),
                                                                  f"{created.value()} IS NOT NULL")),
                ("lead_to_customer_ms", self.sql.json_list(self.sql.ms_between(cd.value(), created.value()),
                                                           f"{since_created} AND {cd.value()} >= {created.value()}")),
            ]
        else:
            aggregates.append(("new_customers", _count(cd.between(":s", ":e"))))
        dated = list(CUSTOMER_DATE + LEAD_DATE)
        last = len(self.cuts) - 1
        # Each customer date that can matter comes back as its cell among the cut points, and
        # with its churn date's cell, as one integer (cd cell * base + churn cell + 1): Python
        # then counts a few distinct numbers instead of placing a hundred thousand dates.
        base = len(self.churn_points) + 2
        cd_cell = self._ladder(cd.value(), self.cd_points, "cdpt")
        if self.inactivity:
            # Active by the customer date alone (it is a purchase): cd in [t - L, t), so only
            # dates in [b_0 - L, b_last) matter. Customers kept active by a won deal are added
            # by `purchases`, which sees their deals.
            aggregates.append(("cd_cells", self.sql.json_list(f"{cd_cell} * {base}",
                                                              cd.between(':thr0', f':b{last}'))))
        else:
            churn = self.view.instant(table, self.settings.churn.property, alias="c")
            # an empty or unparsable churn date means not churned (docs/metrics.md, "Churn"): cell -1
            churn_cell = self._ladder(churn.value(), self.churn_points, "chpt")
            aggregates.append(("cd_cells", self.sql.json_list(f"{cd_cell} * {base} + {churn_cell} + 1",
                                                              cd.before(f':b{last}'))))
            dated.append(self.settings.churn.property)
        aggregates += self._unparsable_instants(table, dated, "c")
        rows = self._run(f"{quote(table)} c", self.live(table, "c"), self._group("customers", table, by, "c"),
                         aggregates, by)
        groups = {key: counts_from_row(CustomerCounts, values) for key, values in rows.items()}
        places = CellPlaces(self.cd_points, self.churn_points)
        for counts in groups.values():
            counts.lead_to_customer_negative = counts.new_with_createdate - len(counts.lead_to_customer_ms)
            for cell, n in Counter(counts.cd_cells).items():
                cd_cell, churn_cell = divmod(cell, base)
                self._count_active(counts, places, cd_cell, churn_cell - 1, n, None)
            counts.cd_cells = []
        for key, extra in self.purchases(by).items():
            groups.setdefault(key, CustomerCounts()).add(extra)
        for counts in groups.values():
            counts.at_start = counts.active.get(0, 0)
            counts.retained = counts.both.get((0, last), 0)
        return groups

    def _cut_tests(self, places: "CellPlaces", cd_cell: int) -> tuple[list[bool], list[bool]]:
        """Per cut b_i, for a customer date in `cd_cell`: cd < b_i, and (inactivity mode)
        cd >= b_i - L. A year's few dozen cells recur in thousands of calls, so each is worked out once."""
        tests = self._cut_test_cache.get(cd_cell)
        if tests is None:
            cuts = range(len(self.cuts))
            tests = self._cut_test_cache[cd_cell] = (
                [places.cd_before(cd_cell, self.params[f"b{i}"]) for i in cuts],
                [places.cd_at_or_after(cd_cell, self.params[f"thr{i}"]) for i in cuts] if self.inactivity else [])
        return tests

    def _count_active(self, counts: "CustomerCounts", places: "CellPlaces", cd_cell: int, churn_cell: int, n: int,
                      purchased: tuple | None) -> None:
        """Add `n` records whose customer date lies in `cd_cell` (and churn date in `churn_cell`)
        to A(b_i), to each piece's kept customers and to R(P) (docs/metrics.md, "Churn").

        `purchased` (inactivity mode, from `purchases`): per cut, whether a won deal closed in
        [b_i - L, b_i); then only what the customer date alone did not already count is added."""
        last = len(self.cuts) - 1
        cuts = range(last + 1)
        before, recent = self._cut_tests(places, cd_cell)
        if self.inactivity:
            by_date = lambda i, j: recent[j] and before[i]  # cd in [b_j - L, b_i)
            if purchased is None:
                active = lambda i: by_date(i, i)
                both = by_date
            else:
                full = [before[i] and (recent[i] or bool(purchased[i])) for i in cuts]
                active = lambda i: full[i] and not by_date(i, i)
                both = lambda i, j: full[i] and full[j] and not by_date(i, j)
        else:
            # no churn date (empty or unparsable): not churned
            not_churned = [churn_cell == -1 or places.churn_at_or_after(churn_cell, self.churn_cut_points[i])
                           for i in cuts]
            active = lambda i: before[i] and not_churned[i]
            both = lambda i, j: before[i] and not_churned[j]
        for i in cuts:
            if active(i):
                counts.active[i] = counts.active.get(i, 0) + n
        for i, j in self.cut_pairs:
            if both(i, j):
                counts.both[(i, j)] = counts.both.get((i, j), 0) + n
        for i in range(last):
            counts.kept[i] = counts.both.get((i, i + 1), 0)

    def purchases(self, by: str | None = None) -> dict[str, CustomerCounts]:
        """Customers' won deals: paying customers of P and, in inactivity mode, the customers a
        won deal keeps active (purchases = cd plus the close times of won deals; docs/metrics.md,
        "Churn").

        Only won deals closed in [P.start - L, P.end) can matter: an older one is too old to
        keep anyone active at P.start. The deals are read by a sequential scan (`+` keeps
        SQLite off an index whose random row reads cost more here) and drive the join
        (`CROSS JOIN` fixes that order).
        """
        table = self.settings.customer_object
        assoc, deal_column, customer_column = CUSTOMER_ASSOCIATIONS[table]
        close = self.view.column("deals", "closedate", "d")
        if assoc not in self.view.tables or not self.view.has("deals") or not self.view.has(table) or close is None:
            return {}
        low = ":thr_s" if self.inactivity else ":s"
        sql = self.sql
        # Each won deal's close time becomes its cell among the sorted cut points (the ones the
        # customer dates are placed among: every b_i and b_i - L), and each customer the set of
        # its deals' cells, as bits of a few integers: customers then group by a few numbers.
        # Whether a customer paid in P (a close >= P.start = b_0) and was kept active at b_i (a
        # close in [b_i - L, b_i)) follows from the cells in Python. A SQLite integer holds 63
        # bits, so a long range's cells fill several columns.
        points = self.cd_points
        chunks = range(0, len(points) + 1, WINDOW_BITS)
        cells = "".join(f", {sql.bit_union('cell', k, WINDOW_BITS)} AS cells{n}" for n, k in enumerate(chunks))
        prefix = f"""WITH won AS (
    SELECT a.{quote(customer_column)} AS cid, {self._ladder(close, points, "cdpt")} AS cell
    FROM deals d {sql.join_in_order} {quote(assoc)} a ON a.{quote(deal_column)} = d.id
    WHERE {sql.no_index}{close} >= {low} AND {sql.no_index}{close} < :e AND {sql.valid_instant(close, self.view.raw_instants("deals", "closedate"))}
      AND {self.live('deals', 'd')} AND {self.in_pipelines('deals', 'd')} AND {self.deal_won('d')}
), per_customer AS (
    SELECT cid{cells}
    FROM won GROUP BY cid
)
"""
        cd = self.view.instant(table, *CUSTOMER_DATE, alias="c")
        inner = (f"(SELECT p.*, {cd.value()} AS cd, {self._group('customers', table, by, 'c')} AS grp\n"
                 f"  FROM per_customer p JOIN {quote(table)} c ON c.id = p.cid WHERE {self.live(table, 'c')}\n"
                 f"  {sql.no_flatten}) x")
        cell_columns = [("cd_cell", self._ladder("cd", points, "cdpt"))]
        cell_columns += [(f"deal_cells{n}", f"cells{n}") for n in range(len(chunks))]
        places = CellPlaces(points, [])
        paid_from = places.cd_index[self.params["b0"]] + 1  # a close at or after P.start
        # per cut b_i, the cells of [b_i - L, b_i): thr_i + 1 .. b_i, as a mask
        spans = [_bits(places.cd_index[self.params[f"thr{i}"]] + 1, places.cd_index[self.params[f"b{i}"]])
                 for i in range(len(self.cuts))] if self.inactivity else []
        windows_of = {}  # the cells of a customer's deals -> (paid in P, kept active at each cut)
        groups = {}
        for key, rows in self._cells(inner, cell_columns, by, prefix=prefix).items():
            tally: Counter = Counter()
            for cell, count in rows.items():
                deal_cells = sum((mask or 0) << (n * WINDOW_BITS) for n, mask in enumerate(cell[1:]))
                if deal_cells not in windows_of:
                    windows_of[deal_cells] = (deal_cells >> paid_from != 0,
                                              tuple(deal_cells & span != 0 for span in spans))
                tally[(cell[0], windows_of[deal_cells])] += count
            counts = groups[key] = CustomerCounts()
            for (cd_cell, (paid, windows)), n in tally.items():
                if paid:
                    counts.paying += n
                if self.inactivity:
                    self._count_active(counts, places, cd_cell, -1, n, windows)
        return groups

    def _unparsable_instants(self, table: str, props, alias: str) -> list[tuple[str, str]]:
        out = []
        for prop in dict.fromkeys(props):
            column = self.view.column(table, prop, alias)
            if column is not None:
                out.append((f"unparsable:{prop}", _count(self.sql.unparsable(
                    column, f"{alias}.id", table, prop, "instant", self.view.raw_instants(table, prop)))))
        return out

    # --- deals -----------------------------------------------------------------------------

    def _deal_facts(self, by: str | None, extra: tuple[str, ...] = (), everyone: bool = False) -> str:
        """Each live deal of the configured pipelines with its facts stated once: won / closed /
        open, where its close and create times fall against P, its group. `extra` properties
        are passed through; `everyone` keeps archived and merged deals too, flagged by `live`
        (explain lists them as left out)."""
        col = lambda prop: self.view.column("deals", prop, "d")
        passed = {p: col(p) for p in (*DEAL_PROPERTIES, *extra) if col(p)}
        # Without any stage settings, no stage is "unknown": every open deal is simply open.
        stage_known = (f"{col('dealstage')} IS NULL OR {self.stage_is('deals', 'known', 'd')}"
                       if col("dealstage") and self.params["deals_known_pairs"] != "[]" else self.sql.true)
        facts = ",\n    ".join([
            f"CASE WHEN {self.deal_won('d')} THEN {WON} WHEN {self.deal_closed_flag('d')} THEN {LOST} "
            f"WHEN {stage_known} THEN {OPEN} ELSE {UNKNOWN_STAGE} END AS state",
            f"{self.view.instant('deals', 'closedate', alias='d').position(':s', ':e')} AS close_pos",
            f"{self.view.instant('deals', 'createdate', alias='d').position(':s', ':e')} AS create_pos",
            f"{self._group('deals', 'deals', by, 'd')} AS grp",
            "d.id AS deal_id",
            *(f"{c} AS {quote(p)}" for p, c in passed.items()),
            *([f"{self.live('deals', 'd')} AS live"] if everyone else []),
        ])
        where = " AND ".join([*([] if everyone else [self.live("deals", "d")]), self.in_pipelines("deals", "d")])
        return (f"(SELECT {facts}\n  FROM deals d WHERE {where}"
                # LIMIT keeps SQLite from flattening the facts into every aggregate below
                f"\n  {self.sql.no_flatten}) x")

    def _deal_ref(self, prop: str) -> str:
        return quote(prop) if self.view.column("deals", prop) else "NULL"

    def deals(self, by: str | None = None) -> dict[str, DealCounts]:
        """One pass: an inner query states each deal's facts once, the outer query counts them."""
        if not self.view.has("deals"):
            return {}
        col = lambda prop: self.view.column("deals", prop, "d")
        ref = self._deal_ref
        amount = self._amount(ref)
        sql = self.sql
        won_in_p = WON_IN_P
        cycle = sql.ms_between(ref('closedate'), ref('createdate'))
        aggregates = [
            ("records", "count(*)"),
            ("won", _count(won_in_p)),
            ("lost", _count(LOST_IN_P)),
            # Amounts come back one by one so that Python adds them exactly (math.fsum).
            ("won_amounts", sql.json_list(amount, f"{won_in_p} AND {amount} IS NOT NULL")),
            ("customer_amounts", sql.json_list(amount, f"{won_in_p} AND {amount} IS NOT NULL "
                                                       f"AND {self._has_customer('x.deal_id')}")),
            # The won deals of P split three ways: no createdate, a cycle >= 0 (listed), and a
            # negative one, which is what the other two leave (one condition less per row).
            ("cycles_ms", sql.json_list(cycle, f"{won_in_p} AND create_pos IS NOT NULL "
                                               f"AND {ref('closedate')} >= {ref('createdate')}")),
            ("won_without_createdate", _count(f"{won_in_p} AND create_pos IS NULL")),
            ("won_foreign_without_home", _count(f"{won_in_p} AND {amount} IS NULL AND {sql.number(ref('amount'))} IS NOT NULL")),
            ("new_deals", _count("create_pos = 0")),
            ("open_at_start", _count(OPEN_AT_START)),
            ("open_amounts", sql.json_list(amount, f"{OPEN_AT_END} AND {amount} IS NOT NULL")),
            # canonical instants, so that stale deals are a text comparison once the cycle is
            # known; one per open deal, so it counts them too
            ("open_created", sql.json_list(sql.instant_text(ref('createdate')), OPEN_AT_END)),
            ("closed_without_closedate", _count(f"state <= {LOST} AND close_pos IS NULL")),
            ("unknown_stage", _count(f"state = {UNKNOWN_STAGE}")),
        ]
        for prop, kind in (("closedate", "instant"), ("createdate", "instant"), ("amount", "number"),
                           ("amount_in_home_currency", "number"), ("hs_is_closed_won", "flag"), ("hs_is_closed", "flag")):
            if not col(prop):
                continue
            raw = self.view.raw_instants("deals", prop) if kind == "instant" else None
            if kind == "instant" and raw is None and not sql.postgres:  # present without a position: not an instant
                bad = f"{quote(prop)} IS NOT NULL AND {'close_pos' if prop == 'closedate' else 'create_pos'} IS NULL"
            else:  # an instant: one of the few raw values the store lists (none: a constant 0)
                bad = sql.unparsable(quote(prop), "deal_id", "deals", prop, kind, raw)
            aggregates.append((f"unparsable:{prop}", _count(bad)))
        rows = self._run(self._deal_facts(by), sql.true, "grp" if by else "NULL", aggregates, by)
        groups = {key: counts_from_row(DealCounts, values) for key, values in rows.items()}
        for counts in groups.values():
            counts.negative_cycle = counts.won - counts.won_without_createdate - len(counts.cycles_ms)
            counts.open = len(counts.open_created)
            counts.won_without_amount = counts.won - len(counts.won_amounts)
            counts.open_without_amount = counts.open - len(counts.open_amounts)
            counts.cycles_ms.sort()  # here, in the query's lane: the median then costs a pass, not a sort
        return groups

    def _has_customer(self, deal_id: str) -> str:
        """The deal is associated with at least one live record of the customer unit."""
        table = self.settings.customer_object
        assoc, deal_column, customer_column = CUSTOMER_ASSOCIATIONS[table]
        if assoc not in self.view.tables or not self.view.has(table):
            return self.sql.false
        return (f"EXISTS (SELECT 1 FROM {quote(assoc)} a JOIN {quote(table)} c ON c.id = a.{quote(customer_column)} "
                f"WHERE a.{quote(deal_column)} = {deal_id} AND {self._live_by_key(table, 'c')})")

    def _live_by_key(self, table: str, alias: str) -> str:
        """`live`, decided by the record's key alone where the store allows it (SQLite: the rowid,
        which the id index holds), so that a join asking only whether a live record exists
        reads no table row: a third of the deals scan went to reading won deals' contacts. The
        keys are read here, in the lane that runs the join, not before both lanes start."""
        name = f"not_live_{table}"
        if name not in self.params:
            if (self.sql.postgres or table not in self.excluded
                    or not all(self.view.column(table, c) for c in ("archived", "merged_into"))):
                return self.live(table, alias)
            self.params[name] = json.dumps(self.view.not_live_keys(table, self.excluded.get(table, [])))
        return self.sql.not_among(alias, name)

    def _amount(self, ref) -> str:
        """amount_in_home_currency, else amount when the deal is in the home currency."""
        home = ref("amount_in_home_currency")
        currency = ref("deal_currency_code")
        # no currency, or the home one (the won deals of a year test this several times each)
        in_home = self.sql.true if currency == "NULL" else f"coalesce(upper(trim({currency})), '') IN ('', :home_currency)"
        return (f"(CASE WHEN {self.sql.is_number(home)} THEN {home} "
                f"WHEN {in_home} THEN {self.sql.number(ref('amount'))} END)")

    # --- tickets ---------------------------------------------------------------------------

    def tickets(self, by: str | None = None) -> dict[str, TicketCounts]:
        """One pass: the inner query states each ticket's first reply once, and only for the
        tickets created in P ('' when there is none); the outer query counts."""
        if not self.view.has("tickets"):
            return {}
        col, passed = lambda prop: self.view.column("tickets", prop), ("createdate",) + REPLY_DATES
        inner = self._ticket_facts(by)
        created = quote("createdate") if col("createdate") else "NULL"
        sql = self.sql
        none = sql.no_instant()
        aggregates = [
            ("records", "count(*)"),
            ("created", "count(reply)"),
            ("unanswered", _count(f"reply = {none}")),
            # the answered ones are listed, or (replied "before" creation) negative
            ("responses_ms", sql.json_list(sql.ms_between("reply", created),
                                           f"reply <> {none} AND reply >= {created}")),
        ]
        aggregates += [(f"unparsable:{p}", _count(sql.unparsable(quote(p), "ticket_id", "tickets", p, "instant",
                                                                 self.view.raw_instants("tickets", p))))
                       for p in passed if col(p)]
        rows = self._run(inner, sql.true, "grp" if by else "NULL", aggregates, by)
        groups = {key: counts_from_row(TicketCounts, values) for key, values in rows.items()}
        for counts in groups.values():
            counts.negative = counts.created - counts.unanswered - len(counts.responses_ms)
            counts.responses_ms.sort()  # (as deals' cycles)
        return groups

    def _ticket_facts(self, by: str | None, extra: tuple[str, ...] = (), everyone: bool = False) -> str:
        """Each live ticket of the configured pipelines with its first reply, stated only for
        the tickets created in P (sql.no_instant() when there is none; NULL outside P). `extra`
        and `everyone` as in `_deal_facts`."""
        col = lambda prop: self.view.column("tickets", prop, "t")
        in_p = self.view.instant("tickets", "createdate", alias="t").between(":s", ":e")
        sql = self.sql
        # the reply is the earliest of the two timestamps that hold one (docs/metrics.md, "Tickets")
        replies = [(c, sql.valid_instant(c, self.view.raw_instants("tickets", p)))
                   for c, p in ((col(p), p) for p in REPLY_DATES) if c]
        if len(replies) == 2:
            (a, a_valid), (b, b_valid) = replies
            reply = (f"CASE WHEN {a_valid} AND {b_valid} THEN {sql.earliest(a, b)} WHEN {a_valid} THEN {a} "
                     f"WHEN {b_valid} THEN {b} END")
        else:
            reply = f"CASE WHEN {replies[0][1]} THEN {replies[0][0]} END" if replies else "NULL"
        passed = {p: col(p) for p in ("createdate",) + REPLY_DATES + extra if col(p)}
        facts = ",\n    ".join([
            f"CASE WHEN {in_p} THEN coalesce({reply}, {sql.no_instant()}) END AS reply",
            f"{self._group('tickets', 'tickets', by, 't')} AS grp",
            "t.id AS ticket_id", *([f"{self.live('tickets', 't')} AS live"] if everyone else []),
            *(f"{c} AS {quote(p)}" for p, c in passed.items()),
        ])
        where = " AND ".join([*([] if everyone else [self.live("tickets", "t")]), self.in_pipelines("tickets", "t")])
        return f"(SELECT {facts}\n  FROM tickets t WHERE {where}\n  {sql.no_flatten}) x"

    # --- survey answers ---------------------------------------------------------------------

    def surveys(self) -> SurveyCounts:
        counts = SurveyCounts()
        table = "feedback_submissions"
        if not self.view.has(table):
            return counts
        kind, value = self.view.column(table, "hs_survey_type", "f"), self.view.column(table, "hs_value", "f")
        stamp = self.view.instant(table, "hs_submission_timestamp", alias="f")
        in_p = f"{kind} IN ('NPS', 'CSAT') AND {stamp.between(':s', ':e')}" if kind else self.sql.false
        # The raw answers of P come back as one JSON list; parsing them (docs/metrics.md, "Surveys")
        # is Python's job. Each answer is its (survey, value) pair as JSON text, so that a
        # hundred thousand answers are counted as a few distinct strings.
        pair = self.sql.json_pair(kind or "NULL", value or "NULL")
        aggregates = [("records", "count(*)"), *self._unparsable_instants(table, ("hs_submission_timestamp",), "f"),
                      ("answers", self.sql.json_list(self.sql.as_text(pair), in_p))]
        values = self._run(f"{table} f", self.live(table, "f"), "NULL", aggregates, None)[ALL]
        counts.records = values["records"]
        counts.unparsable = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("unparsable:") and v}
        answers: dict = {}
        for pair, n in Counter(json.loads(values["answers"] or "[]")).items():
            key = tuple(json.loads(pair))  # (two texts can be one answer: 9 and 9.0, 0 and -0)
            answers[key] = answers.get(key, 0) + n
        counts.answers = answers
        return counts

    # --- excluded records -------------------------------------------------------------------

    def exclusions(self, table: str) -> dict[str, int]:
        """Records left out: archived, and merged away (marked, or named by a survivor). The
        WHERE clause is that of the partial index `ensure_indexes` makes, so this reads only it."""
        has = lambda name: self.view.column(table, name) is not None
        if not self.view.has(table) or not has("archived") or not has("merged_into"):
            return {"archived": 0, "merged": len(self.excluded.get(table, []))}
        n_archived, n_merged = self.view.conn.execute(
            f"SELECT {_count(self.sql.archived('archived'))}, {_count(self.sql.not_archived('archived'))} "
            f"FROM {quote(table)} WHERE {excluded_where(dialect_of(self.view.conn))}").fetchone()
        return {"archived": n_archived, "merged": n_merged + len(self.excluded.get(table, []))}

