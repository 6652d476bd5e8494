"""The portal's records, associations and clock: the truth the HTTP API serves and tests compare
against.

Records are stored by column (one Python list per property, indexed by position), so a
million contacts fit in well under the memory of a dict per record. A value is None, a string
served verbatim, or an int (epoch ms for datetime/date properties, the id for hs_object_id)
formatted only when served. Positions follow creation order, and ids grow with it, so the id
list is sorted and list paging is a bisect.
"""

from __future__ import annotations

import threading
import time
from array import array
from bisect import bisect_left, insort
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .formats import fmt_date, fmt_datetime, fmt_datetimes, fmt_number, from_ms, parse_time, to_ms
from .schema import (ALIASES, ASSOCIATION_TYPE_IDS, OBJECT_TYPES, ROLE_LABELED, ROLE_PLAIN, ROLE_PRIMARY,
                     ROLE_PRIMARY_LABELED, USER_LABELS, ObjectType, Prop, deal_stage_meta)

LIVE, ARCHIVED, GONE = 0, 1, 2
ROLE_BITS = 6               # association entries are `to_id << ROLE_BITS | role`
ROLE_MASK = (1 << ROLE_BITS) - 1

_FORMATTERS = {"datetime": fmt_datetime, "date": fmt_date}


def object_name(name: str) -> str:
    try:
        return ALIASES[name]
    except KeyError:
        raise KeyError(f"unknown object type {name!r}") from None


class Positions:
    """id -> position without a dict: ids are handed out as id_base + position * id_step.

    Holds the table's status bytes rather than the table, so tables form no reference cycle
    and are freed as soon as the portal is dropped (see generate_portal's gc.freeze)."""

    def __init__(self, status: bytearray, base: int, step: int):
        self.status, self.base, self.step = status, base, step

    def __getitem__(self, record_id: int) -> int:
        q, r = divmod(record_id - self.base, self.step)
        if r or q < 0 or q >= len(self.status):
            raise KeyError(record_id)
        return q

    def get(self, record_id: int, default: int | None = None) -> int | None:
        try:
            return self[record_id]
        except KeyError:
            return default


