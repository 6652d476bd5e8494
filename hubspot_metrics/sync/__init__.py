"""The sync package: HubSpot → SQLite (coordinator.py tells the story; each step has a module).

Callers import from here: `Sync`, `SyncLock`, `SyncResult`, `ObjectResult`, `summarize`,
and the `ProgressListener` protocol a display implements.
"""

from hubspot_metrics.sync.coordinator import Sync
from hubspot_metrics.sync.lock import SyncLock
from hubspot_metrics.sync.outcome import ObjectResult, SyncResult, summarize
from hubspot_metrics.sync.progress import ProgressListener, SilentProgress

__all__ = ["ObjectResult", "ProgressListener", "SilentProgress", "Sync", "SyncLock", "SyncResult",
           "summarize"]
