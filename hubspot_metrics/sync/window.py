"""The incremental window: from which modified time a run searches, decided from saved state.

A pure function, so that the rules (lookback, the resumed window, the cursor's millisecond on
an unproven clock) are tested without a portal (tests/sync/test_window.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hubspot_metrics.bookkeeping import ObjectState
from hubspot_metrics.client import SEARCH_PAGE_SIZE


@dataclass(frozen=True)
class Window:
    start_ms: int              # the search reads records modified at or after this
    floor: str                 # the record id the keyset paging resumes after ("0": the start)
    newest_ms: int             # the cursor so far: a resume keeps its first attempt's newest change
    run_server_ms: int | None  # HubSpot's clock at the run's start, saved with the new cursor
    read_cursor_ms_later: bool  # the cursor's millisecond is outside the window and not yet proven read


def incremental_window(state: ObjectState, *, run_server_ms: int | None, lookback_ms: int, clock_proven: bool,
                       stored_at_cursor: Callable[[], int]) -> Window:
    """The window of one object's incremental run.

    `state`: the object's saved state; `run_server_ms`: HubSpot's clock as this run began
    (None without a Date header); `clock_proven`: an earlier run saw HubSpot's Date run on the
    records' clock; `stored_at_cursor`: how many stored records carry the cursor's
    millisecond (asked only when it matters, since it may scan a table).

    The window overlaps the previous run by the lookback (search is eventually consistent);
    when the cursor is older than that overlap, everything of its millisecond was indexed at
    the previous run and read then, so the window may start just after it. That trusts Date
    to run on the records' clock; until a run proves it, the millisecond is read once more:
    in the window when few records share it, else (a bulk import, more than a search page)
    by a search of its own, which the caller makes unless this run proves the clock.
    """
    cursor = state.cursor_ms or 0
    previous_server_ms = state.server_ms
    floor = state.list_after or "0"  # set when resuming an interrupted run
    if floor != "0" and state.pending_start_ms is not None:
        # A resume keeps its first attempt's window: the records below the id floor were read
        # with it, and the counts that chose it have changed since.
        start = state.pending_start_ms
    elif previous_server_ms is None:  # no Date header: overlap by the lookback
        start = cursor - lookback_ms
    elif cursor < previous_server_ms - lookback_ms and (clock_proven or stored_at_cursor() >= SEARCH_PAGE_SIZE):
        start = cursor + 1
    else:
        start = min(cursor, previous_server_ms - lookback_ms)
    start = max(0, start)
    return Window(
        start_ms=start, floor=floor,
        newest_ms=max(cursor, state.pending_cursor_ms or 0),
        # A resumed run keeps the first attempt's clock, so that the next run re-reads what
        # changed below the id floor while this one was interrupted.
        run_server_ms=state.pending_server_ms if floor != "0" else run_server_ms,
        read_cursor_ms_later=start == cursor + 1 and not clock_proven)
