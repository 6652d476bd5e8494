"""CRM search semantics: filter groups, one sort, free-text query.

A query is compiled once into filters over arrays of record positions. Filters and sorts on
datetime, date and number properties run on numpy snapshots of those columns (cached per
portal version), so a million-record scan takes a fraction of a second; other properties fall
back to Python predicates. The matching positions, in order, are cached per (query, portal
version), so paging through a result set costs a slice per page rather than a scan.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from .formats import parse_time
from .store import LIVE, ROLE_BITS, Portal, Table

OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
ASSOCIATION_PREFIX = "associations."


class SearchError(ValueError):
    """An invalid search request (HubSpot answers 400 VALIDATION_ERROR)."""


def _kind(table: Table, name: str) -> str:
    prop = table.props.get(name)
    if prop is None:
        return "missing"
    if prop.type in ("datetime", "date"):
        return "time"
    if prop.type == "number":
        return "number"
    if prop.type == "string":
        return "text"
    return "exact"  # enumeration, bool: case-sensitive internal values


def _getter(table: Table, name: str, kind: str) -> Callable[[int], Any]:
    """Position -> comparable value, or None when the record has no (usable) value."""
    if kind == "missing":
        return lambda p: None
    col = table.cols[name]
    if kind == "time":
        def get(p):
            v = col[p]
            if v is None or v.__class__ is int:
                return v
            return parse_time(v)
    elif kind == "number":
        def get(p):
            v = col[p]
            if v is None or v.__class__ is int:
                return v
            try:
                return float(v)
            except ValueError:
                return None
    elif kind == "text":
        def get(p):
            v = col[p]
            return v.lower() if v else None
    else:
        def get(p):
            v = col[p]
            if v is None or v.__class__ is int:
                return v
            return v or None  # "" is no value for search
    return get


def _operand(kind: str, value: Any, name: str) -> Any:
    if value is None:
        raise SearchError(f"Filter on {name} needs a value")
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    if kind == "time":
        ms = parse_time(text)
        if ms is None:
            raise SearchError(f"{text} is not a valid value for property {name}: use epoch milliseconds")
        return ms
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            raise SearchError(f"{text} is not a valid number for property {name}") from None
    if kind == "text":
        return text.lower()
    return text


Mask = Callable[[np.ndarray], np.ndarray]


def _python_mask(predicate: Callable[[int], bool]) -> Mask:
    return lambda pos: np.fromiter((predicate(p) for p in pos.tolist()), dtype=bool, count=len(pos))


def _numeric_mask(values: Callable[[np.ndarray], np.ndarray], op: str, operand: Any, high: Any = None) -> Mask:
    """Comparisons on float snapshots; NaN (no usable value) fails every test except NEQ/NOT_IN."""
    if op == "EQ":
        return lambda pos: values(pos) == operand
    if op == "NEQ":
        return lambda pos: ~(values(pos) == operand)
    if op == "IN":
        return lambda pos: np.isin(values(pos), list(operand))
    if op == "NOT_IN":
        return lambda pos: ~np.isin(values(pos), list(operand))
    if op == "BETWEEN":
        return lambda pos: (values(pos) >= operand) & (values(pos) <= high)
    compare = {"LT": np.less, "LTE": np.less_equal, "GT": np.greater, "GTE": np.greater_equal}[op]
    return lambda pos: compare(values(pos), operand)


def _compile_filter(portal: Portal, table: Table, f: dict, snapshot: Callable[[str, str], np.ndarray]) -> Mask:
    if not isinstance(f, dict):
        raise SearchError("Each filter must be an object")
    name, op = f.get("propertyName"), f.get("operator", "EQ")
    if not isinstance(name, str) or not name:
        raise SearchError("Filter is missing propertyName")
    if op not in OPERATORS:
        raise SearchError(f"Unknown operator {op!r}; use one of {', '.join(sorted(OPERATORS))}")
    if name.startswith(ASSOCIATION_PREFIX):
        return _python_mask(_association_filter(portal, table, name[len(ASSOCIATION_PREFIX):], op, f))
    kind = _kind(table, name)
    if kind in ("time", "number") and op not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN",
                                                   "NOT_CONTAINS_TOKEN"):
        column = snapshot(name, kind)

        def values(pos: np.ndarray) -> np.ndarray:
            return column[pos]
        if op in ("IN", "NOT_IN"):
            listed = f.get("values")
            if not isinstance(listed, list) or not listed:
                raise SearchError(f"{op} filter on {name} needs a non-empty values list")
            return _numeric_mask(values, op, {_operand(kind, v, name) for v in listed})
        operand = _operand(kind, f.get("value"), name)
        high = _operand(kind, f.get("highValue"), name) if op == "BETWEEN" else None
        return _numeric_mask(values, op, operand, high)
    return _python_mask(_predicate(table, name, kind, op, f))


def _predicate(table: Table, name: str, kind: str, op: str, f: dict) -> Callable[[int], bool]:
    get = _getter(table, name, kind)
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        raw = table.cols.get(name)
        if raw is None:
            return (lambda p: False) if op == "HAS_PROPERTY" else (lambda p: True)

        def has(p: int) -> bool:
            return raw[p] is not None and raw[p] != ""
        return has if op == "HAS_PROPERTY" else (lambda p: not has(p))
    if op in ("IN", "NOT_IN"):
        values = f.get("values")
        if not isinstance(values, list) or not values:
            raise SearchError(f"{op} filter on {name} needs a non-empty values list")
        wanted = {_operand(kind, v, name) for v in values}
        if op == "IN":
            return lambda p: get(p) in wanted
        return lambda p: get(p) not in wanted
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(f.get("value", "")).strip("*").lower()
        col = table.cols.get(name)
        if col is None:
            return (lambda p: False) if op == "CONTAINS_TOKEN" else (lambda p: True)

        def contains(p: int) -> bool:
            return isinstance(col[p], str) and token in col[p].lower()
        return contains if op == "CONTAINS_TOKEN" else (lambda p: not contains(p))
    value = _operand(kind, f.get("value"), name)
    if op == "EQ":
        return lambda p: get(p) == value
    if op == "NEQ":
        return lambda p: get(p) != value
    if op == "BETWEEN":
        high = _operand(kind, f.get("highValue"), name)

        def between(p):
            v = get(p)
            return v is not None and value <= v <= high
        return between
    compare = {"LT": lambda v: v < value, "LTE": lambda v: v <= value,
               "GT": lambda v: v > value, "GTE": lambda v: v >= value}[op]

    def ordered(p):
        v = get(p)
        try:
            return v is not None and compare(v)
        except TypeError:
            return False
    return ordered


def _association_filter(portal: Portal, table: Table, singular: str, op: str, f: dict) -> Callable[[int], bool]:
    """`associations.contact EQ 123`: records associated with that contact."""
    from .store import object_name
    try:
        other = object_name(singular)
    except KeyError:
        raise SearchError(f"Unknown association {singular!r}") from None
    values = f.get("values") if op in ("IN", "NOT_IN") else [f.get("value")]
    ids: set[int] = set()
    adj = portal.adj.get((other, table.otype.name))
    for v in values or []:
        try:
            q = portal.tables[other].pos[int(v)]
        except (KeyError, ValueError, TypeError):
            continue
        if adj is not None:
            ids.update(e >> ROLE_BITS for e in adj.get(q))
    ids_col = table.ids
    if op in ("EQ", "IN"):
        return lambda p: ids_col[p] in ids
    if op in ("NEQ", "NOT_IN"):
        return lambda p: ids_col[p] not in ids
    raise SearchError(f"Operator {op} is not supported on associations")


def validate(body: dict) -> None:
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise SearchError("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise SearchError(f"Too many filter groups: {len(groups)}; the maximum is {MAX_GROUPS}")
    total = 0
    for group in groups:
        filters = (group or {}).get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise SearchError(f"Too many filters in a group: {len(filters)}; the maximum is {MAX_FILTERS_PER_GROUP}")
        total += len(filters)
    if total > MAX_FILTERS:
        raise SearchError(f"Too many filters: {total}; the maximum is {MAX_FILTERS}")
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list):
        raise SearchError("sorts must be a list")
    for s in sorts[:1]:
        if isinstance(s, str):
            continue
        if not isinstance(s, dict) or not s.get("propertyName"):
            raise SearchError("A sort needs a propertyName")
        if s.get("direction", "ASCENDING") not in ("ASCENDING", "DESCENDING"):
            raise SearchError("Sort direction must be ASCENDING or DESCENDING")


def index_delays_ms(ids: np.ndarray, lag_ms: int) -> np.ndarray:
    """Each record's indexing delay: between half of `lag_ms` and all of it, fixed by its id."""
    spread = (np.asarray(ids, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(1024)
    return lag_ms * (0.5 + spread.astype(np.float64) / 2046)


class SearchIndex:
    """Compiled, cached result lists."""

    def __init__(self, portal: Portal, size: int = 32):
        self.portal = portal
        self.size = size
        self.cache: OrderedDict[tuple, list[int]] = OrderedDict()
        self.snapshots: dict[tuple, tuple[int, np.ndarray]] = {}

    def matches(self, object_type: str, body: dict, lag_ms: int = 0) -> list[int]:
        """Positions of the matching live records in result order (caller holds the portal lock)."""
        portal = self.portal
        key = (object_type, json.dumps([body.get("filterGroups"), body.get("sorts"), body.get("query")],
                                       sort_keys=True, default=str), portal.version,
               # Only the index lag makes a result depend on the time; a running clock would
               # otherwise make every page of one search a cache miss.
               portal.now_ms if lag_ms else 0, lag_ms)
        hit = self.cache.get(key)
        if hit is not None:
            self.cache.move_to_end(key)
            return hit
        result = self._run(portal.tables[object_type], body, lag_ms)
        self.cache[key] = result
        if len(self.cache) > self.size:
            self.cache.popitem(last=False)
        return result

    def snapshot(self, table: Table, name: str, kind: str) -> np.ndarray:
        """A float64 copy of a datetime/date/number column (NaN: no usable value), per portal version."""
        key = (table.otype.name, name, kind)
        cached = self.snapshots.get(key)
        if cached is not None and cached[0] == self.portal.version:
            return cached[1]
        if name == "hs_object_id":
            values = np.asarray(table.ids, dtype=np.float64)
        elif name not in table.cols:
            values = np.full(len(table), np.nan)
        else:
            get = _getter(table, name, kind)
            nan = float("nan")
            values = np.fromiter((nan if v is None else v for v in map(get, range(len(table)))),
                                 dtype=np.float64, count=len(table))
        self.snapshots[key] = (self.portal.version, values)
        return values

    def _run(self, table: Table, body: dict, lag_ms: int) -> list[int]:
        validate(body)
        portal = self.portal

        def snapshot(name: str, kind: str) -> np.ndarray:
            return self.snapshot(table, name, kind)

        groups = []
        for group in body.get("filterGroups") or []:
            groups.append([_compile_filter(portal, table, f, snapshot) for f in (group or {}).get("filters") or []])
        groups = [g for g in groups if g]
        base, step = table.otype.id_base, table.otype.id_step
        pos = (np.frombuffer(table.live, dtype=np.int64) - base) // step
        if lag_ms:
            # The search index lags behind writes, each record by its own delay: an older edit
            # can still be missing while newer ones are already found.
            modified = snapshot(table.otype.modified, "time")[pos]
            delays = index_delays_ms(pos * step + base, lag_ms)
            pos = pos[~(modified > portal.now_ms - delays)]
        query = (body.get("query") or "").strip().lower()
        if query:
            cols = [table.cols[n] for n in table.otype.search_text if n in table.cols]
            pos = pos[_python_mask(lambda p: any(isinstance(c[p], str) and query in c[p].lower()
                                                 for c in cols))(pos)]
        if groups:
            keep = np.zeros(len(pos), dtype=bool)
            for group in groups:
                inside = np.ones(len(pos), dtype=bool)
                for mask in group:
                    inside &= mask(pos)
                keep |= inside
            pos = pos[keep]
        return self._sort(table, pos, body.get("sorts") or [])

    def _sort(self, table: Table, pos: np.ndarray, sorts: list) -> list[int]:
        if sorts:
            s = sorts[0]
            name = s if isinstance(s, str) else s["propertyName"]
            descending = not isinstance(s, str) and s.get("direction") == "DESCENDING"
        else:
            name, descending = table.otype.created, False  # HubSpot's default order: oldest first
        kind = _kind(table, name)
        if kind in ("time", "number") or name == "hs_object_id":
            values = self.snapshot(table, name, "number" if name == "hs_object_id" else kind)[pos]
            # Ties keep id order; records without a value come last in either direction.
            order = np.lexsort((pos, -values if descending else values))
            return pos[order].tolist()
        get = _getter(table, name, kind)
        present, absent = [], []
        for p in pos.tolist():  # positions ascend with id, so equal values keep id order
            v = get(p)
            (absent if v is None else present).append((v, p))
        try:
            present.sort(key=lambda vp: vp[0], reverse=descending)
        except TypeError:  # mixed types (e.g. numbers and text in a custom property)
            present.sort(key=lambda vp: str(vp[0]), reverse=descending)
        return [p for _, p in present] + [p for _, p in absent]
