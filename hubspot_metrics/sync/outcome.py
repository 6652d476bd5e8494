"""What a sync run returns, and its one-line summary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ObjectResult:
    written: int = 0
    archived: int = 0
    mode: str = ""
    skipped: str | None = None


@dataclass
class SyncResult:
    run_id: int
    status: str
    objects: dict[str, ObjectResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    message: str | None = None


def summarize(result: SyncResult, stats) -> str:
    parts = []
    for name, r in result.objects.items():
        parts.append(f"{name} {r.skipped}" if r.skipped else f"{name} {r.written}" + (f"/{r.archived} archived" if r.archived else ""))
    return (f"sync {result.status}: " + ", ".join(parts)
            + f"; {stats.requests} requests, {stats.rate_limited} rate-limited, {stats.retries} retries")
