"""Value conversion at the edge: HubSpot's strings to the store's types."""

import pytest

from hubspot_metrics.values import UNPARSED, convert, converter, store_kind


@pytest.mark.parametrize("raw, kind, expected", [
    ("2024-01-17T19:55:04.281Z", "datetime", "2024-01-17T19:55:04.281Z"),
    ("2024-01-17T19:55:04Z", "datetime", "2024-01-17T19:55:04.000Z"),
    ("2024-01-17T21:55:04.281+02:00", "datetime", "2024-01-17T19:55:04.281Z"),
    ("2024-01-17", "datetime", "2024-01-17T00:00:00.000Z"),
    ("1705521304281", "datetime", "2024-01-17T19:55:04.281Z"),   # epoch milliseconds (spec 7.13)
    ("2024-01-17T19:55:04.281", "datetime", "2024-01-17T19:55:04.281Z"),  # no zone means UTC
    ("not a date", "datetime", UNPARSED),
    ("123", "datetime", UNPARSED),  # fewer than 10 digits is not epoch ms
    ("2024-02-30T10:00:00.000Z", "datetime", UNPARSED),  # HubSpot's shape, but no such day
    ("2024-13-01T00:00:00.000Z", "datetime", UNPARSED),
    ("2024-01-17T19:55:04.281Z\n", "datetime", "2024-01-17T19:55:04.281Z"),
    ("0999-01-01T00:00:00Z", "datetime", "0999-01-01T00:00:00.000Z"),  # still the fixed-width form
    ("1500.00", "number", 1500.0),
    (" 9 ", "number", 9.0),
    ("-40", "number", -40.0),
    ("1e3", "number", 1000.0),
    ("12,5k", "number", UNPARSED),
    ("NaN", "number", UNPARSED),
    ("inf", "number", UNPARSED),
    ("true", "bool", 1),
    ("FALSE", "bool", 0),
    ("yes", "bool", UNPARSED),
    ("=cmd|' /C calc'!A0", "text", "=cmd|' /C calc'!A0"),
    ("", "number", None),
    ("   ", "datetime", None),
    (None, "text", None),
    ("", "text", None),
    (" \t", "text", None),
    # HubSpot promises strings; anything else is read as the text it would have sent
    ({"a": "ä"}, "text", '{"a": "ä"}'),
    (["x", 1], "text", '["x", 1]'),
    ({"a": 1}, "number", UNPARSED),
    ([], "datetime", UNPARSED),
    (12, "number", 12.0),
    (12, "text", "12"),
    (True, "bool", 1),
    (False, "text", "false"),
    (1705521304281, "datetime", "2024-01-17T19:55:04.281Z"),
    ("x", "a kind the store does not type", "x"),
    (" ", "a kind the store does not type", None),
])
def test_convert(raw, kind, expected):
    # `converter(kind)` is what the sync calls per cell (a None it skips itself): the same answers
    for value in [convert(raw, kind)] + ([converter(kind)(raw)] if raw is not None else []):
        assert value == expected if expected is not UNPARSED else value is UNPARSED


def test_store_kinds():
    assert [store_kind(t) for t in ("number", "datetime", "date", "bool", "enumeration", "string", None)] == [
        "number", "datetime", "datetime", "bool", "text", "text", "text"]
