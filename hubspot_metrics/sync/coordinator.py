"""The sync: HubSpot → SQLite, full on the first run, incremental after, resumable anywhere.

For each object the first run (or `--full`) streams the list endpoint page by page; later
runs search on the modified-date property from the saved cursor (records.py, window.py).
Reference data comes first, associations last; every step writes its progress to the store
as it goes, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Iterable

from hubspot_metrics.bookkeeping import RunLog
from hubspot_metrics.client import HubSpotClient
from hubspot_metrics.errors import MissingScopeError, UserError
from hubspot_metrics.config import Config
from hubspot_metrics.indexes import ensure_indexes
from hubspot_metrics.objects import OBJECTS, PIPELINE_OBJECTS
from hubspot_metrics.sync.associations import AssociationSync
from hubspot_metrics.sync.columns import PropertySelection
from hubspot_metrics.sync.merges import MergeHandling
from hubspot_metrics.sync.outcome import ObjectResult, SyncResult
from hubspot_metrics.sync.progress import ProgressListener, SilentProgress
from hubspot_metrics.sync.records import RecordSync
from hubspot_metrics.sync.reference import ReferenceData

if TYPE_CHECKING:
    import sqlite_utils


class Sync(ReferenceData, PropertySelection, RecordSync, MergeHandling, AssociationSync):
    def __init__(self, config: Config, db: sqlite_utils.Database, client: HubSpotClient, *,
                 full: bool = False, only: Iterable[str] | None = None, progress: ProgressListener | None = None,
                 kpis_reading: Callable[[str], list[str]] | None = None):
        """`kpis_reading(object)`: the KPIs a skipped object leaves stale, from the metrics
        catalogue (which the sync may not import: the caller hands it over)."""
        self.config = config
        self.kpis_reading = kpis_reading
        self.db = db
        self.client = client
        self.full = full
        self.objects = [o for o in config.sync.objects if not only or o in set(only)]
        self.progress = progress or SilentProgress()
        self.warnings = []
        self.results = {}
        self.unavailable = set()
        self.run_server_ms = None
        self.unread_associations = set()
        self.future_dated = {}

    def run(self) -> SyncResult:
        # The account is read before anything is written: a store of another portal is refused
        # untouched. (A failure to read it is recorded with the run, as any other failure.)
        details, failure = None, None
        try:
            details = self.read_account()
        except BaseException as exc:
            failure = exc
        else:
            self.check_portal(details)
        runs = RunLog(self.db.conn)
        run_id = runs.start("full" if self.full else "auto", os.getpid())
        status, message = "ok", None
        try:
            if failure is not None:
                raise failure
            self._sync_all(details)
        except UserError as exc:
            status, message = ("quota" if exc.exit_code == 5 else "failed"), str(exc)
            raise
        except BaseException as exc:
            status, message = "failed", f"{type(exc).__name__}"
            self.client.cancel()  # (Ctrl-C, SIGTERM: a page fetcher thread stops waiting too)
            raise
        finally:
            counts = {name: {"written": r.written, "archived": r.archived, "mode": r.mode,
                             **({"skipped": r.skipped} if r.skipped else {})}
                      for name, r in self.results.items()}
            runs.finish(run_id, status, counts, self.client.stats, message, self.warnings)
        return SyncResult(run_id, status, self.results, self.warnings, message)

    def _sync_all(self, details: dict | None) -> None:
        if details is not None:
            self.save_account(details)
        self.run_server_ms = self.client.server_time_ms
        self.sync_owners()
        for object_type in PIPELINE_OBJECTS:
            if object_type in self.objects:
                self.sync_pipelines(object_type)
        for name in self.objects:
            try:
                self.sync_object(OBJECTS[name])
            except MissingScopeError as exc:
                self.unavailable.add(name)
                self.results[name] = ObjectResult(skipped="missing scope")
                what = ("the portal has no feedback submissions (Service Hub Professional) or the token lacks "
                        "crm.objects.feedback_submissions.read" if name == "feedback_submissions"
                        else f"the token lacks {', '.join(exc.scopes) or 'a scope'}")
                if self.kpis_reading is None:
                    self.warn(f"Skipped {name}: {what}.")
                    continue
                kpis = self.kpis_reading(name)
                self.warn(f"Skipped {name}: {what}; " + (f"KPIs not updated: {', '.join(kpis)}." if kpis
                                                          else "no KPI reads them with this configuration."))
        self.sync_associations()
        metrics = self.config.metrics
        ensure_indexes(self.db, (metrics.customer_object, metrics.churn.property) if metrics.churn.mode == "property" else None)
