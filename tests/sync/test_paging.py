"""The page readers' shortcuts give what the plain definitions give."""

from __future__ import annotations

from hubspot_metrics.sync.paging import id_text, modified_after, modified_ms

LIMIT_MS = 1_794_979_259_500  # 2026-11-18T05:20:59.500Z
STAMPS = [
    "2026-11-18T05:20:59.500Z",   # the limit itself: not later
    "2026-11-18T05:20:59.501Z",   # one millisecond later
    "2026-11-18T05:20:59,900Z",   # a comma before the fraction parses too, and is later
    "2026-W47-3T05:20:59.999Z",   # an ISO week date of the same day, later
    "2026-11-18T06:20:59.000+01:00",
    "2026-11-18T05:21:00Z",
    "1795003259501",              # epoch milliseconds
    "2026-11-19",                 # a date alone
    "9999-12-31T23:59:59.999Z",
    "2025-01-01T00:00:00.000Z",
    "+026-11-18T05:20:59.999Z",   # junk in the canonical shape: no stamp
    "2026-13-45T99:99:99.999Z",
    "not a date", "", None, 17,
]


def test_modified_after_is_the_later_of_the_parsed_stamps():
    records = [{"id": str(i), "properties": {"hs_lastmodifieddate": s}} for i, s in enumerate(STAMPS)]
    records += [{"id": "u", "properties": {}, "updatedAt": "2027-01-01T00:00:00.000Z"}, "junk", {"id": "v"}]
    plain = [m for m in (modified_ms(r, "hs_lastmodifieddate") for r in records) if m is not None and m > LIMIT_MS]
    assert modified_after(records, "hs_lastmodifieddate", LIMIT_MS) == plain
    assert len(plain) == 8


def test_id_text_takes_text_and_whole_numbers_only():
    assert [id_text(v) for v in ("12", "", 12, True, 1.5, None, ["1"])] == ["12", None, "12", None, None, None, None]
