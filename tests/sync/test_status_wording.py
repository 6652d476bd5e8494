"""status as a newcomer reads it: counts in singular and plural, and what "cursor age" means."""

from __future__ import annotations

from hubspot_metrics.status import render_status
from hubspot_metrics.store import open_store

from .conftest import make_config, run_sync


def _status_with(config, *, requests: int, retries: int, errors: int, issues: dict[tuple[str, str], int]) -> list[str]:
    """status --no-live over a synced store whose last run and value issues are set to these counts."""
    db = open_store(config.store_path)
    db.conn.execute("UPDATE sync_runs SET requests = ?, rate_limited = 1, retries = ?, errors = ?, warnings = NULL",
                    [requests, retries, errors])
    db.conn.execute("DELETE FROM value_issues")
    for (object_type, prop), n in issues.items():
        db.conn.executemany("INSERT INTO value_issues VALUES (?, ?, ?, 'x')",
                            [(object_type, str(i), prop) for i in range(n)])
    db.conn.commit()
    db.conn.close()
    return render_status(config, live=False).splitlines()


def test_status_counts_read_in_singular_and_plural(server, tmp_path):
    config = make_config(server, tmp_path / "s.db")
    run_sync(config)
    one = _status_with(config, requests=1, retries=1, errors=1,
                       issues={("deals", "closedate"): 1, ("feedback_submissions", "hs_value"): 1})
    two = _status_with(config, requests=2, retries=2, errors=2,
                       issues={("deals", "closedate"): 2, ("tickets", "time_to_close"): 3})
    assert one[3].endswith(" ok: 1 request, 1 × 429, 1 retry, 1 error")
    assert two[3].endswith(" ok: 2 requests, 1 × 429, 2 retries, 2 errors")
    assert one[one.index("Warnings:") + 1:] == [
        "  - 1 deal has an unparsable closedate (kept raw; see the value_issues table)",
        "  - 1 feedback_submission has an unparsable hs_value (kept raw; see the value_issues table)"]
    assert two[two.index("Warnings:") + 1:] == [
        "  - 3 tickets have an unparsable time_to_close (kept raw; see the value_issues table)",
        "  - 2 deals have an unparsable closedate (kept raw; see the value_issues table)"]


def test_status_says_what_the_cursor_age_is(server, tmp_path):
    config = make_config(server, tmp_path / "s.db")
    run_sync(config)
    lines = render_status(config, live=False).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("object "))
    assert "cursor age" in lines[header]
    assert lines[header + 7:header + 9] == [
        "", "cursor age: how long ago (by this computer's clock) the newest change the store has read for that object "
            "was made in HubSpot; the next sync reads the changes made since."]
