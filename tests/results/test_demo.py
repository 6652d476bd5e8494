"""`hubspot-metrics demo`, the README's first command: run as a user would, at the default size,
from an empty folder, with someone else's HubSpot settings in the environment."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from hubspot_metrics.periods import named_period

TEN_KPIS = ["Customer acquisition cost", "Customer retention rate", "Customer lifetime value",
            "Lead → customer conversion", "Churn rate", "Net Promoter Score", "Customer satisfaction (CSAT)",
            "Average first response", "Average sales cycle", "Pipeline velocity"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("fresh")
    # A user's real settings must neither be used nor get in the way.
    (cwd / "hubspot-metrics.toml").write_text("[hubspot]\nrequests_per_10s = 'not a number'\n")
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": "pat-na1-someone-elses-token", "HUBSPOT_API_BASE_URL": "http://127.0.0.1:9",
           "HUBSPOT_METRICS_DB": str(cwd / "users-own.db")}
    # (its speed is measured by bench/bench_demo.py, not asserted here)
    done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "demo"], cwd=cwd, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)
    return cwd, done


def test_demo_runs_offline_and_prints_last_months_kpis(demo):
    cwd, done = demo
    assert done.returncode == 0, done.stderr
    folder = cwd / "hubspot-metrics-demo"
    label = named_period("last_month", "Europe/Berlin", datetime.now(timezone.utc)).label  # the portal's zone
    lines = done.stdout.splitlines()
    assert lines[1].startswith(f"KPIs for {label}: ")
    headline = [next(line for line in lines if line.startswith(name)) for name in TEN_KPIS]
    assert not [row for row in headline if "n/a" in row], headline  # the demo portal gives every KPI a value
    assert lines[-4:-1] == [
        "CAC uses a demo spend of 25,000 a month ([spend] in the config).",
        f"Report: {folder / 'report.html'}",
        lines[-2]]
    assert re.fullmatch(r"Store: hubspot-metrics-demo/demo\.db \(query it with sqlite3\); took \d+\.\d s\.", lines[-2])
    assert lines[-1] == f"Next: hubspot-metrics --db hubspot-metrics-demo/demo.db kpis --period {label} --compare"
    assert re.search(r"^sync ok: owners \d+, contacts \d+/\d+ archived, ", done.stderr, re.M)

    conn = sqlite3.connect(folder / "demo.db")
    live = conn.execute("SELECT count(*) FROM contacts WHERE archived = 0").fetchone()[0]
    assert 4_500 <= live <= 5_500  # "about 5,000 contacts"
    assert not (cwd / "users-own.db").exists()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("demo.db")) == ["report.html"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_demo_report_renders_in_headless_chromium(demo, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        if os.environ.get("CI"):  # .ci/run installs it: a missing browser in CI is a failure, not a skip
            pytest.fail("Chromium is not installed; .ci/run installs it from Debian's packages.")
        pytest.skip("Chromium is not installed; the report is checked as text by test_report.py")
    cwd, done = demo
    page = (cwd / "hubspot-metrics-demo" / "report.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, "--window-size=1200,1800", f"--screenshot={shot}", page],
                   capture_output=True, timeout=120, check=True)
    assert _png_size(shot.read_bytes()) == (1200, 1800)
    assert shot.stat().st_size > 50_000  # a page of text and charts, not a blank or error page
    dom = subprocess.run([browser, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert "<h2>The ten KPIs</h2>" in dom
    assert len(re.findall(r'<svg class="chart"', dom)) == 11  # the demo configures spend: every card has a chart