class Table:
    """One object type's records."""

    def __init__(self, otype: ObjectType):
        self.otype = otype
        self.ids: range = range(otype.id_base, otype.id_base, otype.id_step)
        self.status = bytearray()
        self.pos = Positions(self.status, otype.id_base, otype.id_step)
        self.props: dict[str, Prop] = dict(otype.prop_map)
        self.cols: dict[str, list] = {name: [] for name in self.props if name != "hs_object_id"}
        self.cols["hs_object_id"] = self.ids  # ints, served as strings
        self.fmt = {name: _FORMATTERS.get(p.type, str) for name, p in self.props.items()}
        self.archived_at: dict[int, int] = {}
        self.live = array("q")       # sorted ids
        self.archived = array("q")   # sorted ids
        self.created = self.cols[otype.created]
        self.modified = self.cols[otype.modified]

    def __len__(self) -> int:
        return len(self.ids)

    def add_rows(self, n: int, columns: dict[str, list]) -> range:
        """Append n records (column lists of length n); returns their positions."""
        start = len(self.ids)
        otype = self.otype
        for name, col in self.cols.items():
            if name == "hs_object_id":
                continue
            values = columns.get(name)
            col.extend(values if values is not None else [None] * n)
        new_ids = range(otype.id_base + start * otype.id_step, otype.id_base + (start + n) * otype.id_step,
                        otype.id_step)
        self.ids = self.cols["hs_object_id"] = range(otype.id_base, new_ids.stop, otype.id_step)
        self.status.extend(bytes(n))
        self.live.extend(new_ids)  # new ids are the largest so far
        return range(start, start + n)

    def add_column(self, prop: Prop) -> None:
        self.props[prop.name] = prop
        self.cols[prop.name] = [None] * len(self.ids)
        self.fmt[prop.name] = _FORMATTERS.get(prop.type, str)

    def position(self, record_id: Any, statuses: tuple[int, ...] = (LIVE,)) -> int:
        try:
            p = self.pos[int(record_id)]
        except (KeyError, ValueError, TypeError):
            raise KeyError(f"no {self.otype.singular} {record_id}") from None
        if self.status[p] not in statuses:
            raise KeyError(f"no {self.otype.singular} {record_id}")
        return p

    def lookup(self, record_id: Any, archived: bool = False) -> int | None:
        try:
            p = self.pos[int(record_id)]
        except (KeyError, ValueError, TypeError):
            return None
        return p if self.status[p] == (ARCHIVED if archived else LIVE) else None

    def is_live_id(self, record_id: int) -> bool:
        p = self.pos.get(record_id)
        return p is not None and self.status[p] == LIVE

    def selection(self, names: Iterable[str]) -> list[tuple[str, list, Any]]:
        """(name, column, formatter) for the known names; unknown names are silently dropped."""
        cols, fmt = self.cols, self.fmt
        return [(n, cols[n], fmt[n]) for n in names if n in cols]

    def value(self, p: int, name: str) -> str | None:
        v = self.cols[name][p]
        return self.fmt[name](v) if v.__class__ is int else v

    def render(self, p: int, selection: list[tuple[str, list, Any]]) -> dict[str, str | None]:
        return self.render_many([p], selection)[0]

    def render_many(self, positions: list[int], selection: list[tuple[str, list, Any]]) -> list[dict]:
        """Property dicts for many records, built column by column (the hot path of every page)."""
        columns = []
        for _, col, fmt in selection:
            values = [col[p] for p in positions]
            if fmt is fmt_datetime:
                values = fmt_datetimes(values)
            elif fmt is not str or col is self.ids:  # other columns hold only strings and None
                values = [fmt(v) if v.__class__ is int else v for v in values]
            columns.append(values)
        names = [name for name, _, _ in selection]
        return [dict(zip(names, row)) for row in zip(*columns)] if columns else [{} for _ in positions]

    def rebuild_lists(self) -> None:
        """Recompute the sorted live/archived id lists from `status` (after bulk status edits)."""
        status = np.frombuffer(bytes(self.status), dtype=np.uint8)
        for attr, wanted in (("live", LIVE), ("archived", ARCHIVED)):
            ids = self.otype.id_base + np.nonzero(status == wanted)[0].astype(np.int64) * self.otype.id_step
            lst = array("q")
            lst.frombytes(ids.astype(np.int64).tobytes())
            setattr(self, attr, lst)

    def set_status(self, p: int, status: int) -> None:
        rid = self.ids[p]
        old = self.status[p]
        if old == status:
            return
        for lst, st in ((self.live, LIVE), (self.archived, ARCHIVED)):
            if old == st:
                del lst[bisect_left(lst, rid)]
            if status == st:
                insort(lst, rid)
        self.status[p] = status


class Adjacency:
    """Associations in one direction: per from-position a sorted list of `to_id << 6 | role`.

    The generated base is a CSR array pair (cheap at a million records); mutated records get
    a Python list that overrides their base slice.
    """

    def __init__(self) -> None:
        self.indptr = np.zeros(1, dtype=np.int64)
        self.data = np.zeros(0, dtype=np.int64)
        self.over: dict[int, list[int]] = {}

    def load(self, n_from: int, from_pos: np.ndarray, entries: np.ndarray) -> None:
        order = np.lexsort((entries, from_pos))
        self.data = entries[order].astype(np.int64)
        counts = np.bincount(from_pos, minlength=n_from)
        self.indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.over = {}

    def get(self, p: int) -> list[int]:
        over = self.over.get(p)
        if over is not None:
            return over
        if p + 1 < len(self.indptr):
            a, b = int(self.indptr[p]), int(self.indptr[p + 1])
            if a != b:
                return self.data[a:b].tolist()
        return []

    def set(self, p: int, entries: list[int]) -> None:
        self.over[p] = entries


