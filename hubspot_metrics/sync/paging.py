"""Reading HubSpot's pages defensively: cursors, ids, property chunks, a prefetching thread."""

from __future__ import annotations

import queue
import threading
from datetime import datetime, timedelta, timezone
from typing import Iterator

from hubspot_metrics.errors import HubSpotError
from hubspot_metrics.values import format_instant, parse_instant

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

def prefetch(iterator: Iterator, depth: int = 2) -> Iterator:
    """Fetch the next pages in a thread while the current one is written (two cores)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def worker():
        try:
            for item in iterator:
                if not put((True, item)):
                    return
            put((True, done))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put((False, exc))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        # The fetcher ends after its current request, never blocked on a full queue; nobody
        # waits for it, so an interrupted run ends at once (the client's cancel() cuts its
        # retry waits short).
        stop.set()


def chunk_names(names: list[str], budget: int) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    used = 0
    for name in names:
        cost = len(name) + 12  # "&properties=" per name
        if chunks[-1] and used + cost > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(name)
        used += cost
    return chunks


def _items(payload, key: str = "results") -> list[dict]:
    """The objects of a list in a payload; anything that is not an object is dropped."""
    value = payload.get(key) if isinstance(payload, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _results(payload) -> list:
    """A page's records as sent, junk included: `_write_page` counts what it cannot use."""
    value = payload.get("results") if isinstance(payload, dict) else None
    return value if isinstance(value, list) else []


def _next_after(payload) -> str | None:
    """`paging.next.after`, or None on the last page (HubSpot omits `paging` there)."""
    paging = payload.get("paging") if isinstance(payload, dict) else None
    after = ((paging or {}).get("next") or {}).get("after") if isinstance(paging, dict) else None
    return str(after) if after not in (None, "") else None


def id_text(value) -> str | None:
    """An id as text, or None when it is missing or neither text nor a number (HubSpot's ids
    are numbers, usually sent as text)."""
    # nearly every id is text or (associations) a number: the cheapest tests first
    if type(value) is str:
        return value or None
    if type(value) is int:
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return str(value)


def record_id(record) -> str | None:
    """A record's id as text, or None for junk (not an object, or no usable id)."""
    return id_text(record.get("id")) if isinstance(record, dict) else None


def follow(after: str | None, seen: set[str], what: str) -> str | None:
    """The next page's cursor, once: a cursor HubSpot already sent means its paging is stuck."""
    if after is not None:
        if after in seen:
            shown = after if len(after) <= 40 else after[:40] + "…"
            raise HubSpotError(f"HubSpot's paging of {what} sent the cursor {shown!r} a second time; the sync "
                               "stopped instead of reading the same pages forever, run it again later.")
        seen.add(after)
    return after


def _modified_raw(record, prop: str):
    if not isinstance(record, dict):
        return None
    props = record.get("properties") if isinstance(record.get("properties"), dict) else {}
    return props.get(prop) or record.get("updatedAt")


def modified_ms(record, prop: str) -> int | None:
    raw = _modified_raw(record, prop)
    moment = parse_instant(raw) if isinstance(raw, str) else None
    return int(moment.timestamp() * 1000) if moment else None


def modified_after(records: list, prop: str, limit_ms: int) -> list[int]:
    """The modified_ms stamps later than `limit_ms`, as `[m for m in map(modified_ms) if m >
    limit_ms]` gives them, but a full list page parses almost nothing: a stamp in HubSpot's
    canonical shape (`2024-01-17T19:55:04.281Z`) whose text is not after the limit's own text
    is not later (such text orders as time, and one that fails to parse has no stamp)."""
    limit = format_instant(EPOCH + timedelta(milliseconds=limit_ms))
    later = []
    for record in records:
        raw = _modified_raw(record, prop)
        if (type(raw) is str and len(raw) == 24 and raw <= limit and raw[4] == "-" and raw[7] == "-"
                and raw[10] == "T" and raw[13] == ":" and raw[16] == ":" and raw[19] == "." and raw[23] == "Z"):
            continue
        moment = parse_instant(raw) if isinstance(raw, str) else None
        stamp = int(moment.timestamp() * 1000) if moment else None
        if stamp is not None and stamp > limit_ms:
            later.append(stamp)
    return later

