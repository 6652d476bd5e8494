"""explain benchmark: every key of the catalogue on the 1M-contact store, under 10 s each?

Uses the store bench_metrics.py builds and caches (/tmp/hubspot-metrics-bench/store-1000000.db;
built first when missing) and times `app.explain` per key, the whole use case the CLI runs:
open the store, compute the period's KPIs (for the key's value and n), list the rows. One
process, so the page cache is warm after the first key; the first key's time is shown too.

    python bench/bench_explain.py                         # 2025-Q3, every key
    python bench/bench_explain.py --period 2025-11 --all  # with the left-out records
    python bench/bench_explain.py --keys churn_rate,revenue
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench_metrics import CACHE, TIMEZONE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--period", default="2025-Q3")
    parser.add_argument("--keys", help="comma-separated keys (default: all)")
    parser.add_argument("--all", dest="include_all", action="store_true", help="time explain --all")
    parser.add_argument("--customer-object", default="contacts", choices=["contacts", "companies"])
    parser.add_argument("--churn", default="inactivity", choices=["inactivity", "property"])
    args = parser.parse_args()

    from hubspot_metrics import app
    from hubspot_metrics.config import ChurnSettings, Config, MetricsSettings
    from hubspot_metrics.metrics import KPI_KEYS

    path = CACHE / f"store-{args.contacts}.db"
    if not path.exists():
        subprocess.run([sys.executable, str(Path(__file__).with_name("bench_metrics.py")), "--contacts",
                        str(args.contacts), "--repeat", "0"], check=True)
    config = Config(store_path=str(path), metrics=MetricsSettings(
        timezone=TIMEZONE, customer_object=args.customer_object, churn=ChurnSettings(mode=args.churn),
        spend={f"2025-{m:02d}": 50_000.0 for m in range(1, 13)}))
    keys = args.keys.split(",") if args.keys else list(KPI_KEYS)
    # CPU seconds (all threads) beside the wall time: on a shared machine the wall time says more
    # about the neighbours than about explain.
    print(f"{'key':<30}{'n':>9}{'rows':>9}{'wall s':>9}{'CPU s':>9}")
    slowest = 0.0
    for key in keys:
        started, cpu = time.perf_counter(), time.process_time()
        outcome = app.explain(config, key, period=args.period, include_all=args.include_all)
        seconds = time.perf_counter() - started
        slowest = max(slowest, seconds)
        print(f"{key:<30}{outcome.kpi['n']:>9,}{len(outcome.rows):>9,}{seconds:>9.2f}"
              f"{time.process_time() - cpu:>9.2f}", flush=True)
    load = os.getloadavg()
    print(f"slowest {slowest:.2f} s; {os.cpu_count()} CPUs visible, load average {load[0]:.2f} "
          f"(period {args.period}, {args.customer_object}, {args.churn} churn{', --all' if args.include_all else ''})")


if __name__ == "__main__":
    main()
