"""Reporting periods: half-open `[start, end)` intervals whose bounds fall on local midnight.

A period is read from the command line (`2026-10`, `2026-Q3`, `2026`, or `--since/--until`
dates), named by the nightly job (`month_to_date`, `last_month`, `last_quarter`,
`year_to_date`), or derived (`previous_period`, `closed_periods`). Bounds are aware datetimes
in the configured IANA time zone, so a Berlin month starts at 00:00 Berlin time, and
`start.isoformat()` carries the zone's offset (docs/metrics.md, "Periods").

A period that has not ended when the store was last synced is *open*: `measured_up_to`
gives it an `as_of` (the start of that sync), and every length below is the elapsed part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hubspot_metrics.errors import ConfigError

DAYS_PER_MONTH = 30.436875  # the mean Gregorian month (docs/metrics.md, "Periods")
GRAINS = ("month", "quarter", "year")
NAMED_PERIODS = ("month_to_date", "last_month", "last_quarter", "year_to_date")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TO_DATE = {"month": "MTD", "year": "YTD"}
PERIOD_HELP = "use 2026-10 (month), 2026-Q3 (quarter), 2026 (year) or --since 2026-01-15 --until 2026-02-15"


@dataclass(frozen=True)
class Period:
    label: str          # "2026-10", "2026-Q3", "2026", "2026-01-15..2026-02-15", "2026-11-MTD", "2026-YTD"
    grain: str          # "month" | "quarter" | "year" | "range"
    start: datetime     # aware, in the configured zone, inclusive
    end: datetime       # aware, in the configured zone, exclusive
    to_date: str | None = None  # "month" or "year" for month_to_date / year_to_date ranges
    as_of: datetime | None = None  # set when the period is open: measured up to this instant

    @property
    def partial(self) -> bool:
        return self.as_of is not None

    @property
    def until(self) -> datetime:
        """Where measuring stops: the end, or `as_of` for an open period."""
        return self.as_of or self.end

    @property
    def timezone(self) -> str:
        return getattr(self.start.tzinfo, "key", None) or str(self.start.tzinfo)

    @property
    def elapsed_days(self) -> float:
        # Aware datetimes sharing one tzinfo subtract as wall-clock times; go through UTC so
        # that a period spanning a DST change has its real length (23 or 25 hour days).
        return (_utc(self.until) - _utc(self.start)).total_seconds() / 86400

    @property
    def months(self) -> float:
        """months(P): 1, 3 or 12; a range of whole months counts them; any other range, and the
        elapsed part of an open period, is elapsed time / 30.436875 days."""
        if self.partial:
            return self.elapsed_days / DAYS_PER_MONTH
        if self.grain in GRAINS:
            return {"month": 1.0, "quarter": 3.0, "year": 12.0}[self.grain]
        whole = self.calendar_months
        return float(len(whole)) if whole else self.elapsed_days / DAYS_PER_MONTH

    @property
    def calendar_months(self) -> list[str] | None:
        """The "YYYY-MM" months P covers exactly, or None when P is not whole months (CAC)."""
        if not (_is_month_start(self.start) and _is_month_start(self.end)) or self.end <= self.start:
            return None
        months = []
        y, m = self.start.year, self.start.month
        while (y, m) < (self.end.year, self.end.month):
            months.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return months

    def spend_shares(self) -> list[tuple[str, float]] | None:
        """The [spend] months spend(P) needs, each with the share of its entry that counts:
        1 for a month that ended by `until`, the elapsed fraction for the month holding
        `as_of`; months after it are not needed. None when P is not whole months."""
        months = self.calendar_months
        if months is None:
            return None
        shares = []
        for label in months:
            first = _midnight(date(int(label[:4]), int(label[5:]), 1), self.start.tzinfo)
            after = _midnight(date(*_add_months(first.year, first.month, 1), 1), self.start.tzinfo)
            if after <= self.until:
                shares.append((label, 1.0))
            elif first < self.until:
                shares.append((label, (_utc(self.until) - _utc(first)) / (_utc(after) - _utc(first))))
        return shares

    def boundaries(self) -> list[datetime]:
        """start, every local month start inside P, and `until`: the pieces whose retentions
        chain into monthly churn (docs/metrics.md, "monthly_churn_rate")."""
        cuts = [self.start]
        y, m = _add_months(self.start.year, self.start.month, 1)
        while (first := _midnight(date(y, m, 1), self.start.tzinfo)) < self.until:
            cuts.append(first)
            y, m = _add_months(y, m, 1)
        return cuts + [self.until]

    def utc_bounds(self) -> tuple[datetime, datetime]:
        return _utc(self.start), _utc(self.until)


def zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"The time zone {tz!r} is not a known IANA name; use one such as 'UTC' or 'Europe/Berlin'.")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    # The first instant of the local day. Where DST skips midnight, fold=0 resolves the
    # missing wall time with the pre-transition offset, which is exactly the transition.
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def first_midnight_at_or_after(moment: datetime, tz: ZoneInfo) -> datetime:
    """The first local midnight at or after `moment`: a date-only value d is at or after
    `moment` exactly when midnight of d is at or after this one."""
    day = moment.astimezone(tz).date()
    midnight = _midnight(day, tz)
    return midnight if midnight >= moment else _midnight(day + timedelta(days=1), tz)


def _is_month_start(moment: datetime) -> bool:
    return moment == _midnight(date(moment.year, moment.month, 1), moment.tzinfo)


def _add_months(year: int, month: int, k: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + k
    return index // 12, index % 12 + 1


def _check_year(year: int, text: str) -> None:
    if not 1900 <= year <= 9998:
        raise ConfigError(f"The period {text!r} is out of range; use a year between 1900 and 9998.")


def month_period(year: int, month: int, tz: str | ZoneInfo) -> Period:
    tz = zone(tz)
    ny, nm = _add_months(year, month, 1)
    return Period(f"{year:04d}-{month:02d}", "month", _midnight(date(year, month, 1), tz),
                  _midnight(date(ny, nm, 1), tz))


def quarter_period(year: int, quarter: int, tz: str | ZoneInfo) -> Period:
    tz = zone(tz)
    first = 3 * (quarter - 1) + 1
    ny, nm = _add_months(year, first, 3)
    return Period(f"{year:04d}-Q{quarter}", "quarter", _midnight(date(year, first, 1), tz),
                  _midnight(date(ny, nm, 1), tz))


def year_period(year: int, tz: str | ZoneInfo) -> Period:
    tz = zone(tz)
    return Period(f"{year:04d}", "year", _midnight(date(year, 1, 1), tz), _midnight(date(year + 1, 1, 1), tz))


def parse_period(text: str, tz: str | ZoneInfo) -> Period:
    """`2026-10`, `2026-Q3` or `2026`; anything else is a `ConfigError` saying what to write."""
    raw = (text or "").strip()
    if m := _MONTH.match(raw):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ConfigError(f"The period {text!r} has no month {m[2]}; {PERIOD_HELP}.")
        _check_year(year, text)
        return month_period(year, month, tz)
    if m := _QUARTER.match(raw):
        _check_year(int(m[1]), text)
        return quarter_period(int(m[1]), int(m[2]), tz)
    if m := _YEAR.match(raw):
        _check_year(int(m[1]), text)
        return year_period(int(m[1]), tz)
    raise ConfigError(f"The period {text!r} is not a period; {PERIOD_HELP}.")


def _parse_date(text: str, option: str) -> date:
    raw = (text or "").strip()
    try:
        if not _DATE.match(raw):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-01-15.")
    _check_year(day.year, text)
    return day


def period_from_range(since: str, until: str, tz: str | ZoneInfo) -> Period:
    """Dates `since` (inclusive) to `until` (exclusive), each at local midnight."""
    tz = zone(tz)
    first, last = _parse_date(since, "--since"), _parse_date(until, "--until")
    if last <= first:
        raise ConfigError(f"--until {until} must be after --since {since} (the until date is exclusive).")
    return Period(f"{first.isoformat()}..{last.isoformat()}", "range", _midnight(first, tz), _midnight(last, tz))


def _now(tz: ZoneInfo, now: datetime | None) -> datetime:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    # Whole seconds: the label and the JSON bounds stay readable; a record stamped in the
    # current second shows up in the next run.
    return now.astimezone(tz).replace(microsecond=0)


def _to_date_period(kind: str, start: datetime, end: datetime, as_of: datetime | None = None) -> Period:
    label = (f"{start.year:04d}-{start.month:02d}" if kind == "month" else f"{start.year:04d}") + "-" + _TO_DATE[kind]
    return Period(label, "range", start, end, to_date=kind, as_of=as_of)


def measured_up_to(period: Period, now: datetime) -> Period:
    """`period` as the store can measure it when it is complete up to `now` (the start of its
    last completed sync): open (with `as_of`) when it ends after `now`; an error when it has
    not started by then, whatever the wall clock says."""
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    if _utc(period.start) >= _utc(now):
        raise ConfigError(f"The period {period.label} starts at or after {format_moment(now)}, the instant the store "
                          f"is complete to (the start of its last completed sync); choose an earlier period, or sync.")
    if _utc(period.end) > _utc(now):
        return replace(period, as_of=now.astimezone(period.start.tzinfo))
    return replace(period, as_of=None)


def format_moment(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def named_period(name: str, tz: str | ZoneInfo, now: datetime | None = None) -> Period:
    """The nightly job's periods, relative to `now`.

    `month_to_date` / `year_to_date` run from the local start of the current month / year to
    now (grain "range", label `2026-11-MTD` / `2026-YTD`); `last_month` / `last_quarter` are
    the most recent closed month / quarter.
    """
    tz = zone(tz)
    current = _now(tz, now)
    # To date: the running month / year, open up to `now` (`measured_up_to` keeps it so).
    if name == "month_to_date":
        start = _midnight(date(current.year, current.month, 1), tz)
        return _to_date_period("month", start, _midnight(date(*_add_months(current.year, current.month, 1), 1), tz),
                               current)
    if name == "year_to_date":
        return _to_date_period("year", _midnight(date(current.year, 1, 1), tz),
                               _midnight(date(current.year + 1, 1, 1), tz), current)
    if name == "last_month":
        return closed_periods("month", 1, tz, current)[0]
    if name == "last_quarter":
        return closed_periods("quarter", 1, tz, current)[0]
    raise ConfigError(f"Unknown period name {name!r}; use any of {', '.join(NAMED_PERIODS)}.")


def _period_at(grain: str, year: int, index: int, tz: ZoneInfo) -> Period:
    """The period of `grain` numbered `index` (month 1-12 or quarter 1-4) in `year`."""
    if grain == "month":
        return month_period(year, index, tz)
    if grain == "quarter":
        return quarter_period(year, index, tz)
    return year_period(year, tz)


def _shift(p: Period, k: int) -> Period:
    """The period `k` steps after `p` (k < 0: before) for month, quarter and year grains."""
    tz = p.start.tzinfo
    if p.grain == "month":
        y, m = _add_months(p.start.year, p.start.month, k)
        return month_period(y, m, tz)
    if p.grain == "quarter":
        y, m = _add_months(p.start.year, p.start.month, 3 * k)
        return quarter_period(y, (m - 1) // 3 + 1, tz)
    return year_period(p.start.year + k, tz)


def previous_period(p: Period) -> Period:
    """The period just before `p`, for `--compare`.

    Months, quarters and years step back one. A month/year-to-date range compares with the
    same stretch of the previous month/year (1-17 Nov 10:00 → 1-17 Oct 10:00; day clamped to
    the shorter month). A range of whole months steps back by as many months; another date
    range by its own number of local days; any other range by its elapsed time.
    """
    if p.grain in GRAINS:
        return _shift(p, -1)
    tz = p.start.tzinfo
    if p.to_date:
        if p.to_date == "month":
            y, m = _add_months(p.start.year, p.start.month, -1)
        else:
            y, m = p.start.year - 1, 1
        start = _midnight(date(y, m, 1), tz)
        wall = p.until
        ey, em = (y, m) if p.to_date == "month" else (y, wall.month)
        last_day = (_midnight(date(*_add_months(ey, em, 1), 1), tz).date() - timedelta(days=1)).day
        end = datetime(ey, em, min(wall.day, last_day), wall.hour, wall.minute, wall.second, tzinfo=tz)
        return _to_date_period(p.to_date, start, end)
    months = p.calendar_months
    if months:
        y, m = _add_months(p.start.year, p.start.month, -len(months))
        first = date(y, m, 1)
        return Period(f"{first.isoformat()}..{p.start.date().isoformat()}", "range", _midnight(first, tz), p.start)
    if p.start == _midnight(p.start.date(), tz) and p.end == _midnight(p.end.date(), tz):
        days = (p.end.date() - p.start.date()).days
        first = p.start.date() - timedelta(days=days)
        return Period(f"{first.isoformat()}..{p.start.date().isoformat()}", "range", _midnight(first, tz), p.start)
    start = _utc(p.start) - (_utc(p.end) - _utc(p.start))
    start = start.astimezone(tz)
    return Period(f"{start.isoformat()}..{p.start.isoformat()}", "range", start, p.start)


def compared_period(p: Period) -> Period:
    """The period `--compare` sets beside `p`: `previous_period`, and when `p` is open, measured
    over the same elapsed time from its start as `p` (its `as_of` = its start + (as_of(p) −
    start(p))), so that a running month is not set against a whole one. When that reaches its
    end (a previous period shorter than the stretch), the whole previous period is used.
    """
    before = previous_period(p)
    if not p.partial or p.to_date:  # (a to-date period's previous one is already the same stretch)
        return before
    cut = _utc(before.start) + (_utc(p.until) - _utc(p.start))
    if cut >= _utc(before.end):
        return before
    return replace(before, as_of=cut.astimezone(before.start.tzinfo))


def running_period(grain: str, tz: str | ZoneInfo, now: datetime | None = None) -> Period:
    """The period of `grain` that `now` falls in (whole; `measured_up_to` makes it open)."""
    if grain not in GRAINS:
        raise ConfigError(f"Unknown grain {grain!r}; use month, quarter or year.")
    tz = zone(tz)
    current = _now(tz, now)
    index = {"month": current.month, "quarter": (current.month - 1) // 3 + 1, "year": 1}[grain]
    return _period_at(grain, current.year, index, tz)


def closed_periods(grain: str, n: int, tz: str | ZoneInfo, now: datetime | None = None) -> list[Period]:
    """The `n` most recent periods of `grain` that have ended by `now`, oldest first."""
    running = running_period(grain, tz, now)  # refuses an unknown grain first
    if n < 1:
        raise ConfigError(f"The number of periods must be 1 or more, not {n}.")
    return [_shift(running, -k) for k in range(n, 0, -1)]
