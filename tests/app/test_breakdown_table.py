"""`kpis --by` on a synced portal: one table that fits a 160-column terminal, labels people
read (owner names, HubSpot's source labels as the sync stored them), largest segment first."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.portal.schema import ANALYTICS_SOURCE_LABELS


def kpis(store: str, *args: str):
    result = CliRunner().invoke(cli, ["--db", store, "kpis", "--period", "2026-Q3", *args])
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    return result.stdout


@pytest.mark.parametrize("by", ["owner", "pipeline", "source"])
def test_the_table_of_the_ten_kpis_fits_160_columns_with_a_row_per_segment_by_n(synced_store, by):
    groups = json.loads(kpis(synced_store, "--by", by, "--format", "json"))["breakdown"]["groups"]
    lines = kpis(synced_store, "--by", by).splitlines()
    header, rule = lines[2], lines[3]
    assert header.split()[:4] == [by.capitalize(), "n", "CAC", "EUR"]
    table = lines[2:lines.index("", 2)]
    assert len(table) == 1 + 1 + len(groups) + 1 + 1  # header, rule, segments, rule, totals
    assert max(len(line) for line in lines) <= 160  # the table, and the notes and warnings under it
    assert table[-2] == rule and table[-1].startswith("All ")
    sizes = [g["n"] for g in groups]
    assert sizes == sorted(sizes, reverse=True) and len(sizes) > 2
    assert [int(line[len(rule.split()[0]):].split()[0].replace(",", "")) for line in table[2:-2]] == sizes


def test_owner_labels_are_names_with_deactivated_owners_marked_and_namesakes_apart(synced_store):
    groups = json.loads(kpis(synced_store, "--by", "owner", "--format", "json"))["breakdown"]["groups"]
    conn = sqlite3.connect(synced_store)
    owners = {r[0]: r[1:] for r in conn.execute("SELECT id, firstName, lastName, archived FROM owners")}
    conn.close()
    names = [f"{first} {last}" for first, last, _ in owners.values()]
    assert any(names.count(n) > 1 for n in names)  # the portal has namesakes
    labels = {g["key"]: g["label"] for g in groups}
    assert len(set(labels.values())) == len(labels)
    for key, label in labels.items():
        if key is None:
            assert label == "(no owner)"
            continue
        first, last, archived = owners[key]
        notes = (["deactivated"] if archived else []) + ([f"id {key}"] if names.count(f"{first} {last}") > 1 else [])
        assert label == f"{first} {last}" + (f" ({', '.join(notes)})" if notes else "")
    assert any("(deactivated" in label for label in labels.values())


def test_sources_read_as_hubspot_labels_them(synced_store):
    conn = sqlite3.connect(synced_store)
    [(options,)] = conn.execute("SELECT options FROM properties WHERE object_type = 'contacts' "
                                "AND name = 'hs_analytics_source'").fetchall()
    conn.close()
    assert json.loads(options) == [{"value": v, "label": label} for v, label in ANALYTICS_SOURCE_LABELS.items()]
    groups = json.loads(kpis(synced_store, "--by", "source", "--format", "json"))["breakdown"]["groups"]
    assert {(g["key"], g["label"]) for g in groups} == {
        *((v, label) for v, label in ANALYTICS_SOURCE_LABELS.items()), (None, "(no source)")}
    table = kpis(synced_store, "--by", "source")
    assert "Direct traffic" in table and "DIRECT_TRAFFIC" not in table
