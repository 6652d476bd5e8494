"""The segments of a breakdown (`kpis --by owner|pipeline|source`): the label a person reads
for each segment id, and the size (`n`) segments are sorted by.

Labels come from the store's reference data: owners (a deactivated one is marked, and two
owners with one name are told apart by their email, else their id), pipelines (an archived
one is marked; a label that two pipelines share gets its object type, then its id) and the
options HubSpot defines for the source property (`properties.options`). An id the store
cannot name stays the id.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict

from hubspot_metrics.dialect import dialect_of
from hubspot_metrics.metrics.catalog import DIMENSIONS
from hubspot_metrics.metrics.queries import DIMENSION_PROPERTIES

# The records a segment holds in the period, per family of KPIs: customers active at the start
# plus the period's leads, deals in play (open at the start or created in the period), and
# tickets created in the period. A dimension sums the families it applies to.
SEGMENT_SIZE_KEYS = {"customers": ("customers_at_start", "leads"), "deals": ("open_deals_at_start", "new_deals"),
                     "tickets": ("tickets_created",)}
SEGMENT_SIZE_HELP = {
    "owner": "customers active at the start + leads + deals open at the start or created + tickets created",
    "pipeline": "deals open at the start or created + tickets created",
    "source": "customers active at the start + leads",
}


def segment_size(by: str, kpis: dict[str, dict]) -> int:
    """The segment's `n`: the sum of the `n` of its families' population counts (SEGMENT_SIZE_KEYS)."""
    return sum(kpis[key]["n"] for family in DIMENSIONS[by] for key in SEGMENT_SIZE_KEYS[family])


def segment_labels(conn: sqlite3.Connection, by: str, customer_object: str) -> dict[str, str]:
    """Segment id -> the label people read, for the dimension `by`."""
    tables = dialect_of(conn).table_names(conn)
    if by == "owner":
        return owner_labels(conn) if "owners" in tables else {}
    if by == "pipeline":
        return pipeline_labels(conn) if "pipelines" in tables else {}
    return option_labels(conn, customer_object, DIMENSION_PROPERTIES["source"]["customers"])


def owner_labels(conn: sqlite3.Connection) -> dict[str, str]:
    owners = []
    for owner_id, first, last, email, archived in conn.execute(
            "SELECT id, [firstName], [lastName], email, archived FROM owners"):
        name = " ".join(str(p).strip() for p in (first, last) if p is not None and str(p).strip())
        email = str(email).strip() if email is not None and str(email).strip() else None
        owners.append((str(owner_id), name or email or str(owner_id), email, bool(archived)))
    named = Counter(name.casefold() for _, name, _, _ in owners)
    emails = defaultdict(Counter)
    for _, name, email, _ in owners:
        emails[name.casefold()][email] += 1
    labels = {}
    for owner_id, name, email, archived in owners:
        notes = ["deactivated"] if archived else []
        if named[name.casefold()] > 1:  # two people of one name: the email tells them apart, else the id
            unique_email = email is not None and email != name and emails[name.casefold()][email] == 1
            notes.append(email if unique_email else f"id {owner_id}")
        labels[owner_id] = f"{name} ({', '.join(notes)})" if notes else name
    return labels


def pipeline_labels(conn: sqlite3.Connection) -> dict[str, str]:
    pipelines = [(str(pid), object_type, str(label) if label is not None and str(label).strip() else str(pid),
                  bool(archived))
                 for object_type, pid, label, archived in conn.execute(
                     "SELECT object_type, id, label, archived FROM pipelines ORDER BY object_type = 'deals', id")]
    types_of_label = defaultdict(set)
    for _, object_type, label, _ in pipelines:
        types_of_label[label.casefold()].add(object_type)
    by_label_and_type = Counter((label.casefold(), object_type) for _, object_type, label, _ in pipelines)
    labels = {}
    # Deal pipelines come last: a ticket pipeline with the same id does not rename a deal pipeline.
    for pid, object_type, label, archived in pipelines:
        notes = ["archived"] if archived else []
        if len(types_of_label[label.casefold()]) > 1:  # a deal and a ticket pipeline of one name
            notes.append(object_type)
        if by_label_and_type[(label.casefold(), object_type)] > 1:
            notes.append(f"id {pid}")
        labels[pid] = f"{label} ({', '.join(notes)})" if notes else label
    return labels


def option_labels(conn: sqlite3.Connection, object_type: str, prop: str) -> dict[str, str]:
    """Option value -> label of an enumeration property, as the sync stored HubSpot's definition."""
    columns = set(dialect_of(conn).column_names(conn, "properties"))
    if "options" not in columns:
        return {}
    row = conn.execute("SELECT options FROM properties WHERE object_type = ? AND name = ?",
                       [object_type, prop]).fetchone()
    try:
        options = json.loads(row[0]) if row and row[0] else []
    except ValueError:
        return {}
    return {str(o["value"]): str(o["label"]) for o in options
            if isinstance(o, dict) and o.get("value") not in (None, "") and o.get("label") not in (None, "")}
