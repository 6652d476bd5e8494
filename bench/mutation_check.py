"""A small mutation check: plant one deliberate bug at a time in the incremental window, the
client's retry policy, the kpis snapshot and the CSV writer, run the tests that guard that code, and report the
bugs no test caught (survivors).

    python bench/mutation_check.py            # every mutation
    python bench/mutation_check.py -k retry   # those whose name contains "retry"

Each mutation runs in a copy of the working tree (the tree itself is never touched); a
mutation whose text is no longer in the source is reported as "gone", so the list can be kept
up to date as the code moves. Exit status: 0 when every present mutation was caught.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

INCREMENTAL_TESTS = ("tests/sync/test_sync.py", "tests/sync/test_guards.py", "tests/sync/test_hostile_answers.py")
RETRY_TESTS = ("tests/test_client_waits.py", "tests/sync/test_guards.py", "tests/sync/test_hostile_answers.py",
               "tests/sync/test_auth.py")
SNAPSHOT_TESTS = ("tests/sync/test_resilience.py::test_kpis_read_one_snapshot_while_a_sync_commits_between_their_queries",
                  "tests/sync/test_resilience.py::test_kpis_run_during_a_sync_and_read_one_snapshot")
CSV_TESTS = ("tests/results/test_export.py", "tests/outputs/test_results.py", "tests/metrics/test_cli.py",
             "tests/test_csv_cells.py")


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    original: str
    planted: str
    tests: tuple[str, ...]


MUTATIONS = (
    # --- the incremental window (sync/window.py, sync/records.py) ---
    Mutation("incremental: lookback ignored", "hubspot_metrics/sync/records.py",
             "lookback_ms=self.config.sync.lookback_seconds * 1000,", "lookback_ms=0,", INCREMENTAL_TESTS),
    Mutation("incremental: resume forgets its first window", "hubspot_metrics/sync/window.py",
             'if floor != "0" and state.pending_start_ms is not None:', "if False:", INCREMENTAL_TESTS),
    Mutation("incremental: resume forgets its first attempt's newest change", "hubspot_metrics/sync/window.py",
             'newest_ms=max(cursor, state.pending_cursor_ms or 0),', "newest_ms=cursor,", INCREMENTAL_TESTS),
    Mutation("incremental: window starts at the cursor, never before", "hubspot_metrics/sync/window.py",
             "start = min(cursor, previous_server_ms - lookback_ms)", "start = cursor", INCREMENTAL_TESTS),
    Mutation("incremental: cursor's millisecond always skipped", "hubspot_metrics/sync/window.py",
             "start = cursor - lookback_ms", "start = cursor + 1", INCREMENTAL_TESTS),
    Mutation("incremental: future-dated records move the cursor", "hubspot_metrics/sync/records.py",
             "newest = max([newest, *self.plausible(obj, stamps)])", "newest = max([newest, *stamps])",
             INCREMENTAL_TESTS),
    Mutation("incremental: the resume's id floor is not saved", "hubspot_metrics/sync/records.py",
             "if next_floor:  # (the last page", "if False:  # (the last page", INCREMENTAL_TESTS),
    # --- the retry policy (client.py) ---
    Mutation("retry: 5xx backoff uncapped", "hubspot_metrics/client.py",
             "return min(30.0, 0.5 * 2 ** (state.attempt_number - 1))",
             "return 0.5 * 2 ** (state.attempt_number - 1)", RETRY_TESTS),
    Mutation("retry: SECONDLY 429 waits like a full window", "hubspot_metrics/client.py",
             'if policy == "SECONDLY" or remaining:', "if remaining:", RETRY_TESTS),
    Mutation("retry: full-window waits not capped at 10 s", "hubspot_metrics/client.py",
             "return min(10.0, 2.0 * 2 ** (state.attempt_number - 1))",
             "return min(20.0, 2.0 * 2 ** (state.attempt_number - 1))", RETRY_TESTS),
    Mutation("retry: one attempt more than the budget", "hubspot_metrics/client.py",
             "stop=stop_after_attempt(self.settings.max_retries + 1)",
             "stop=stop_after_attempt(self.settings.max_retries + 2)", RETRY_TESTS),
    Mutation("retry: a hollow 200 is accepted", "hubspot_metrics/client.py",
             "if not expect(payload):", "if False:", RETRY_TESTS),
    Mutation("retry: HTTP 500 not retried", "hubspot_metrics/client.py",
             "if status >= 500 or status in (408, 423, 477):", "if status > 500 or status in (408, 423, 477):",
             RETRY_TESTS),
    Mutation("retry: any 403 read as a missing scope", "hubspot_metrics/client.py",
             "if scopes is None:  # not HubSpot's word", "if False:  # not HubSpot's word", RETRY_TESTS),
    Mutation("retry: a token endpoint's 400 retried", "hubspot_metrics/client.py",
             "if token_refresh and status in (400, 401):", "if token_refresh and status in (401,):", RETRY_TESTS),
    Mutation("retry: no request deadline", "hubspot_metrics/client.py",
             "deadline = Deadline(timeout)", "deadline = Deadline(3600)", RETRY_TESTS),
    Mutation("retry: a 429 with room left waits for the window", "hubspot_metrics/client.py",
             "raise _Retryable(reason, wait=1.0)", "raise _Retryable(reason, full_window=True)", RETRY_TESTS),
    # --- kpis while a sync writes (metrics/compute.py, store.py) ---
    Mutation("snapshot: kpis read without one transaction", "hubspot_metrics/metrics/compute.py",
             "if conn.in_transaction or not _sync_running(conn):", "if True:", SNAPSHOT_TESTS),
    Mutation("snapshot: WAL off", "hubspot_metrics/store.py",
             'conn.execute("PRAGMA journal_mode = WAL")', "pass", SNAPSHOT_TESTS),
    # --- the CSV writer (values.spreadsheet_safe, used by every CSV the tool writes) ---
    Mutation("csv: tab and carriage return not neutralized", "hubspot_metrics/values.py",
             'FORMULA_STARTS = ("=", "+", "-", "@", "\\t", "\\r")', 'FORMULA_STARTS = ("=", "+", "-", "@")',
             CSV_TESTS),
    Mutation("csv: '@' not neutralized", "hubspot_metrics/values.py",
             'FORMULA_STARTS = ("=", "+", "-", "@", "\\t", "\\r")', 'FORMULA_STARTS = ("=", "+", "-", "\\t", "\\r")',
             CSV_TESTS),
    Mutation("csv: neutralization off", "hubspot_metrics/values.py",
             "return \"'\" + text if text.startswith(FORMULA_STARTS) else text", "return text", CSV_TESTS),
)


def _copy_tree(target: Path) -> None:
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.db", "*.db-*",
                                                                    ".pytest_cache", "*.egg-info"))


def run(mutation: Mutation, tree: Path, timeout: float) -> tuple[str, float]:
    source = tree / mutation.path
    text = source.read_text(encoding="utf-8")
    if text.count(mutation.original) != 1:
        return "gone", 0.0
    source.write_text(text.replace(mutation.original, mutation.planted), encoding="utf-8")
    started = time.monotonic()
    try:
        # The copy comes first on sys.path (the working directory), ahead of the editable install.
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               *mutation.tests], cwd=tree, capture_output=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(tree)})
        verdict = "SURVIVED" if done.returncode == 0 else "caught"
    except subprocess.TimeoutExpired:
        verdict = "caught (timeout)"
    finally:
        source.write_text(text, encoding="utf-8")
    return verdict, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only the mutations whose name contains this text")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for one mutation's tests")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if args.k in m.name]
    survivors = []
    with tempfile.TemporaryDirectory(prefix="mutation-check-") as temp:
        tree = Path(temp) / "tree"
        _copy_tree(tree)
        for mutation in chosen:
            verdict, seconds = run(mutation, tree, args.timeout)
            print(f"{verdict:<17} {seconds:6.0f} s  {mutation.name}", flush=True)
            if verdict == "SURVIVED":
                survivors.append(mutation.name)
    print(f"{len(survivors)} of {len(chosen)} mutations survived" + (": " + "; ".join(survivors) if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
