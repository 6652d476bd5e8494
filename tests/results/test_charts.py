"""The report's chart geometry: scale without outliers, gaps with their reason, the open month."""

from __future__ import annotations

from hubspot_metrics.results.charts import (
    Dot, Point, Series, axis_unit, compact_number, line_chart, month_label, robust_range, scale_range)

MONTHS = ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07",
          "2026-08", "2026-09", "2026-10", "2026-11"]


def _chart(values, reasons=None):
    reasons = reasons or {}
    points = [Point(m, v, reasons.get(m), open=(i == len(MONTHS) - 1)) for i, (m, v) in enumerate(zip(MONTHS, values))]
    return line_chart([Series("Leads", points)], "count", lambda v: f"{v:.0f} leads",
                      lambda r: (r or "no value").replace("_", " "), "Leads by month")


def test_the_scale_ignores_a_value_far_outside_the_others():
    assert robust_range([10, 11, 12, 13, 500]) == (10, 13)
    assert robust_range([10, 11, 500, 12, 13]) == (10, 13)
    # Most months equal: the interquartile range is 0, half the median still lets 120 in.
    assert robust_range([100, 100, 100, 100, 120, 10_000]) == (100, 120)
    assert robust_range([3, 1]) == (1, 3)  # too few values to call one an outlier
    # The fence is the series' together; whether a point stands alone is judged in its own series.
    assert scale_range([[10, 11, 12, 13, 500], [11, 12, 11, 12, 12]]) == (10, 13)


def test_a_steady_rise_or_fall_draws_every_point_on_the_scale():
    # Flat, then a steady climb: the fence (the interquartile range is 0, so half the median: 10 to 30) leaves
    # the last month out, but its neighbour leads up to it, so it is a trend and not a spike.
    rising = [20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 24, 28, 32]
    falling = [20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 16, 12, 8]
    doubling = [1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8, 16, 32]  # past the fence twice over: each led up to
    for values, scale in ((rising, (20, 32)), (falling, (8, 20)), (doubling, (1, 32)),
                          (list(reversed(rising)), (20, 32)), (list(reversed(doubling)), (1, 32))):
        assert robust_range(values) == scale, values
        chart = _chart(values)
        assert chart.clipped is False and [d for d in chart.lines[0].dots if d.clipped] == [], values
        assert not any("beyond the scale" in d.title for d in chart.lines[0].dots)
    # The same months with one isolated spike: only the spike is drawn on the axis and marked.
    spiked = rising[:5] + [90] + rising[6:]
    chart = _chart(spiked)
    assert [(d.title, d.clipped) for d in chart.lines[0].dots if d.clipped] == [
        ("Leads, 2026-04: 90 leads (beyond the scale)", "high")]
    assert chart.y_ticks == [(128.0, "20"), (77.0, "26"), (26.0, "32")]


def test_an_outlier_is_drawn_on_the_axis_and_marked_and_a_missing_month_is_a_gap_with_its_reason():
    chart = _chart([10, 11, None, 12, 13, 500, 11, 12, 13, 12, 11, 12, 14], {"2026-01": "no_responses"})
    # The plot runs from y 128 (value 10) up to y 26 (value 14); 500 does not stretch it.
    assert chart.y_ticks == [(128.0, "10"), (77.0, "12"), (26.0, "14")]
    assert chart.unit == "count" and chart.clipped is True
    assert chart.x_labels == [(40.0, "Nov 25"), (107.5, "Feb"), (175.0, "May"), (242.5, "Aug"), (310.0, "Nov")]
    assert chart.gaps == [(85.0, "2026-01: no value (no responses)")]
    assert chart.gap_notes == ["2026-01: no responses"]
    line = chart.lines[0]
    # The gap splits the line; the open month hangs on a dashed step of its own.
    assert line.solid == ["M40.0 128.0 L62.5 102.5",
                          "M107.5 77.0 L130.0 51.5 L152.5 26.0 L175.0 102.5 L197.5 77.0 L220.0 51.5 L242.5 77.0 "
                          "L265.0 102.5 L287.5 77.0"]
    assert line.dashed == ["M287.5 77.0 L310.0 26.0"]
    assert line.dots[4] == Dot(152.5, 26.0, "Leads, 2026-04: 500 leads (beyond the scale)", False, "high")
    assert line.dots[-1] == Dot(310.0, 26.0, "Leads, 2026-11 so far: 14 leads", True, None)
    assert len(line.dots) == 12  # every month with a value, each with its hover title
    assert line.last == (310.0, 20.0, "14 leads", "end")


def test_a_value_below_the_scale_is_marked_low_and_no_values_give_no_chart():
    chart = _chart([50, 51, 52, 53, 52, 51, 50, 51, 52, 53, 52, 51, -900])
    assert chart.lines[0].dots[-1].clipped == "low" and chart.lines[0].dots[-1].y == 128.0
    assert _chart([None] * 13) is None


def test_axis_texts_are_short_and_name_their_unit():
    assert [compact_number(v) for v in (0.0, 0.25, 7.5, 12.0, 250.4, 48_260, 1_000_000, 2_345_678)] == [
        "0", "0.25", "7.5", "12", "250", "48.3k", "1M", "2.3M"]
    assert [axis_unit(u, "EUR") for u in ("currency", "currency_per_day", "percent", "hours", "days", "score")] == [
        "EUR", "EUR per day", "%", "hours", "days", "score"]
    assert axis_unit("currency", None) == "money"
    assert [month_label("2026-01", False), month_label("2026-02", False), month_label("2026-02", True)] == [
        "Jan 26", "Feb", "Feb 26"]
