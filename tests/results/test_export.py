"""`export`: the exact CSV bytes, which periods it covers, and where each row comes from."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import KPI_KEYS
from hubspot_metrics.metrics.definition import definition_fingerprint
from hubspot_metrics.periods import parse_period
from hubspot_metrics.results.export import export_csv
from hubspot_metrics.results.snapshots import COLUMNS
from hubspot_metrics.store import open_store, transaction

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
AUG = ("2026-08", "2026-08-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00")
SEP = ("2026-09", "2026-09-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00")
OCT = ("2026-10", "2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00")


def _snapshot_rows(day, computed_at, period, rows, version="kpi-spec-v2"):
    """Rows as `snapshot` writes them: under the fingerprint of MetricsSettings() in UTC, or
    (version kpi-spec-v1) as spec v1 wrote them, without one."""
    label, start, end = period
    definition = definition_fingerprint(MetricsSettings(timezone="UTC"), parse_period(label, "UTC"))
    if version == "kpi-spec-v1":
        definition = None
    return [(day, computed_at, label, "month", start, end, key, value, n, reason, unit, version, 1, definition, end, 0)
            for key, value, n, reason, unit in rows]


@pytest.fixture
def db(tmp_path):
    """A store holding a hand-built snapshot history: two days of October, one of September.

    The text cells are hostile on purpose: a formula, a leading minus, commas, quotes and a
    line break, as a reason could carry if a later spec version put free text there.
    """
    db = open_store(tmp_path / "s.db")
    rows = (
        _snapshot_rows("2026-10-03", "2026-10-03T02:00:00.000Z", SEP, [
            ("cac", None, 0, "spend_not_configured", "currency"),
            ("nps", -40.0, 5, None, "score"),
            ("revenue", 10500.0, 3, None, "currency")])
        # October, first snapshotted on 19 November and again on 20 November: the newer day wins.
        + _snapshot_rows("2026-11-19", "2026-11-19T02:00:00.000Z", OCT, [
            ("cac", 1.0, 1, None, "currency"), ("nps", 0.0, 10, None, "score"), ("revenue", 1.0, 1, None, "currency")])
        + _snapshot_rows("2026-11-20", "2026-11-20T02:00:00.000Z", OCT, [
            ("cac", None, 2, '=HYPERLINK("http://x","a,b")', "currency"),
            ("nps", 42.857142857142854, 7, None, "score"),
            ("revenue", None, 0, "-no\nwon, deals", "@currency")])
        # Spec v1 said otherwise about August; that never mixes into a v2 history.
        + _snapshot_rows("2026-09-02", "2026-09-02T02:00:00.000Z", AUG, [("revenue", 99.0, 1, None, "currency")],
                         version="kpi-spec-v1"))
    with transaction(db) as conn:
        conn.executemany(f"INSERT INTO kpi_snapshots ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                         [r[:len(COLUMNS)] for r in rows])
        conn.execute("INSERT INTO account (portalId, companyCurrency) VALUES (123, 'EUR')")
    yield db
    db.conn.close()


def test_long_format_is_exact_rfc4180_with_formulas_neutralized_and_numbers_kept(db):
    text = export_csv(db, MetricsSettings(), grain="month", periods=2, now=NOW)
    # Every row names the home currency the portal keeps its money in; `unit` says which values are money.
    assert text == (
        "period,start,end,key,value,n,reason,unit,currency,computed_at,source\r\n"
        "2026-09,2026-09-01T00:00:00+00:00,2026-10-01T00:00:00+00:00,cac,,0,spend_not_configured,currency,EUR,"
        "2026-10-03T02:00:00.000Z,snapshot\r\n"
        "2026-09,2026-09-01T00:00:00+00:00,2026-10-01T00:00:00+00:00,nps,-40.0,5,,score,EUR,2026-10-03T02:00:00.000Z,"
        "snapshot\r\n"
        "2026-09,2026-09-01T00:00:00+00:00,2026-10-01T00:00:00+00:00,revenue,10500.0,3,,currency,EUR,"
        "2026-10-03T02:00:00.000Z,snapshot\r\n"
        "2026-10,2026-10-01T00:00:00+00:00,2026-11-01T00:00:00+00:00,cac,,2,\"'=HYPERLINK(\"\"http://x\"\",\"\"a,b\"\")\","
        "currency,EUR,2026-11-20T02:00:00.000Z,snapshot\r\n"
        "2026-10,2026-10-01T00:00:00+00:00,2026-11-01T00:00:00+00:00,nps,42.857143,7,,score,EUR,"
        "2026-11-20T02:00:00.000Z,snapshot\r\n"
        "2026-10,2026-10-01T00:00:00+00:00,2026-11-01T00:00:00+00:00,revenue,,0,\"'-no\nwon, deals\",'@currency,EUR,"
        "2026-11-20T02:00:00.000Z,snapshot\r\n")


def test_wide_format_is_one_row_per_period_with_a_column_per_kpi(db):
    text = export_csv(db, MetricsSettings(), grain="month", periods=2, wide=True, now=NOW)
    header = ("period,start,end,partial,currency,computed_at,source,cac,customer_retention_rate,"
              "customer_lifetime_value,conversion_rate,churn_rate,nps,csat,avg_first_response_hours,"
              "avg_sales_cycle_days,pipeline_velocity,new_customers,leads,customers_at_start,customers_retained,"
              "revenue,paying_customers,revenue_per_customer,deals_won,deals_lost,win_rate,avg_deal_size,new_deals,"
              "open_deals_at_start,active_customers,arpa,monthly_churn_rate,revenue_per_day,lead_to_customer_days,"
              "median_sales_cycle_days,deal_throughput,pipeline_speed,spend,ltv_to_cac,open_deals,"
              "open_pipeline_value,nps_responses,csat_responses,tickets_created,tickets_unanswered,"
              "median_first_response_hours")
    keys = header.split(",")[7:]
    assert keys == list(KPI_KEYS)

    def row(period, computed_at, values):  # closed periods only: partial is 0 on every row
        return ",".join([*period, "0", "EUR", computed_at, "snapshot", *(values.get(k, "") for k in keys)]) + "\r\n"

    assert text == (header + "\r\n"
                    + row(SEP, "2026-10-03T02:00:00.000Z", {"nps": "-40.0", "revenue": "10500.0"})
                    + row(OCT, "2026-11-20T02:00:00.000Z", {"nps": "42.857143"}))


def test_the_cli_writes_utf8_without_bom_and_says_what_it_wrote(db, tmp_path):
    out = tmp_path / "kpis.csv"
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "s.db"), "export", "--out", str(out), "--periods", "2"])
    # The store was never synced: export refuses instead of writing a file of empty KPIs.
    assert (result.exit_code, result.output) == (
        2, f"Error: The store {tmp_path / 's.db'} has never been synced; run `hubspot-metrics sync` first.\n")
    assert not out.exists()

    with transaction(db) as conn:
        conn.execute("INSERT INTO sync_runs (started_at, ended_at, status) VALUES "
                     "('2026-11-20T01:00:00.000Z', '2026-11-20T01:05:00.000Z', 'ok')")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "s.db"), "export", "--out", str(out), "--periods", "1"])
    assert (result.exit_code, result.output) == (
        0, f"wrote {out}: 1 month, long format; 1 from snapshots, 0 computed now\n")
    data = out.read_bytes()
    assert data.startswith(b"period,start,end,key,value,n,reason,unit,currency,computed_at,source\r\n2026-")  # no BOM
    data.decode("utf-8")


def test_a_period_never_snapshotted_is_computed_from_the_store_at_export_time(db):
    lines = export_csv(db, MetricsSettings(), grain="month", periods=3, now=NOW).split("\r\n")
    august = [line for line in lines if line.startswith("2026-08,")]
    bounds = "2026-08,2026-08-01T00:00:00+00:00,2026-09-01T00:00:00+00:00"
    assert [line.split(",")[3] for line in august] == list(KPI_KEYS)  # every key, in the spec's order
    # (its v1 snapshot is not used: revenue is computed, 0.0, not the 99.0 v1 said)
    assert august[:2] == [f"{bounds},cac,,0,spend_not_configured,currency,EUR,2026-11-20T12:00:00.000Z,computed",
                          f"{bounds},customer_retention_rate,,0,no_customers_at_start,percent,EUR,"
                          "2026-11-20T12:00:00.000Z,computed"]
    assert f"{bounds},new_customers,0,0,,count,EUR,2026-11-20T12:00:00.000Z,computed" in august
    assert f"{bounds},revenue,0.0,0,,currency,EUR,2026-11-20T12:00:00.000Z,computed" in august
    # September and October still come from their snapshots.
    assert sum(line.startswith(("2026-09,", "2026-10,")) for line in lines) == 6


def _periods(text: str) -> list[tuple[str, str, str]]:
    rows = [line.split(",")[:3] for line in text.split("\r\n")[1:] if line]
    return list(dict.fromkeys(tuple(r) for r in rows))


@pytest.mark.parametrize(("tz", "expected"), [
    # 23:30 UTC on 30 November is already 1 December in Auckland: November has closed there.
    ("Pacific/Auckland", [
        ("2025-12", "2025-12-01T00:00:00+13:00", "2026-01-01T00:00:00+13:00"),
        ("2026-01", "2026-01-01T00:00:00+13:00", "2026-02-01T00:00:00+13:00"),
        ("2026-02", "2026-02-01T00:00:00+13:00", "2026-03-01T00:00:00+13:00"),
        ("2026-03", "2026-03-01T00:00:00+13:00", "2026-04-01T00:00:00+13:00"),
        ("2026-04", "2026-04-01T00:00:00+13:00", "2026-05-01T00:00:00+12:00"),
        ("2026-05", "2026-05-01T00:00:00+12:00", "2026-06-01T00:00:00+12:00"),
        ("2026-06", "2026-06-01T00:00:00+12:00", "2026-07-01T00:00:00+12:00"),
        ("2026-07", "2026-07-01T00:00:00+12:00", "2026-08-01T00:00:00+12:00"),
        ("2026-08", "2026-08-01T00:00:00+12:00", "2026-09-01T00:00:00+12:00"),
        ("2026-09", "2026-09-01T00:00:00+12:00", "2026-10-01T00:00:00+13:00"),
        ("2026-10", "2026-10-01T00:00:00+13:00", "2026-11-01T00:00:00+13:00"),
        ("2026-11", "2026-11-01T00:00:00+13:00", "2026-12-01T00:00:00+13:00")]),
    # ... while in Los Angeles it is still 30 November: October is the last closed month.
    ("America/Los_Angeles", [
        ("2025-11", "2025-11-01T00:00:00-07:00", "2025-12-01T00:00:00-08:00"),
        ("2025-12", "2025-12-01T00:00:00-08:00", "2026-01-01T00:00:00-08:00"),
        ("2026-01", "2026-01-01T00:00:00-08:00", "2026-02-01T00:00:00-08:00"),
        ("2026-02", "2026-02-01T00:00:00-08:00", "2026-03-01T00:00:00-08:00"),
        ("2026-03", "2026-03-01T00:00:00-08:00", "2026-04-01T00:00:00-07:00"),
        ("2026-04", "2026-04-01T00:00:00-07:00", "2026-05-01T00:00:00-07:00"),
        ("2026-05", "2026-05-01T00:00:00-07:00", "2026-06-01T00:00:00-07:00"),
        ("2026-06", "2026-06-01T00:00:00-07:00", "2026-07-01T00:00:00-07:00"),
        ("2026-07", "2026-07-01T00:00:00-07:00", "2026-08-01T00:00:00-07:00"),
        ("2026-08", "2026-08-01T00:00:00-07:00", "2026-09-01T00:00:00-07:00"),
        ("2026-09", "2026-09-01T00:00:00-07:00", "2026-10-01T00:00:00-07:00"),
        ("2026-10", "2026-10-01T00:00:00-07:00", "2026-11-01T00:00:00-07:00")]),
])
def test_twelve_months_are_the_most_recent_closed_ones_in_the_configured_time_zone(tmp_path, tz, expected):
    db = open_store(tmp_path / "tz.db")
    text = export_csv(db, MetricsSettings(timezone=tz), grain="month", periods=12,
                      now=datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc))
    assert _periods(text) == expected
    assert text.count("\r\n") == 1 + 12 * len(KPI_KEYS)


def test_quarters_and_years_count_closed_periods_only(tmp_path):
    db = open_store(tmp_path / "g.db")
    settings = MetricsSettings(timezone="Europe/Berlin")
    quarters = export_csv(db, settings, grain="quarter", periods=2, wide=True, now=NOW)
    years = export_csv(db, settings, grain="year", periods=1, wide=True, now=NOW)
    assert [line.split(",")[:3] for line in quarters.split("\r\n")[1:-1]] == [
        ["2026-Q2", "2026-04-01T00:00:00+02:00", "2026-07-01T00:00:00+02:00"],
        ["2026-Q3", "2026-07-01T00:00:00+02:00", "2026-10-01T00:00:00+02:00"]]
    assert [line.split(",")[:3] for line in years.split("\r\n")[1:-1]] == [
        ["2025", "2025-01-01T00:00:00+01:00", "2026-01-01T00:00:00+01:00"]]


def test_the_long_file_reads_back_as_numbers_and_text_in_a_csv_reader_and_pandas(db):
    import csv
    import io

    import pandas as pd

    text = export_csv(db, MetricsSettings(), grain="month", periods=2, now=NOW)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [len(r) for r in rows] == [11] * 7  # the quoted line break stays inside its cell
    assert rows[6][6] == "'-no\nwon, deals"
    frame = pd.read_csv(io.StringIO(text, newline=""))
    assert (str(frame["value"].dtype), str(frame["n"].dtype)) == ("float64", "int64")
    assert frame["value"].tolist()[1:2] == [-40.0]  # a negative number is a number, not neutralized text


def test_period_labels_stay_text_in_a_reader_that_guesses_types(db):
    """The README promises that period labels are not turned into dates or numbers by a
    reader left to guess the column types (pandas' defaults here); the wide file's `partial`
    reads as a number a spreadsheet can filter on."""
    import io

    import pandas as pd

    long = pd.read_csv(io.StringIO(export_csv(db, MetricsSettings(), grain="month", periods=2, now=NOW), newline=""))
    assert pd.api.types.is_string_dtype(long["period"])  # text, not datetime64 or a number
    assert long["period"].tolist() == ["2026-09"] * 3 + ["2026-10"] * 3
    assert long["currency"].tolist() == ["EUR"] * 6  # the home currency on every row, as `kpis --format csv`
    wide = pd.read_csv(io.StringIO(export_csv(db, MetricsSettings(), grain="month", periods=2, wide=True, now=NOW),
                                   newline=""))
    assert (wide["period"].tolist(), wide["partial"].tolist()) == (["2026-09", "2026-10"], [0, 0])
    quarters = pd.read_csv(io.StringIO(export_csv(db, MetricsSettings(), grain="quarter", periods=2, wide=True,
                                                  now=NOW), newline=""))
    assert quarters["period"].tolist() == ["2026-Q2", "2026-Q3"]
