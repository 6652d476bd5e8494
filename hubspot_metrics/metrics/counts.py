"""What the aggregate queries count, as additive records: the counts of one family of records
(customers, deals, tickets, survey answers) for one group of a breakdown. Counts of a family add
up across groups (`add`), so a total is the sum of its groups (`total`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields


@dataclass
class Counts:
    def add(self, other: "Counts") -> None:
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, dict):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v
            else:
                setattr(self, f.name, mine + theirs)

    @classmethod
    def total(cls, groups: dict) -> "Counts":
        out = cls()
        for counts in groups.values():
            out.add(counts)
        return out


@dataclass
class CustomerCounts(Counts):
    records: int = 0          # live records of the customer unit
    new_customers: int = 0    # cd in P
    leads: int = 0            # ld in P
    converted: int = 0        # ld in P and cd < P.end
    at_start: int = 0         # |S(P)|
    retained: int = 0         # |R(P)|
    paying: int = 0           # associated with a won deal closed in P
    active: dict = field(default_factory=dict)  # cut i -> |A(b_i)| (Period.boundaries); no entry when 0
    kept: dict = field(default_factory=dict)    # piece i -> active at b_i and at b_i+1: |R(m)|
    both: dict = field(default_factory=dict)    # (i, j) -> active at b_i and at b_j
    lead_to_customer_ms: list = field(default_factory=list)  # cd - createdate, new customers of P, >= 0
    lead_to_customer_negative: int = 0
    new_with_createdate: int = 0  # new customers of P that have a createdate
    cd_cells: list = field(default_factory=list)  # cells of the customer (and churn) dates that can matter
    unparsable: dict = field(default_factory=dict)


@dataclass
class DealCounts(Counts):
    records: int = 0
    won: int = 0                      # won, close time in P
    lost: int = 0
    won_amounts: list = field(default_factory=list)       # amounts of the won deals of P that have one
    customer_amounts: list = field(default_factory=list)  # of those, deals with a customer-unit record
    cycles_ms: list = field(default_factory=list)  # closedate - createdate of won deals in P, >= 0
    negative_cycle: int = 0
    won_without_createdate: int = 0
    won_without_amount: int = 0
    won_foreign_without_home: int = 0  # of those: an amount, but in another currency
    new_deals: int = 0                # created in P
    open_at_start: int = 0            # open at P.start
    open: int = 0                     # open at P.end (as_of for an open period)
    open_amounts: list = field(default_factory=list)
    open_created: list = field(default_factory=list)  # createdate of the open deals, for stale ones
    open_without_amount: int = 0
    closed_without_closedate: int = 0
    unknown_stage: int = 0            # open, in a stage missing from the pipeline settings
    unparsable: dict = field(default_factory=dict)


@dataclass
class TicketCounts(Counts):
    records: int = 0
    created: int = 0           # created in P
    unanswered: int = 0
    negative: int = 0          # replied before createdate
    responses_ms: list = field(default_factory=list)
    unparsable: dict = field(default_factory=dict)


@dataclass
class SurveyCounts(Counts):
    records: int = 0
    answers: dict = field(default_factory=dict)   # (survey type, raw hs_value) -> submissions in P
    unparsable: dict = field(default_factory=dict)


def merge_values(a, b):
    """Two aggregate values of one group added: numbers summed, JSON arrays concatenated."""
    if isinstance(a, str):  # json arrays of durations
        return json.dumps(json.loads(a) + json.loads(b))
    return (a or 0) + (b or 0)


PAIR_UNIT = 1 << 32  # the second count of a pair "a+b" counts in units of this (queries._count_pair)


def counts_from_row(cls, values: dict):
    """A counts record of class `cls` from one result row of aggregates (name -> value)."""
    counts = cls()
    for name, value in values.items():
        if name.startswith("unparsable:"):
            if value:
                counts.unparsable[name.split(":", 1)[1]] = value
        elif "+" in name:  # two counts in one number
            first, second = name.split("+")
            setattr(counts, first, int(value or 0) % PAIR_UNIT)
            setattr(counts, second, int(value or 0) // PAIR_UNIT)
        elif ":" in name:  # active:3 -> counts.active[3]
            field_name, index = name.split(":")
            getattr(counts, field_name)[int(index)] = value or 0
        elif isinstance(getattr(counts, name), list):  # json arrays of durations or amounts
            setattr(counts, name, json.loads(value) if value else [])
        else:
            setattr(counts, name, value or (0.0 if isinstance(getattr(counts, name), float) else 0))
    return counts


def group_key(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():  # an id stored as a number
        return str(int(value))
    return str(value)


class CellPlaces:
    """Where a date lies among sorted cut instants, as `queries.Queries._ladder` numbers it: cell k
    means points[k-1] <= date < points[k]; -1 means no date (every comparison is false)."""

    def __init__(self, cd_points: list[str], churn_points: list[str]):
        self.cd_index = {p: k for k, p in enumerate(cd_points)}
        self.churn_index = {p: k for k, p in enumerate(churn_points)}

    def cd_at_or_after(self, cell: int, point: str) -> bool:
        return cell != -1 and cell > self.cd_index[point]

    def cd_before(self, cell: int, point: str) -> bool:
        return cell != -1 and cell <= self.cd_index[point]

    def cd_in(self, cell: int, low: str, high: str) -> bool:
        return self.cd_at_or_after(cell, low) and self.cd_before(cell, high)

    def churn_at_or_after(self, cell: int, point: str) -> bool:
        return cell != -1 and cell > self.churn_index[point]
