"""Convert HubSpot's string values once, at the edge.

HubSpot sends every property value as a string (or null). The store keeps numbers as REAL,
booleans as 0/1 and instants as fixed-width ISO-8601 UTC text (`2024-01-17T19:55:04.281Z`),
so that SQL can compare instants as text. A value that does not parse is kept raw.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone
from typing import Callable

# A stored instant is exactly this shape; anything else in a datetime column is a raw value.
TIMESTAMP_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z"
_EPOCH_MS = re.compile(r"^\d{10,}$")  # ten or more digits and nothing else (docs/metrics.md, "Reading HubSpot's values")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

UNPARSED = object()  # marker: the value did not parse


def format_instant(moment: datetime) -> str:
    m = moment.astimezone(timezone.utc)  # (strftime would not pad years below 1000)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
            f"{m.microsecond // 1000:03d}Z")


def parse_instant(raw: str) -> datetime | None:
    """ISO 8601 (with or without zone; none means UTC), date-only (midnight UTC) or epoch ms."""
    text = raw.strip()
    if not text:
        return None
    try:
        if _EPOCH_MS.match(text):
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        if _DATE_ONLY.match(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def parse_number(raw: str) -> float | None:
    text = raw.strip()
    if not _NUMBER.match(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def parse_bool(raw: str) -> int | None:
    text = raw.strip().lower()
    if text == "true":
        return 1
    if text == "false":
        return 0
    return None


def convert(raw, kind: str):
    """Return the stored form of one property value, `None` for no value, or `UNPARSED`.

    `kind` is the store kind of the property: "number", "datetime", "bool" or "text".
    """
    return None if raw is None else converter(kind)(raw)


def converter(kind: str) -> Callable[[object], object]:
    """`convert` for one kind, picked once per column: the sync converts every cell it writes,
    and most cells are a non-blank string, which each converter takes first with no other test."""
    return _CONVERTERS.get(kind, _as_is)


def _text(raw):
    if raw.__class__ is str and raw and not raw.isspace():
        return raw
    return _unusual(raw, "text")


def _number(raw):
    if raw.__class__ is not str or not raw or raw.isspace():
        return _unusual(raw, "number")
    value = parse_number(raw)
    return UNPARSED if value is None else value


def _datetime(raw):
    if raw.__class__ is str and _CANONICAL.match(raw):  # HubSpot's usual form is already the stored form
        try:
            datetime.fromisoformat(raw[:-1])  # the shape is right; is it a real date?
        except ValueError:
            return UNPARSED
        return raw
    if raw.__class__ is not str or not raw or raw.isspace():
        return _unusual(raw, "datetime")
    moment = parse_instant(raw)
    return format_instant(moment) if moment else UNPARSED


def _bool(raw):
    if raw.__class__ is not str or not raw or raw.isspace():
        return _unusual(raw, "bool")
    value = parse_bool(raw)
    return UNPARSED if value is None else value


def _as_is(raw):  # (a kind the store does not type)
    if raw.__class__ is str and raw and not raw.isspace():
        return raw
    return _unusual(raw, "")


_CONVERTERS = {"text": _text, "number": _number, "datetime": _datetime, "bool": _bool}


def _unusual(raw, kind: str):
    """What every converter does with no value, a blank string, or a value that is not a string
    (HubSpot promises strings; anything else is read as the text it would have sent)."""
    if raw is None:
        return None
    if isinstance(raw, (dict, list)):  # kept as JSON text where text is expected
        return json.dumps(raw, ensure_ascii=False) if kind == "text" else UNPARSED
    if raw.__class__ is not str:
        raw = str(raw).lower() if isinstance(raw, bool) else str(raw)
    if raw == "" or raw.isspace():
        return None
    return _CONVERTERS.get(kind, _as_is)(raw)  # (a non-blank str now: the converter's first case)


def store_kind(hubspot_type: str | None) -> str:
    """Map a HubSpot property `type` to the store kind."""
    return {"number": "number", "datetime": "datetime", "date": "datetime", "bool": "bool"}.get(
        hubspot_type or "", "text")


# A spreadsheet opening a CSV runs a cell that starts with one of these as a formula; a tab or
# carriage return in front hides the formula from a check of the first character only.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A text cell for every CSV the tool writes: a leading apostrophe defuses a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
