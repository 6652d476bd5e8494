"""Portal and demo benchmark: how fast the simulated portal is generated and serves list pages,
and how long `hubspot-metrics demo` takes from a fresh folder (target: under 5 s).

The sync benchmark needs a portal far faster than the connector, or it measures the portal.
Pages of 100 contacts with 30 properties are read over one keep-alive connection; a figure
near 25 pages/s would mean a Nagle/delayed-ACK stall (40 ms a page) is back.

    python bench/bench_portal.py [--records 10000] [--scale 20000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

from hubspot_metrics.portal import PortalServer, generate_portal

TOKEN = "pat-na1-bench-portal"
NOW = datetime(2026, 10, 1, tzinfo=timezone.utc)


def serving_rate(records_wanted: int, scale: int) -> float:
    portal = generate_portal(scale=scale, seed=1, now=NOW)
    props = ",".join(list(portal.tables["contacts"].cols)[:30])
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        records, after, started = 0, None, time.perf_counter()
        while records < records_wanted:
            conn.request("GET", f"/crm/v3/objects/contacts?limit=100&properties={props}"
                                + (f"&after={after}" if after else ""), headers={"Authorization": f"Bearer {TOKEN}"})
            page = json.loads(conn.getresponse().read())
            records += len(page["results"])
            after = page["paging"]["next"]["after"]
        elapsed = time.perf_counter() - started
        conn.close()
    return records / elapsed


def generation_seconds(scale: int) -> float:
    started = time.perf_counter()
    generate_portal(scale=scale, seed=1, now=NOW)
    return time.perf_counter() - started


def demo_seconds() -> float:
    """The demo as a new user runs it, in a fresh folder, with no settings of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HUBSPOT_METRICS_"))}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hubspot_metrics", "demo"], cwd=folder, env=env, check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=20_000)
    args = parser.parse_args()
    print(f"generation of 100,000 contacts: {generation_seconds(100_000):.1f} s (target < 10 s)")
    rate = serving_rate(args.records, args.scale)
    print(f"portal serving: {rate:,.0f} records/s (target > 5,000; a stall shows as ~2,500)")
    print(f"demo from a fresh folder: {demo_seconds():.1f} s (target < 5 s)")


if __name__ == "__main__":
    main()
