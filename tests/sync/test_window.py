"""The incremental window, decided from saved state alone: no portal, no store."""

from hubspot_metrics.bookkeeping import ObjectState
from hubspot_metrics.sync.window import Window, incremental_window

LOOKBACK = 5_000
CURSOR = 1_000_000
LAST_RUN = 2_000_000  # HubSpot's clock when the run that set the cursor began
NOW = 3_000_000


def never_asked():
    raise AssertionError("the stored count was asked although the window did not depend on it")


def window(state: ObjectState, *, proven=False, stored_at_cursor=never_asked, now=NOW) -> Window:
    return incremental_window(state, run_server_ms=now, lookback_ms=LOOKBACK, clock_proven=proven,
                              stored_at_cursor=stored_at_cursor)


def test_without_a_date_header_the_window_overlaps_the_cursor_by_the_lookback():
    assert window(ObjectState(cursor_ms=CURSOR)) == Window(
        start_ms=CURSOR - LOOKBACK, floor="0", newest_ms=CURSOR, run_server_ms=NOW, read_cursor_ms_later=False)


def test_a_cursor_inside_the_previous_runs_lookback_starts_the_window_at_that_runs_start_minus_the_lookback():
    state = ObjectState(cursor_ms=LAST_RUN - 1_000, server_ms=LAST_RUN)
    assert window(state) == Window(start_ms=LAST_RUN - LOOKBACK, floor="0", newest_ms=LAST_RUN - 1_000,
                                   run_server_ms=NOW, read_cursor_ms_later=False)


def test_on_a_proven_clock_an_old_cursors_millisecond_is_not_read_again():
    state = ObjectState(cursor_ms=CURSOR, server_ms=LAST_RUN)
    assert window(state, proven=True) == Window(start_ms=CURSOR + 1, floor="0", newest_ms=CURSOR,
                                                run_server_ms=NOW, read_cursor_ms_later=False)


def test_on_an_unproven_clock_a_millisecond_few_records_share_is_read_again_in_the_window():
    state = ObjectState(cursor_ms=CURSOR, server_ms=LAST_RUN)
    assert window(state, stored_at_cursor=lambda: 199) == Window(
        start_ms=CURSOR, floor="0", newest_ms=CURSOR, run_server_ms=NOW, read_cursor_ms_later=False)


def test_on_an_unproven_clock_a_bulk_imports_millisecond_is_left_to_a_search_of_its_own():
    state = ObjectState(cursor_ms=CURSOR, server_ms=LAST_RUN)
    assert window(state, stored_at_cursor=lambda: 200) == Window(
        start_ms=CURSOR + 1, floor="0", newest_ms=CURSOR, run_server_ms=NOW, read_cursor_ms_later=True)


def test_a_resumed_run_keeps_its_first_attempts_window_newest_change_and_clock():
    state = ObjectState(cursor_ms=CURSOR, server_ms=LAST_RUN, list_after="4711", pending_start_ms=CURSOR - 42,
                        pending_cursor_ms=CURSOR + 900, pending_server_ms=LAST_RUN + 500)
    assert window(state, proven=True) == Window(start_ms=CURSOR - 42, floor="4711", newest_ms=CURSOR + 900,
                                                run_server_ms=LAST_RUN + 500, read_cursor_ms_later=False)


def test_a_first_incremental_run_starts_at_zero_never_before():
    assert window(ObjectState(cursor_ms=None)) == Window(
        start_ms=0, floor="0", newest_ms=0, run_server_ms=NOW, read_cursor_ms_later=False)
