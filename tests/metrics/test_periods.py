"""Periods: syntax, local-midnight bounds, months(P), previous periods, nightly names."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hubspot_metrics.errors import ConfigError
from hubspot_metrics.periods import (
    Period, closed_periods, compared_period, measured_up_to, named_period, parse_period, period_from_range,
    previous_period)

NOW = datetime(2026, 11, 17, 9, 30, 12, 345000, tzinfo=timezone.utc)  # 10:30:12 in Berlin


def bounds(p: Period) -> tuple[str, str, str, str]:
    return p.label, p.grain, p.start.isoformat(), p.end.isoformat()


@pytest.mark.parametrize("text, expected", [
    ("2026-10", ("2026-10", "month", "2026-10-01T00:00:00+02:00", "2026-11-01T00:00:00+01:00")),
    ("2026-Q3", ("2026-Q3", "quarter", "2026-07-01T00:00:00+02:00", "2026-10-01T00:00:00+02:00")),
    ("2026-q1", ("2026-Q1", "quarter", "2026-01-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00")),
    ("2026-Q4", ("2026-Q4", "quarter", "2026-10-01T00:00:00+02:00", "2027-01-01T00:00:00+01:00")),
    ("2026", ("2026", "year", "2026-01-01T00:00:00+01:00", "2027-01-01T00:00:00+01:00")),
    ("2026-12", ("2026-12", "month", "2026-12-01T00:00:00+01:00", "2027-01-01T00:00:00+01:00")),
])
def test_periods_start_and_end_at_local_midnight(text, expected):
    assert bounds(parse_period(text, "Europe/Berlin")) == expected


def test_months_of_each_grain_and_of_a_custom_range():
    assert [parse_period(t, "UTC").months for t in ("2024-02", "2024-Q1", "2024")] == [1.0, 3.0, 12.0]
    assert period_from_range("2024-01-15", "2024-02-15", "UTC").months == 31 / 30.436875
    # Elapsed time: the night summer time starts has 23 hours.
    assert period_from_range("2024-03-30", "2024-04-01", "Europe/Berlin").months == (47 / 24) / 30.436875
    assert period_from_range("2024-03-30", "2024-04-01", "Europe/Berlin").label == "2024-03-30..2024-04-01"


def test_calendar_months_say_whether_a_period_is_whole_months():
    assert parse_period("2024-Q2", "UTC").calendar_months == ["2024-04", "2024-05", "2024-06"]
    assert period_from_range("2023-12-01", "2024-02-01", "Europe/Berlin").calendar_months == ["2023-12", "2024-01"]
    assert period_from_range("2024-01-15", "2024-02-01", "UTC").calendar_months is None
    # month to date: the running month, open (its spend is prorated, see test_rules)
    assert named_period("month_to_date", "UTC", NOW).calendar_months == ["2026-11"]


@pytest.mark.parametrize("text, message", [
    ("2026-13", "The period '2026-13' has no month 13; use 2026-10 (month), 2026-Q3 (quarter), 2026 (year) or "
                "--since 2026-01-15 --until 2026-02-15."),
    ("2026-Q5", "The period '2026-Q5' is not a period; use 2026-10 (month), 2026-Q3 (quarter), 2026 (year) or "
                "--since 2026-01-15 --until 2026-02-15."),
    ("26-10", "The period '26-10' is not a period; use 2026-10 (month), 2026-Q3 (quarter), 2026 (year) or "
              "--since 2026-01-15 --until 2026-02-15."),
    ("", "The period '' is not a period; use 2026-10 (month), 2026-Q3 (quarter), 2026 (year) or "
         "--since 2026-01-15 --until 2026-02-15."),
    ("0999", "The period '0999' is out of range; use a year between 1900 and 9998."),
])
def test_bad_periods_say_what_to_write(text, message):
    with pytest.raises(ConfigError) as info:
        parse_period(text, "UTC")
    assert str(info.value) == message


def test_bad_ranges_and_time_zones():
    with pytest.raises(ConfigError, match=r"^--until 2024-01-01 must be after --since 2024-01-01 "):
        period_from_range("2024-01-01", "2024-01-01", "UTC")
    with pytest.raises(ConfigError, match=r"^--until '2024-1-5' is not a date; write it as YYYY-MM-DD"):
        period_from_range("2024-01-01", "2024-1-5", "UTC")
    with pytest.raises(ConfigError, match=r"^The time zone 'Mars/Olympus' is not a known IANA name"):
        parse_period("2024", "Mars/Olympus")


def test_previous_periods():
    tz = "Europe/Berlin"
    assert previous_period(parse_period("2026-01", tz)).label == "2025-12"
    assert previous_period(parse_period("2026-Q1", tz)).label == "2025-Q4"
    assert previous_period(parse_period("2026", tz)).label == "2025"
    assert bounds(previous_period(period_from_range("2026-03-20", "2026-04-03", tz))) == (
        "2026-03-06..2026-03-20", "range", "2026-03-06T00:00:00+01:00", "2026-03-20T00:00:00+01:00")
    assert previous_period(period_from_range("2026-03-01", "2026-05-01", tz)).label == "2026-01-01..2026-03-01"


def test_an_open_period_is_compared_with_the_same_stretch_of_the_one_before():
    tz = "Europe/Berlin"

    def compared(text: str) -> tuple:
        p = compared_period(measured_up_to(parse_period(text, tz), NOW.replace(microsecond=0)))
        return p.label, p.start.isoformat(), p.end.isoformat(), p.partial, p.until.isoformat()

    # NOW is 17 Nov 2026, 10:30:12 in Berlin: 16 days 10:30:12 into November, so October up to its 17th, 10:30:12.
    assert compared("2026-11") == ("2026-10", "2026-10-01T00:00:00+02:00", "2026-11-01T00:00:00+01:00", True,
                                   "2026-10-17T10:30:12+02:00")
    # 47 days 11:30:12 into the quarter (summer time ended on 25 October, so an hour more than the clock says).
    assert compared("2026-Q4") == ("2026-Q3", "2026-07-01T00:00:00+02:00", "2026-10-01T00:00:00+02:00", True,
                                   "2026-08-17T11:30:12+02:00")
    assert compared("2026") == ("2025", "2025-01-01T00:00:00+01:00", "2026-01-01T00:00:00+01:00", True,
                                "2025-11-17T10:30:12+01:00")
    # A closed period is compared with the whole one before, as before.
    assert compared("2026-10")[3:] == (False, "2026-10-01T00:00:00+02:00")
    # A stretch longer than the previous period takes all of it (31 March against February).
    march_31 = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
    whole = compared_period(measured_up_to(parse_period("2026-03", "UTC"), march_31))
    assert (whole.label, whole.partial, whole.until.isoformat()) == ("2026-02", False, "2026-03-01T00:00:00+00:00")
    # To-date periods keep their own rule: the same days and hours of the previous month.
    assert compared_period(named_period("month_to_date", tz, NOW)) == previous_period(named_period("month_to_date", tz, NOW))


def test_named_periods_for_the_nightly_job():
    tz = "Europe/Berlin"
    # To date: the running month / year, measured up to NOW.
    mtd, ytd = named_period("month_to_date", tz, NOW), named_period("year_to_date", tz, NOW)
    assert bounds(mtd) == ("2026-11-MTD", "range", "2026-11-01T00:00:00+01:00", "2026-12-01T00:00:00+01:00")
    assert bounds(ytd) == ("2026-YTD", "range", "2026-01-01T00:00:00+01:00", "2027-01-01T00:00:00+01:00")
    assert (mtd.partial, mtd.until.isoformat(), ytd.until.isoformat()) == (
        True, "2026-11-17T10:30:12+01:00", "2026-11-17T10:30:12+01:00")
    assert named_period("last_month", tz, NOW).label == "2026-10"
    assert named_period("last_quarter", tz, NOW).label == "2026-Q3"
    # to-date periods compare with the same stretch of the previous month / year
    assert bounds(previous_period(named_period("month_to_date", tz, NOW))) == (
        "2026-10-MTD", "range", "2026-10-01T00:00:00+02:00", "2026-10-17T10:30:12+02:00")
    march_31 = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
    assert previous_period(named_period("month_to_date", "UTC", march_31)).end.isoformat() == "2026-02-28T12:00:00+00:00"
    assert bounds(previous_period(named_period("year_to_date", tz, NOW)))[2:] == (
        "2025-01-01T00:00:00+01:00", "2025-11-17T10:30:12+01:00")
    with pytest.raises(ConfigError, match="^Unknown period name 'yesterday'"):
        named_period("yesterday", tz, NOW)


def test_closed_periods_are_the_most_recent_ended_ones_in_the_time_zone():
    months = closed_periods("month", 12, "UTC", NOW)
    assert [p.label for p in months] == [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 11)]
    assert [p.label for p in closed_periods("quarter", 2, "UTC", NOW)] == ["2026-Q2", "2026-Q3"]
    assert [p.label for p in closed_periods("year", 1, "UTC", NOW)] == ["2025"]
    # 23:30 UTC on 30 November is already 1 December in Berlin: November has closed there.
    late = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)
    assert closed_periods("month", 1, "UTC", late)[0].label == "2026-10"
    assert closed_periods("month", 1, "Europe/Berlin", late)[0].label == "2026-11"
    # At the very first instant of a month, the month before has closed.
    first = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert closed_periods("month", 1, "UTC", first)[0].label == "2026-11"


def test_an_open_period_is_measured_up_to_now_and_a_future_one_is_an_error():
    now = datetime(2026, 10, 11, 12, 0, tzinfo=timezone.utc)
    october = measured_up_to(parse_period("2026-10", "UTC"), now)
    assert (october.partial, october.until, october.elapsed_days, october.months) == (
        True, now, 10.5, 10.5 / 30.436875)
    assert october.spend_shares() == [("2026-10", 10.5 / 31)]
    assert [b.isoformat() for b in measured_up_to(parse_period("2026-Q4", "UTC"), now).boundaries()] == [
        "2026-10-01T00:00:00+00:00", "2026-10-11T12:00:00+00:00"]
    assert measured_up_to(parse_period("2026-09", "UTC"), now).partial is False
    with pytest.raises(ConfigError, match=r"^The period 2026-11 starts at or after 2026-10-11 12:00:00 UTC, "):
        measured_up_to(parse_period("2026-11", "UTC"), now)
    with pytest.raises(ConfigError, match=r"^The period 2026-10-12..2026-10-13 starts at or after "):
        measured_up_to(period_from_range("2026-10-12", "2026-10-13", "UTC"), now)
    # a DST month chains over its own local month starts
    assert [b.isoformat() for b in parse_period("2024-Q1", "Europe/Berlin").boundaries()] == [
        "2024-01-01T00:00:00+01:00", "2024-02-01T00:00:00+01:00", "2024-03-01T00:00:00+01:00",
        "2024-04-01T00:00:00+02:00"]
