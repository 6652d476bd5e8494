"""docs/metrics.md and the metrics catalogue say the same thing: every key has its section,
quoting the catalogue's one-line definition word for word (the report prints those lines)."""

from __future__ import annotations

import re
from pathlib import Path

from hubspot_metrics.metrics import KPI_KEYS, definitions

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_key_has_a_section_quoting_its_catalogue_definition():
    text = DOC.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (\w+)\nDefinition: (.+)$", text, flags=re.MULTILINE))
    assert sections == {key: definitions[key] for key in KPI_KEYS}


def test_code_comments_cite_sections_that_exist():
    headings = set(re.findall(r"^#{2,3} (.+)$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE))
    package = Path(__file__).resolve().parents[2] / "hubspot_metrics"
    cited = set()
    for path in package.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "kpi-spec.md" not in source, path
        cited |= set(re.findall(r'docs/metrics\.md, "([^"]+)"', source))
    assert cited and cited <= headings, cited - headings