def find_entry(entries: list[int], to_id: int) -> int:
    i = bisect_left(entries, to_id << ROLE_BITS)
    if i < len(entries) and entries[i] >> ROLE_BITS == to_id:
        return i
    return -1


class Portal:
    """A simulated HubSpot account: records, associations, owners, settings and a clock.

    All mutations take the portal lock and stamp the record's modified date with the portal
    clock, as HubSpot does. The clock stands still (tests and the demo need a portal that is
    the same on every run) and moves when `advance_clock` is called, unless `run_clock` set it
    going with the seconds of a monotonic source (the sandbox's real time, or a test's own).
    """

    def __init__(self, *, now: datetime, seed: int, portal_id: int, time_zone: str = "Europe/Berlin",
                 home_currency: str = "EUR", additional_currencies: tuple[str, ...] = ("USD",)):
        self.lock = threading.RLock()
        self.seed = seed
        self.portal_id = portal_id
        self.time_zone = time_zone
        self.home_currency = home_currency
        self.additional_currencies = list(additional_currencies)
        self._still_ms = to_ms(now)     # the clock's reading when it started running, if it runs
        self._ticks: Callable[[], float] | None = None
        self._ticks_at_start = 0.0
        self.created_ms = self.now_ms
        self.tables: dict[str, Table] = {name: Table(t) for name, t in OBJECT_TYPES.items()}
        self.adj: dict[tuple[str, str], Adjacency] = {}
        self.roles: dict[tuple[str, str], list[list[dict]]] = {}
        self.owners: list[dict] = []
        self.version = 0            # bumped by every mutation; search caches key on it
        self._stage_meta = deal_stage_meta()
        self._generator = None      # set by generate_portal; creates realistic filler records

    # --- clock ------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        ticks = self._ticks
        if ticks is None:
            return self._still_ms
        return self._still_ms + int((ticks() - self._ticks_at_start) * 1000)

    @property
    def now(self) -> datetime:
        return from_ms(self.now_ms)

    @property
    def clock_runs(self) -> bool:
        return self._ticks is not None

    def run_clock(self, ticks: Callable[[], float] = time.monotonic) -> None:
        """Let the clock run from its current reading at the pace of `ticks` (seconds)."""
        with self.lock:
            self._still_ms = self.now_ms
            self._ticks, self._ticks_at_start = ticks, ticks()

    def stop_clock(self) -> None:
        with self.lock:
            self._still_ms, self._ticks = self.now_ms, None

    def advance_clock(self, seconds: float = 0, **kwargs: float) -> datetime:
        with self.lock:
            self._still_ms += int(timedelta(seconds=seconds, **kwargs).total_seconds() * 1000)
            self.version += 1
            return self.now

    # --- reading ----------------------------------------------------------------------

    def table(self, object_type: str) -> Table:
        return self.tables[object_name(object_type)]

    def records(self, object_type: str, archived: bool = False) -> Iterator[dict]:
        """The portal's truth, in id order: every property (None when unset), as served."""
        t = self.table(object_type)
        with self.lock:
            positions = [t.pos[rid] for rid in (t.archived if archived else t.live)]
            rendered = t.render_many(positions, t.selection(list(t.cols)))
            created, modified = t.otype.created, t.otype.modified
            out = []
            for p, props in zip(positions, rendered):
                rec = {"id": str(t.ids[p]), "properties": props, "createdAt": props[created],
                       "updatedAt": props[modified], "archived": archived}
                if archived:
                    rec["archivedAt"] = fmt_datetime(t.archived_at[p])
                out.append(rec)
        return iter(out)

    def record(self, object_type: str, record_id: Any) -> dict:
        t = self.table(object_type)
        with self.lock:
            p = t.position(record_id, (LIVE, ARCHIVED))
            return {name: t.value(p, name) for name in t.cols}

    def association_pairs(self, from_type: str, to_type: str) -> Iterator[tuple[str, str]]:
        """(from id, to id) for every association between live records, in one direction."""
        a, b = object_name(from_type), object_name(to_type)
        ta, tb = self.tables[a], self.tables[b]
        adj = self.adj.get((a, b))
        out = []
        with self.lock:
            if adj is not None:
                for rid in ta.live:
                    for e in adj.get(ta.pos[rid]):
                        to_id = e >> ROLE_BITS
                        if tb.is_live_id(to_id):
                            out.append((str(rid), str(to_id)))
        return iter(out)

    def association_types(self, from_type: str, to_type: str, role: int) -> list[dict]:
        return self._roles(from_type, to_type)[role]

    def _roles(self, a: str, b: str) -> list[list[dict]]:
        roles = self.roles.get((a, b))
        if roles is None:
            plain, primary = ASSOCIATION_TYPE_IDS.get((a, b), (None, None))
            base = [{"category": "HUBSPOT_DEFINED", "typeId": plain, "label": None}] if plain else []
            prim = ([{"category": "HUBSPOT_DEFINED", "typeId": primary, "label": "Primary"}] if primary else [])
            user = USER_LABELS.get((a, b))
            lab = [{"category": "USER_DEFINED", "typeId": user[0], "label": user[1]}] if user else []
            roles = [base, prim + base, base + lab, prim + base + lab]
            self.roles[(a, b)] = roles
        return roles

    def _adjacency(self, a: str, b: str) -> Adjacency:
        adj = self.adj.get((a, b))
        if adj is None:
            adj = self.adj[(a, b)] = Adjacency()
        return adj

    # --- mutations --------------------------------------------------------------------

    def _touch(self, t: Table, p: int, given: dict[str, Any] | None = None) -> None:
        if not given or t.otype.modified not in given:  # an explicit modified date wins
            t.modified[p] = self.now_ms
        self.version += 1

    def _coerce(self, t: Table, name: str, value: Any) -> Any:
        prop = t.props.get(name)
        if prop is None:
            prop = Prop(name, "string", "text", name.replace("_", " ").capitalize(), "custom",
                        hubspot_defined=False)
            t.add_column(prop)
        if value is None or isinstance(value, str):
            if isinstance(value, str) and name in (t.otype.created, t.otype.modified):
                parsed = parse_time(value)  # record timestamps must stay parseable
                return parsed if parsed is not None else value
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return to_ms(value)
        if isinstance(value, int) and prop.type in ("datetime", "date"):
            return value
        return str(value)

    def delete_property(self, object_type: str, name: str) -> None:
        """Delete a custom property and its values, as an admin can in HubSpot's settings."""
        t = self.table(object_type)
        with self.lock:
            prop = t.props.get(name)
            if prop is None or prop.hubspot_defined:
                raise KeyError(f"no custom {t.otype.singular} property {name}")
            del t.props[name], t.cols[name]
            t.fmt.pop(name, None)
            self.version += 1

    def update(self, object_type: str, record_id: Any, properties: dict[str, Any]) -> None:
        t = self.table(object_type)
        with self.lock:
            p = t.position(record_id)
            self._write(t, p, properties)
            self._touch(t, p, properties)

    def _write(self, t: Table, p: int, properties: dict[str, Any]) -> None:
        for name, value in properties.items():
            if name != "hs_object_id":
                value = self._coerce(t, name, value)  # adds unknown properties as custom strings
                t.cols[name][p] = value
        self._recalculate(t, p, properties)

    def _recalculate(self, t: Table, p: int, given: dict[str, Any]) -> None:
        """Keep HubSpot's calculated properties in step with what was written."""
        cols, now = t.cols, self.now_ms
        name = t.otype.name

        def default(prop: str, value: Any) -> None:
            if prop not in given and prop in cols:
                cols[prop][p] = value

        if name == "deals":
            if "dealstage" in given or "pipeline" in given:
                stage = cols["dealstage"][p]
                found = self._stage_meta.get(stage) if isinstance(stage, str) else None
                if found:
                    pipeline, meta = found
                    closed = meta["isClosed"] == "true"
                    won = closed and meta["probability"] == "1.0"
                    lost = closed and meta["probability"] == "0.0"
                    default("pipeline", pipeline)
                    default("hs_is_closed", "true" if closed else "false")
                    default("hs_is_closed_won", "true" if won else "false")
                    default("hs_is_closed_lost", "true" if lost else "false")
                    default("hs_deal_stage_probability", meta["probability"])
                    if closed and cols["closedate"][p] is None:
                        default("closedate", now)
            if {"amount", "deal_currency_code", "hs_exchange_rate"} & given.keys():
                default("amount_in_home_currency", self._home_amount(cols, p))
            close, create = cols["closedate"][p], cols["createdate"][p]
            if close.__class__ is int and create.__class__ is int:
                default("days_to_close", str(max(0, round((close - create) / 86_400_000))))
        elif name in ("contacts", "companies") and "lifecyclestage" in given:
            stage = cols["lifecyclestage"][p]
            if stage in ("lead", "customer"):
                for prop in (f"hs_lifecyclestage_{stage}_date", f"hs_v2_date_entered_{stage}"):
                    if cols[prop][p] is None:
                        default(prop, now)
        elif name == "tickets" and "hs_pipeline_stage" in given:
            if cols["hs_pipeline_stage"][p] == "4" and cols["closed_date"][p] is None:
                default("closed_date", now)
                create = cols["createdate"][p]
                if create.__class__ is int:
                    default("time_to_close", str(now - create))

    def _home_amount(self, cols: dict[str, list], p: int) -> str | None:
        try:
            amount = float(cols["amount"][p])
        except (TypeError, ValueError):
            return None
        currency = cols["deal_currency_code"][p]
        if currency in (None, "", self.home_currency):
            rate = 1.0
        else:
            try:
                rate = float(cols["hs_exchange_rate"][p])
            except (TypeError, ValueError):
                return None
        return fmt_number(amount * rate)

    def create(self, object_type: str, properties: dict[str, Any] | None = None) -> str:
        t = self.table(object_type)
        with self.lock:
            p = t.add_rows(1, {t.otype.created: [self.now_ms], t.otype.modified: [self.now_ms]})[0]
            defaults = {"deals": {"pipeline": "default", "dealstage": "appointmentscheduled"},
                        "tickets": {"hs_pipeline": "0", "hs_pipeline_stage": "1"}}.get(t.otype.name, {})
            props = {**defaults, **(properties or {})}
            if t.otype.name == "deals" and "dealstage" in props and "pipeline" not in (properties or {}):
                props["pipeline"] = self._stage_meta.get(props["dealstage"], ("default",))[0]
            self._write(t, p, props)
            self._touch(t, p, props)
            return str(t.ids[p])

    def archive(self, object_type: str, record_id: Any) -> None:
        t = self.table(object_type)
        with self.lock:
            p = t.position(record_id)
            t.set_status(p, ARCHIVED)
            t.archived_at[p] = self.now_ms
            self._touch(t, p)

    def restore(self, object_type: str, record_id: Any) -> None:
        t = self.table(object_type)
        with self.lock:
            p = t.position(record_id, (ARCHIVED,))
            t.set_status(p, LIVE)
            t.archived_at.pop(p, None)
            self._touch(t, p)

    def merge(self, object_type: str, primary_id: Any, merged_id: Any) -> None:
        """The merged record disappears (it is not archived); its associations move to the primary."""
        name = object_name(object_type)
        t = self.tables[name]
        with self.lock:
            p = t.position(primary_id)
            m = t.position(merged_id)
            if p == m:
                raise ValueError("cannot merge a record into itself")
            col = t.cols["hs_merged_object_ids"]
            ids = [i for i in (col[p] or "").split(";") if i]
            ids += [i for i in (col[m] or "").split(";") if i] + [str(t.ids[m])]
            col[p] = ";".join(dict.fromkeys(ids))
            self._move_associations(name, m, p)
            t.set_status(m, GONE)
            self._touch(t, p)

    def _move_associations(self, name: str, m: int, p: int) -> None:
        t = self.tables[name]
        merged_id, primary_id = t.ids[m], t.ids[p]
        for (a, b), adj in list(self.adj.items()):
            if a != name:
                continue
            entries = adj.get(m)
            if not entries:
                continue
            reverse = self._adjacency(b, a)
            tb = self.tables[b]
            target = list(adj.get(p))
            for e in entries:
                to_id = e >> ROLE_BITS
                q = tb.pos[to_id]
                back = list(reverse.get(q))
                i = find_entry(back, merged_id)
                if i >= 0:
                    del back[i]
                if find_entry(target, to_id) < 0:
                    insort(target, to_id << ROLE_BITS | ROLE_PLAIN)
                    if find_entry(back, primary_id) < 0:
                        insort(back, primary_id << ROLE_BITS | ROLE_PLAIN)
                reverse.set(q, back)
            adj.set(p, target)
            adj.set(m, [])

    def associate(self, from_type: str, from_id: Any, to_type: str, to_id: Any, type_id: int | None = None) -> None:
        a, b = object_name(from_type), object_name(to_type)
        ta, tb = self.tables[a], self.tables[b]
        with self.lock:
            p, q = ta.position(from_id), tb.position(to_id)
            role = self._role_for(a, b, type_id)
            self._link(a, b, p, q, role)
            self._touch(ta, p)
            self._touch(tb, q)

    def _role_for(self, a: str, b: str, type_id: int | None) -> int:
        roles = self._roles(a, b)
        if type_id is None:
            return ROLE_PLAIN
        for role in (ROLE_PLAIN, ROLE_PRIMARY, ROLE_LABELED, ROLE_PRIMARY_LABELED):
            if roles[role] and roles[role][0]["typeId"] == type_id:
                return role
        for role, types in enumerate(roles):
            if any(x["typeId"] == type_id and x["category"] == "USER_DEFINED" for x in types):
                return role
        # An unknown id becomes a new USER_DEFINED label, shared by both directions.
        back = self._roles(b, a)
        label = {"category": "USER_DEFINED", "typeId": type_id, "label": f"Label {type_id}"}
        roles.append(roles[ROLE_PLAIN] + [label])
        back.append(back[ROLE_PLAIN] + [label])
        if len(roles) > ROLE_MASK:
            raise ValueError("too many association labels")
        return len(roles) - 1

    def _link(self, a: str, b: str, p: int, q: int, role: int) -> None:
        from_id, to_id = self.tables[a].ids[p], self.tables[b].ids[q]
        for (x, y, i, rid, j) in ((a, b, p, to_id, q), (b, a, q, from_id, p)):
            adj = self._adjacency(x, y)
            entries = list(adj.get(i))
            k = find_entry(entries, rid)
            if k >= 0:
                del entries[k]
            insort(entries, rid << ROLE_BITS | role)
            adj.set(i, entries)

    def bulk_touch(self, object_type: str, count: int, same_millisecond: bool = True) -> list[str]:
        """Stamp `count` records (the oldest live ones, creating more if needed) with one modified
        millisecond, as a HubSpot bulk import or month-end recalculation does."""
        name = object_name(object_type)
        t = self.tables[name]
        with self.lock:
            ids = list(t.live[:count])
            missing = count - len(ids)
            if missing > 0:
                ids = ids + self._generator.fill(self, name, missing)
            for i, rid in enumerate(ids):
                t.modified[t.pos[rid]] = self.now_ms if same_millisecond else self.now_ms - (count - 1 - i)
            self.version += 1
            return [str(rid) for rid in ids]
