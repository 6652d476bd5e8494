"""hubspot-metrics: HubSpot CRM → SQLite, and the ten CRM KPIs computed from it.

`hubspot_metrics.open()` gives the Python API (api.py). It is imported on first call, so
`import hubspot_metrics` (and cron's `sync`) loads neither the API nor pandas.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubspot_metrics.api import Metrics

__version__ = "0.1.0"
__all__ = ["open"]


def open(db: str | os.PathLike | None = None, *, config: str | os.PathLike | None = None) -> "Metrics":
    """The store and config the CLI would use (--db / HUBSPOT_METRICS_DB / [store] path; --config /
    HUBSPOT_METRICS_CONFIG / ./hubspot-metrics.toml), as a `Metrics` whose methods return DataFrames."""
    from hubspot_metrics.api import open as open_metrics

    return open_metrics(db, config=config)
