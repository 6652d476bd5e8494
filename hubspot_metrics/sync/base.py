"""What every step of a sync run shares: its settings, connections, listener and findings.

The steps (reference data, property columns, records, merges, associations) are classes
that `Sync` combines; each declares here what it may read and write of the run, so a step
never reaches for state another step does not publish.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hubspot_metrics.client import HubSpotClient
from hubspot_metrics.config import Config
from hubspot_metrics.sync.outcome import ObjectResult
from hubspot_metrics.sync.progress import ProgressListener

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger("hubspot_metrics.sync")


class SyncRun:
    config: Config
    db: sqlite_utils.Database
    client: HubSpotClient
    full: bool                            # --full: read every object whole
    objects: list[str]                    # the objects this run syncs (config, narrowed by --only)
    progress: ProgressListener
    warnings: list[str]                   # printed once when the run ends, and kept with the run
    results: dict[str, ObjectResult]
    unavailable: set[str]                 # objects the token may not read
    run_server_ms: int | None             # HubSpot's clock (Date header) as the run began
    unread_associations: set[tuple[str, str]]  # (object, id) whose associations to read again next run
    future_dated: dict[str, int]          # object -> records modified after HubSpot's clock

    def warn(self, message: str) -> None:
        # The command prints each warning once when the run ends (and the run record keeps
        # them); the log line is for -v.
        log.info("warning: %s", message)
        self.warnings.append(message)
