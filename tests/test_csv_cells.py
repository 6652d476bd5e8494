"""Every CSV the tool writes defuses spreadsheet formulas, whoever typed the text."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.values import spreadsheet_safe

from .metrics.builder import StoreBuilder

HOSTILE = {
    "=": '=HYPERLINK("http://x","y")',
    "+": "+1+cmd",
    "-": "-2+3",
    "@": "@SUM(A1)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_cell_starting_like_a_formula_gets_an_apostrophe(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["Jane Roe", "", "a=b", " =x", "'already"])
def test_other_text_is_left_as_it_is(text):
    assert spreadsheet_safe(text) == text


def _kpis_csv(db_path, by: str) -> list[dict[str, str]]:
    result = CliRunner().invoke(cli, ["--db", str(db_path), "kpis", "--period", "2024-01", "--by", by,
                                      "--format", "csv"])
    assert (result.exit_code, result.stderr) == (0, "")
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_kpis_csv_by_owner_defuses_hostile_owner_names(tmp_path):
    store = StoreBuilder(tmp_path / "store.db")
    for i, name in enumerate(HOSTILE.values(), start=1):
        store.owner(str(i), name, None)
        store.add("contacts", f"c{i}", hs_lifecyclestage_lead_date="2024-01-03", hubspot_owner_id=str(i))
    store.close()
    rows = _kpis_csv(tmp_path / "store.db", "owner")
    labels = {(row["group"], row["group_label"]) for row in rows if row["by"] == "owner" and row["group"]}
    # (an owner's label is the name trimmed, so the tab and CR cases reach the cell as "=1+1",
    # and, two owners then sharing one name, each label adds its id)
    expected = {(str(i), "'" + name.strip()) for i, name in enumerate(HOSTILE.values(), start=1)}
    expected -= {("5", "'=1+1"), ("6", "'=1+1")}
    assert labels == expected | {("5", "'=1+1 (id 5)"), ("6", "'=1+1 (id 6)")}


def test_kpis_csv_by_pipeline_defuses_hostile_pipeline_labels(tmp_path):
    store = StoreBuilder(tmp_path / "store.db")
    for i, label in enumerate(HOSTILE.values(), start=1):
        store.pipeline("deals", f"p{i}", {"closedwon": (True, 1.0)}, label=label)
        store.add("deals", f"d{i}", createdate="2024-01-02", closedate="2024-01-09", pipeline=f"p{i}",
                  dealstage="closedwon", hs_is_closed_won=True, amount=100)
    store.close()
    rows = _kpis_csv(tmp_path / "store.db", "pipeline")
    labels = {(row["group"], row["group_label"]) for row in rows if row["by"] == "pipeline"}
    assert labels == {(f"p{i}", "'" + label) for i, label in enumerate(HOSTILE.values(), start=1)}
