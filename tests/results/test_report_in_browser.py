"""The report in a real browser (headless Chromium): no sideways scroll on a 420 px phone,
every chart with axis labels and hover values, screenshots at 1280 and 420 px, A4 printing.

Run for the demo's report and for a portal without spend and without the feedback tier.
Set REPORT_SCREENSHOTS=/some/folder to keep the screenshots and the PDF for a look.
In CI (CI set) a missing Chromium fails the test instead of skipping it: .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.results.report import build_report
from hubspot_metrics.store import open_store
from tests.sync.conftest import TOKEN, make_config, run_sync

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
PHONE = 420
# The report is laid out in a 420 px wide frame (headless Chromium will not make a window
# that narrow) and measured from the page around it; the report itself carries no script.
# The results go into the DOM, which --dump-dom prints.
PROBE_PAGE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="report" style="width:%(width)dpx;height:900px;border:0" srcdoc="%(report)s"></iframe>
<script>
document.getElementById("report").addEventListener("load", event => {
  const doc = event.target.contentDocument, root = doc.documentElement;
  const charts = [...doc.querySelectorAll("svg.chart")].map(svg => ({
    y_labels: [...svg.querySelectorAll("text.y-label")].map(t => t.textContent),
    x_labels: [...svg.querySelectorAll("text.x-label")].map(t => t.textContent),
    unit: (svg.querySelector("text.unit") || {}).textContent || "",
    last: [...svg.querySelectorAll("text.last")].map(t => t.textContent),
    points: svg.querySelectorAll(".point").length,
    titled_points: [...svg.querySelectorAll(".point")].filter(p => (p.querySelector("title") || {}).textContent).length,
    width: svg.getBoundingClientRect().width}));
  const wide = [...doc.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > root.clientWidth + 0.5)
    .map(e => e.tagName + "." + e.getAttribute("class"));
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({scroll_width: root.scrollWidth, client_width: root.clientWidth,
                                      inner_width: event.target.contentWindow.innerWidth, charts, wide});
  document.body.appendChild(probe);
});
</script></body></html>"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check"]


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed; .ci/run installs it from Debian's packages (apt-get install chromium).")
        pytest.skip("Chromium is not installed (apt-get install chromium); CI runs this test")
    return path


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, timeout=180)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("browser")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(folder / "demo"), "--scale", "400"])
    assert result.exit_code == 0, result.output
    # A portal on a plan without feedback surveys, and no [spend]: CAC, LTV : CAC, NPS and
    # CSAT have no value in any month.
    portal = generate_portal(scale=400, seed=7, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      feedback_enabled=False) as server:
        run_sync(make_config(server, folder / "bare.db"))
    db = open_store(folder / "bare.db", create=False, readonly=True)
    bare = folder / "bare.html"
    bare.write_text(build_report(db, MetricsSettings(), NOW), encoding="utf-8")
    db.conn.close()
    return {"demo": folder / "demo" / "report.html", "bare": bare}


@pytest.mark.parametrize("which", ["demo", "bare"])
def test_the_report_fits_a_phone_and_every_chart_is_readable(chromium, reports, which, tmp_path):
    html = reports[which].read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(PROBE_PAGE % {"width": PHONE, "report": escape(html, quote=True)}, encoding="utf-8")
    done = _run(chromium, tmp_path / "profile", "--window-size=800,900", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout.decode())
    assert found, done.stderr.decode()[-2000:]
    probe = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert probe["inner_width"] == PHONE
    assert (probe["scroll_width"], probe["wide"]) == (probe["client_width"], [])

    charts = probe["charts"]
    expected = 11 if which == "demo" else 7  # bare: no CAC, LTV : CAC, NPS or CSAT in any month
    assert len(charts) == expected
    assert html.count('class="empty"') == 11 - expected
    for chart in charts:
        assert len(chart["y_labels"]) == 3 and all(chart["y_labels"]), chart
        assert chart["unit"] and chart["last"], chart
        # Thirteen months (12 closed and the open one), every third labelled, the first with its year.
        if which == "bare":  # the demo's portal lives at today's date
            assert chart["x_labels"] == ["Nov 25", "Feb", "May", "Aug", "Nov"], chart
        assert len(chart["x_labels"]) == 5 and re.fullmatch(r"[A-Z][a-z]{2} \d\d", chart["x_labels"][0]), chart
        assert chart["points"] >= 1 and chart["titled_points"] == chart["points"], chart
        assert 300 <= chart["width"] <= 400, chart  # one column: the chart takes the phone's width


@pytest.mark.parametrize("which", ["demo", "bare"])
def test_screenshots_at_desktop_and_phone_width_and_an_a4_print(chromium, reports, which, tmp_path):
    keep = os.environ.get("REPORT_SCREENSHOTS")
    out = Path(keep) if keep else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    page = reports[which].as_uri()
    for width, height in ((1280, 2400), (420, 2400)):
        shot = out / f"{which}-{width}.png"
        _run(chromium, tmp_path / "profile", f"--window-size={width},{height}", f"--screenshot={shot}", page)
        assert _png_size(shot) == (width, height)
    pdf = out / f"{which}.pdf"
    _run(chromium, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    # @page asks for A4 portrait: 210 x 297 mm is 595.3 x 841.9 points.
    boxes = {tuple(round(float(v)) for v in m.groups())
             for m in re.finditer(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)}
    assert boxes == {(595, 842)}
