"""KPI benchmark: all KPIs for one period on a store of the issue's size, under 5 s and 2 GiB?

Builds (once, cached under /tmp) a store the way the sync leaves it: 1,000,000 contacts,
200,000 companies, 500,000 deals, 500,000 tickets, 300,000 feedback submissions, their
associations, pipelines, owners and the account row, with realistic shapes (growth over three
years, legacy-only and v2-only lifecycle dates, two currencies, won deals without an amount,
tickets without a reply or replied "before" creation, surveys on three scales, archived and
merged records) and a few unparsable values kept raw and listed in `value_issues`, as the
store contract says. The metrics' indexes are created the way the sync does after each run
(`ensure_indexes`).

Then, for each period grain, a fresh child process opens the store read-only and times
`compute_kpis` (first call in the process, then the best of two more) and reports its peak
resident set size from `resource.getrusage(RUSAGE_SELF).ru_maxrss` (the whole process:
interpreter, imports and SQLite's page cache included).

With --cold, the OS page cache is dropped before each child (root only), so the first call
reads the store from disk, as a nightly run after a quiet day would.

With --postgres, the same store is then copied into a PostgreSQL schema (postgres_copy.py:
the store layer's migrations and column types, rows by COPY) and the same variants are
measured there, in the same run: on the server given as URL, else on an embedded server from
the test extra. The peak RSS there is the client's; the server's memory is not in it.

    python bench/bench_metrics.py                    # the issue's sizes
    python bench/bench_metrics.py --cold             # ... with a cold page cache
    python bench/bench_metrics.py --contacts 100000  # everything scaled down
    python bench/bench_metrics.py --rebuild          # ignore the cached store
    python bench/bench_metrics.py --store copy.db    # measure another store (e.g. a copy)
    python bench/bench_metrics.py --postgres         # ... and on PostgreSQL (embedded server)
    python bench/bench_metrics.py --postgres postgresql://me@dbhost/crm

Before measuring, the store's indexes are brought up to date as a sync would (`ensure_indexes`
after each run), so a store cached by older code gains the indexes today's sync makes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CACHE = Path("/tmp/hubspot-metrics-bench")
TIMEZONE = "Europe/Berlin"
PERIODS = ("2025-10", "2025-Q3", "2025")
SPAN_START = np.datetime64("2023-01-01T00:00:00.000")
SPAN_END = np.datetime64("2026-01-01T00:00:00.000")
DAY_MS = 86_400_000
SOURCES = ("ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS", "OTHER_CAMPAIGNS",
           "DIRECT_TRAFFIC", "OFFLINE", "PAID_SOCIAL")
DEAL_STAGES = {  # stage id -> (pipeline, isClosed, probability)
    "appointmentscheduled": ("default", 0, 0.2), "qualifiedtobuy": ("default", 0, 0.4),
    "contractsent": ("default", 0, 0.9), "closedwon": ("default", 1, 1.0), "closedlost": ("default", 1, 0.0),
    "11348548": ("11348547", 0, 0.5), "11348551": ("11348547", 1, 1.0), "11348552": ("11348547", 1, 0.0),
}
# The properties the sync would create, by object (name -> SQL type).
COLUMNS = {
    "contacts": {"createdate": "TEXT", "lastmodifieddate": "TEXT", "email": "TEXT", "firstname": "TEXT",
                 "lastname": "TEXT", "lifecyclestage": "TEXT", "hubspot_owner_id": "TEXT",
                 "hs_analytics_source": "TEXT", "hs_merged_object_ids": "TEXT",
                 "hs_lifecyclestage_lead_date": "TEXT", "hs_v2_date_entered_lead": "TEXT",
                 "hs_lifecyclestage_customer_date": "TEXT", "hs_v2_date_entered_customer": "TEXT",
                 "churn_date": "TEXT"},
    "companies": {"createdate": "TEXT", "name": "TEXT", "domain": "TEXT", "hubspot_owner_id": "TEXT",
                  "hs_analytics_source": "TEXT", "hs_merged_object_ids": "TEXT",
                  "hs_lifecyclestage_lead_date": "TEXT", "hs_v2_date_entered_lead": "TEXT",
                  "hs_lifecyclestage_customer_date": "TEXT", "hs_v2_date_entered_customer": "TEXT"},
    "deals": {"createdate": "TEXT", "hs_lastmodifieddate": "TEXT", "dealname": "TEXT", "amount": "REAL",
              "amount_in_home_currency": "REAL", "deal_currency_code": "TEXT", "pipeline": "TEXT",
              "dealstage": "TEXT", "closedate": "TEXT", "hs_is_closed": "INTEGER", "hs_is_closed_won": "INTEGER",
              "hubspot_owner_id": "TEXT", "hs_analytics_source": "TEXT", "hs_merged_object_ids": "TEXT"},
    "tickets": {"createdate": "TEXT", "hs_lastmodifieddate": "TEXT", "subject": "TEXT", "hs_pipeline": "TEXT",
                "hs_pipeline_stage": "TEXT", "first_agent_reply_date": "TEXT",
                "hs_first_agent_message_sent_at": "TEXT", "hubspot_owner_id": "TEXT",
                "hs_ticket_priority": "TEXT", "hs_merged_object_ids": "TEXT"},
    "feedback_submissions": {"hs_createdate": "TEXT", "hs_submission_timestamp": "TEXT", "hs_survey_type": "TEXT",
                             "hs_survey_name": "TEXT", "hs_value": "TEXT", "hs_response_group": "TEXT"},
}


# --- building the store ----------------------------------------------------------------------

def _iso(ms: np.ndarray, missing: np.ndarray | None = None) -> list:
    """Epoch milliseconds -> the store's instants (`2024-01-17T19:55:04.281Z`), None where missing."""
    text = np.char.add(np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms"), "Z").astype(object)
    if missing is not None:
        text[missing] = None
    return text.tolist()


def _times(rng, n: int) -> np.ndarray:
    """Sorted instants over the span, denser recently (a growing business), in business hours."""
    start, end = SPAN_START.astype(np.int64), SPAN_END.astype(np.int64)
    t = start + (rng.random(n) ** (1 / 1.5) * (end - start)).astype(np.int64)
    day = t // DAY_MS * DAY_MS
    tod = (np.clip(rng.normal(10.5, 3.0, n), 0.3, 23.5) * 3_600_000).astype(np.int64)
    return np.sort(np.minimum(day + tod, end - 1))


def _pick(rng, n: int, values, weights=None):
    pool = np.empty(len(values), dtype=object)
    pool[:] = list(values)
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return pool[rng.choice(len(pool), n, p=p)]


def _raw(values: list, rng, share: float, junk: str, issues: list, table: str, prop: str, ids: list,
         where: np.ndarray | None = None) -> None:
    """Put an unparsable value into `share` of the rows (kept raw and listed, as the sync does)."""
    mask = rng.random(len(values)) < share
    if where is not None:
        mask &= where
    for i in np.nonzero(mask)[0].tolist():
        values[i] = junk
        issues.append((table, ids[i], prop, junk))


def _status(rng, ids: list, share_archived: float, share_merged: float):
    """archived, archived_at, merged_into, hs_merged_object_ids columns for one object."""
    n = len(ids)
    archived = (rng.random(n) < share_archived).astype(np.int64)
    archived_at = [("2025-12-01T10:00:00.000Z" if a else None) for a in archived.tolist()]
    merged_into: list = [None] * n
    merged_ids: list = [None] * n
    losers = np.nonzero((rng.random(n) < share_merged) & (archived == 0))[0]
    for loser in losers.tolist():
        winner = int(rng.integers(0, n))
        if winner == loser or merged_into[winner] is not None:
            continue
        merged_ids[winner] = f"{merged_ids[winner]};{ids[loser]}" if merged_ids[winner] else ids[loser]
        # A tenth of the merges are known only from the survivor's hs_merged_object_ids.
        if rng.random() >= 0.1:
            merged_into[loser] = ids[winner]
    return archived.tolist(), archived_at, merged_into, merged_ids


def _insert(conn: sqlite3.Connection, table: str, columns: dict[str, list]) -> None:
    names = list(columns)
    conn.executemany(f"INSERT INTO [{table}] ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     zip(*columns.values()))


def build_store(path: Path, n_contacts: int, seed: int = 7) -> None:
    from hubspot_metrics.metrics import ensure_indexes
    from hubspot_metrics.store import open_store

    sizes = {"contacts": n_contacts, "companies": n_contacts // 5, "deals": n_contacts // 2,
             "tickets": n_contacts // 2, "feedback_submissions": n_contacts * 3 // 10}
    tmp = path.with_suffix(".building")
    for leftover in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        leftover.unlink(missing_ok=True)
    db = open_store(tmp)
    conn = db.conn
    rng = np.random.default_rng(seed)
    issues: list[tuple] = []
    started = time.perf_counter()
    conn.execute("BEGIN")
    for table, cols in COLUMNS.items():
        for name, sql_type in cols.items():
            conn.execute(f"ALTER TABLE [{table}] ADD COLUMN [{name}] {sql_type}")
    owners = [str(41_629_779 + 1_000_003 * i) for i in range(30)]
    conn.executemany("INSERT INTO owners (id, email, firstName, lastName, type, archived) VALUES (?, ?, ?, ?, 'PERSON', ?)",
                     [(o, f"owner{i}@example.com", f"Owner{i}", "Test", int(i >= 26)) for i, o in enumerate(owners)])
    conn.execute("INSERT INTO account (portalId, accountType, timeZone, companyCurrency, additionalCurrencies) "
                 "VALUES (4242, 'STANDARD', 'Europe/Berlin', 'EUR', '[\"USD\"]')")
    conn.executemany("INSERT INTO pipelines (object_type, id, label, display_order) VALUES (?, ?, ?, ?)",
                     [("deals", "default", "Sales Pipeline", 0), ("deals", "11348547", "Renewals", 1),
                      ("tickets", "0", "Support Pipeline", 0)])
    conn.executemany(
        "INSERT INTO pipeline_stages (object_type, pipeline_id, id, label, display_order, is_closed, probability, metadata)"
        " VALUES ('deals', ?, ?, ?, 0, ?, ?, ?)",
        [(p, s, s, c, pr, json.dumps({"isClosed": "true" if c else "false", "probability": str(pr)}))
         for s, (p, c, pr) in DEAL_STAGES.items()])
    conn.executemany(
        "INSERT INTO pipeline_stages (object_type, pipeline_id, id, label, display_order, ticket_state, metadata)"
        " VALUES ('tickets', '0', ?, ?, ?, ?, ?)",
        [(s, s, i, st, json.dumps({"ticketState": st})) for i, (s, st) in
         enumerate((("1", "OPEN"), ("2", "OPEN"), ("3", "OPEN"), ("4", "CLOSED")))])

    # Contacts and companies: lead then maybe customer; the generations of lifecycle dates vary.
    customers_by_table = {}
    for table, n in (("contacts", sizes["contacts"]), ("companies", sizes["companies"])):
        base = 1_000 if table == "contacts" else 5_000_000_000
        ids = [str(base + i) for i in range(n)]
        created = _times(rng, n)
        has_lead = rng.random(n) < 0.75
        lead = created + (rng.exponential(2 * DAY_MS, n) * (rng.random(n) < 0.3)).astype(np.int64)
        is_cust = has_lead & (rng.random(n) < 0.2)
        cust = lead + rng.exponential(40 * DAY_MS, n).astype(np.int64)
        is_cust &= cust < SPAN_END.astype(np.int64)
        mode = rng.choice(3, n, p=(0.7, 0.15, 0.15))  # both generations, legacy only, v2 only
        archived, archived_at, merged_into, merged_ids = _status(rng, ids, 0.02, 0.01)
        cols = {"id": ids, "archived": archived, "archived_at": archived_at, "merged_into": merged_into,
                "createdate": _iso(created), "hubspot_owner_id": _pick(rng, n, owners + [None]).tolist(),
                "hs_analytics_source": _pick(rng, n, SOURCES + (None,)).tolist(), "hs_merged_object_ids": merged_ids,
                "hs_lifecyclestage_lead_date": _iso(lead, ~has_lead | (mode == 2)),
                "hs_v2_date_entered_lead": _iso(lead, ~has_lead | (mode == 1)),
                "hs_lifecyclestage_customer_date": _iso(cust, ~is_cust | (mode == 2)),
                "hs_v2_date_entered_customer": _iso(cust, ~is_cust | (mode == 1))}
        _raw(cols["hs_lifecyclestage_customer_date"], rng, 0.0005, "not a date", issues, table,
             "hs_lifecyclestage_customer_date", ids)
        if table == "contacts":
            churned = is_cust & (rng.random(n) < 0.25)
            churn = cust + rng.exponential(300 * DAY_MS, n).astype(np.int64)
            cols["churn_date"] = _iso(churn, ~churned)
            cols["lastmodifieddate"] = cols["createdate"]
            cols["email"] = [f"person{i}@example{i % 97}.com" for i in range(n)]
            cols["firstname"] = _pick(rng, n, ("Anna", "Ben", "Clara", "David", "Elif", "Jürgen", "Zoë")).tolist()
            cols["lastname"] = _pick(rng, n, ("Müller", "Schmidt", "O'Brien", "García", "Nguyễn")).tolist()
            cols["lifecyclestage"] = np.where(is_cust, "customer", np.where(has_lead, "lead", "subscriber")).tolist()
        else:
            cols["name"] = [f"Company {i} GmbH" for i in range(n)]
            cols["domain"] = [f"company{i}.de" for i in range(n)]
        _insert(conn, table, cols)
        customers_by_table[table] = np.nonzero(is_cust)[0]

    # Deals: most older deals closed; won ones belong to customers.
    n = sizes["deals"]
    ids = [str(9_000_000 + i) for i in range(n)]
    created = _times(rng, n)
    end_ms = SPAN_END.astype(np.int64)
    age_days = (end_ms - created) / DAY_MS
    closed = rng.random(n) < np.clip(age_days / 75, 0, 0.92)
    custom = rng.random(n) < 0.2
    won = closed & (rng.random(n) < np.where(custom, 0.7, 0.42))
    cycle = np.clip(rng.lognormal(np.log(30), 0.8, n), 0.02, np.maximum(age_days, 0.02))
    close = np.where(closed, created + (cycle * DAY_MS).astype(np.int64),
                     created + (rng.lognormal(np.log(45), 0.6, n) * DAY_MS).astype(np.int64))
    stage = np.where(custom, "11348548", _pick(rng, n, ("appointmentscheduled", "qualifiedtobuy", "contractsent")))
    stage = np.where(won, np.where(custom, "11348551", "closedwon"),
                     np.where(closed, np.where(custom, "11348552", "closedlost"), stage)).astype(object)
    amount = np.maximum(50, np.round(rng.lognormal(np.log(9000), 1.0, n) / 50) * 50)
    currency = _pick(rng, n, ("EUR", "USD", None), (70, 27, 3))
    home = np.where(currency == "USD", np.round(amount * 0.92, 2), amount).astype(object)
    amount = amount.astype(object)
    unpriced = won & (rng.random(n) < 0.03)
    amount[unpriced] = None
    home[unpriced] = None
    home[(currency == "USD") & (rng.random(n) < 0.01)] = None  # no exchange rate: no home amount
    no_won_flag = rng.random(n) < 0.02  # a few records without hs_is_closed_won: stage metadata decides
    archived, archived_at, merged_into, merged_ids = _status(rng, ids, 0.02, 0.003)
    cols = {"id": ids, "archived": archived, "archived_at": archived_at, "merged_into": merged_into,
            "hs_merged_object_ids": merged_ids, "createdate": _iso(created), "hs_lastmodifieddate": _iso(created),
            "dealname": [f"Deal {i}" for i in range(n)], "amount": amount.tolist(),
            "amount_in_home_currency": home.tolist(), "deal_currency_code": currency.tolist(),
            "pipeline": np.where(custom, "11348547", "default").tolist(), "dealstage": stage.tolist(),
            "closedate": _iso(close, ~closed & (rng.random(n) < 0.1)),
            "hs_is_closed": closed.astype(np.int64).tolist(),
            "hs_is_closed_won": np.where(no_won_flag, None, won.astype(np.int64)).tolist(),
            "hubspot_owner_id": _pick(rng, n, owners + [None]).tolist(),
            "hs_analytics_source": _pick(rng, n, SOURCES).tolist()}
    _raw(cols["amount"], rng, 0.003, "12,5k", issues, "deals", "amount", ids)
    _raw(cols["closedate"], rng, 0.002, "not a date", issues, "deals", "closedate", ids, where=~closed)
    _insert(conn, "deals", cols)
    contact_customers = customers_by_table["contacts"]
    pairs = set()
    k_contacts = np.where(rng.random(n) < 0.85, rng.choice((1, 1, 1, 2, 2, 3), n), 0)
    for d, k in enumerate(k_contacts.tolist()):
        for _ in range(k):
            pool_pick = (contact_customers[int(rng.integers(0, len(contact_customers)))]
                         if won[d] and rng.random() < 0.9 else int(rng.integers(0, sizes["contacts"])))
            pairs.add((ids[d], str(1_000 + int(pool_pick))))
    conn.executemany("INSERT INTO associations_deals_contacts VALUES (?, ?, '[3]')", sorted(pairs))
    company_customers = customers_by_table["companies"]
    with_company = np.nonzero(rng.random(n) < 0.9)[0]
    picks = np.where(won[with_company] & (rng.random(len(with_company)) < 0.9),
                     company_customers[rng.integers(0, len(company_customers), len(with_company))],
                     rng.integers(0, sizes["companies"], len(with_company)))
    conn.executemany("INSERT INTO associations_deals_companies VALUES (?, ?, '[5]')",
                     [(ids[d], str(5_000_000_000 + int(c))) for d, c in zip(with_company.tolist(), picks.tolist())])

    # Tickets: most replied within hours; some never; a few replied "before" they were created.
    n = sizes["tickets"]
    ids = [str(70_000_000 + i) for i in range(n)]
    created = _times(rng, n)
    reply_in = (rng.lognormal(np.log(3), 1.1, n) * 3_600_000).astype(np.int64)
    early = rng.random(n) < 0.005
    reply_in[early] = -rng.integers(60_000, 36_000_000, int(early.sum()))
    replied = rng.random(n) < 0.88
    mode = rng.choice(3, n, p=(0.6, 0.25, 0.15))
    archived, archived_at, merged_into, merged_ids = _status(rng, ids, 0.02, 0.002)
    cols = {"id": ids, "archived": archived, "archived_at": archived_at, "merged_into": merged_into,
            "hs_merged_object_ids": merged_ids, "createdate": _iso(created), "hs_lastmodifieddate": _iso(created),
            "subject": _pick(rng, n, ("Cannot log in", "Invoice question", "Export fails")).tolist(),
            "hs_pipeline": ["0"] * n, "hs_pipeline_stage": _pick(rng, n, ("1", "2", "3", "4")).tolist(),
            "first_agent_reply_date": _iso(created + reply_in, ~replied | (mode == 2)),
            "hs_first_agent_message_sent_at": _iso(created + reply_in + rng.integers(0, 60_000, n),
                                                   ~replied | (mode == 1)),
            "hubspot_owner_id": _pick(rng, n, owners[20:] + [None]).tolist(),
            "hs_ticket_priority": _pick(rng, n, ("LOW", "MEDIUM", "HIGH", None)).tolist()}
    _raw(cols["first_agent_reply_date"], rng, 0.0005, "soon", issues, "tickets", "first_agent_reply_date", ids)
    _insert(conn, "tickets", cols)
    conn.executemany("INSERT INTO associations_tickets_contacts VALUES (?, ?, '[16]')",
                     [(t, str(1_000 + int(c))) for t, c in zip(ids, rng.integers(0, sizes["contacts"], n).tolist())])

    # Feedback: NPS 0-10, CSAT 1-5, CES 1-7; a few "N/A" and out-of-scale answers.
    n = sizes["feedback_submissions"]
    ids = [str(400_000_000 + i) for i in range(n)]
    submitted = _times(rng, n)
    kind = _pick(rng, n, ("NPS", "CSAT", "CES"), (50, 35, 15))
    value = np.where(kind == "NPS", rng.choice(11, n, p=np.array((2, 1, 1, 2, 2, 4, 6, 12, 16, 22, 18)) / 86),
                     np.where(kind == "CSAT", 1 + rng.choice(5, n, p=(.05, .07, .15, .35, .38)),
                              1 + rng.integers(0, 7, n))).astype(str).astype(object)
    value[rng.random(n) < 0.003] = "N/A"
    value[(kind == "NPS") & (rng.random(n) < 0.002)] = "11"
    value[rng.random(n) < 0.01] = " 9.0"
    archived, archived_at, _, _ = _status(rng, ids, 0.005, 0.0)
    cols = {"id": ids, "archived": archived, "archived_at": archived_at,
            "hs_createdate": _iso(submitted + 5_000), "hs_submission_timestamp": _iso(submitted),
            "hs_survey_type": kind.tolist(), "hs_survey_name": [f"{k} survey" for k in kind.tolist()],
            "hs_value": value.tolist(), "hs_response_group": [None] * n}
    _insert(conn, "feedback_submissions", cols)
    conn.executemany("INSERT INTO associations_feedback_submissions_contacts VALUES (?, ?, '[]')",
                     [(f, str(1_000 + int(c))) for f, c in zip(ids, rng.integers(0, sizes["contacts"], n).tolist())])

    conn.executemany("INSERT OR REPLACE INTO value_issues VALUES (?, ?, ?, ?)", issues)
    conn.execute("INSERT INTO sync_runs (started_at, ended_at, status, mode) VALUES "
                 "('2026-01-01T02:00:00.000Z', '2026-01-01T02:40:00.000Z', 'ok', 'full')")
    conn.execute("COMMIT")
    loaded = time.perf_counter() - started
    ensure_indexes(db, ("contacts", "churn_date"))  # what the sync does after every run
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)
    print(f"built {path} in {loaded:.0f} s + {time.perf_counter() - started - loaded:.0f} s of indexes "
          f"({path.stat().st_size / 2**20:.0f} MiB)", file=sys.stderr)


# --- measuring -----------------------------------------------------------------------------

def measure(db_path: str, period_text: str, customer_object: str, churn_mode: str, repeat: int,
            schema: str | None = None) -> dict:
    """In a fresh process: time compute_kpis for one period; peak RSS of this process.
    `db_path` may be a postgresql:// URL, with the store in `schema`."""
    from hubspot_metrics.config import ChurnSettings, MetricsSettings
    from hubspot_metrics.metrics import compute_kpis
    from hubspot_metrics.periods import parse_period
    from hubspot_metrics.store import open_store

    settings = MetricsSettings(timezone=TIMEZONE, customer_object=customer_object,
                               churn=ChurnSettings(mode=churn_mode),
                               spend={f"2025-{m:02d}": 50_000.0 for m in range(1, 13)})
    period = parse_period(period_text, TIMEZONE)
    db = open_store(db_path, create=False, readonly=True, **({"schema": schema} if schema else {}))
    times = []
    result = None
    for _ in range(1 + repeat):
        started = time.perf_counter()
        result = compute_kpis(db, period, settings)
        times.append(time.perf_counter() - started)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"period": period_text, "customer_object": customer_object, "churn": churn_mode,
            "first_s": round(times[0], 3), "best_s": round(min(times[1:] or times), 3),
            "peak_rss_mib": round(peak_kib / 1024, 1),
            "sample": {k: result["kpis"][k]["value"] for k in ("cac", "customer_retention_rate", "nps",
                                                               "avg_first_response_hours", "pipeline_velocity",
                                                               "customer_lifetime_value", "arpa",
                                                               "deal_throughput")}}


def bring_indexes_up_to_date(path: Path) -> None:
    from hubspot_metrics.metrics import ensure_indexes

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        started = time.perf_counter()
        created = ensure_indexes(conn, ("contacts", "churn_date"))
        if created:
            print(f"added {len(created)} indexes the sync makes ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    finally:
        conn.close()


def drop_page_cache() -> None:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        sys.exit(f"--cold needs root to drop the page cache ({exc.strerror}).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cold", action="store_true", help="drop the OS page cache before each measurement")
    parser.add_argument("--store", type=Path, help="measure this store instead of the cached one")
    parser.add_argument("--measure", nargs=4, metavar=("DB", "PERIOD", "CUSTOMER_OBJECT", "CHURN"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, metavar=("DB", "CONTACTS"), help=argparse.SUPPRESS)
    parser.add_argument("--postgres", nargs="?", const="", metavar="URL",
                        help="measure on PostgreSQL too: the server at URL, else an embedded one (test extra)")
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build_store(Path(args.build[0]), int(args.build[1]))
        return
    if args.measure:
        print(json.dumps(measure(*args.measure, repeat=args.repeat, schema=args.schema)))
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"store-{args.contacts}.db"
    if args.store:
        path = args.store
    elif args.rebuild or not path.exists():
        # In a child of its own: building takes about 1 GiB, and on Linux a forked child starts
        # with its parent's ru_maxrss, which would then show up in every measurement below.
        subprocess.run([sys.executable, __file__, "--build", str(path), str(args.contacts)], check=True)
    bring_indexes_up_to_date(path)
    print(f"SQLite, {path}")
    on_sqlite = measure_variants(args, str(path))
    if args.postgres is not None:
        on_postgres = measure_on_postgres(args, path)
        same = all(a["sample"] == b["sample"] for a, b in zip(on_sqlite, on_postgres))
        print(f"sample KPI values equal on both stores: {'yes' if same else 'NO'}")


def measure_variants(args, store: str, schema: str | None = None) -> list[dict]:
    variants = [(p, "contacts", "inactivity") for p in PERIODS]
    variants += [("2025-Q3", "contacts", "property"), ("2025-Q3", "companies", "inactivity")]
    print(f"{'period':<9}{'unit':<11}{'churn':<12}{'first call':>11}{'best':>8}{'peak RSS':>11}")
    results = []
    for period, unit, churn in variants:
        if args.cold:
            drop_page_cache()
        out = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat), "--measure", store,
                              period, unit, churn, *(["--schema", schema] if schema else [])],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        results.append(r)
        print(f"{period:<9}{unit:<11}{churn:<12}{r['first_s']:>9.2f} s{r['best_s']:>6.2f} s"
              f"{r['peak_rss_mib']:>7.0f} MiB")
    print(f"({os.cpu_count()} CPUs visible; page cache {'dropped before each run' if args.cold else 'warm'}; "
          f"load average {os.getloadavg()[0]:.1f}; peak RSS = ru_maxrss of the measuring process)")
    return results


def measure_on_postgres(args, path: Path) -> list[dict]:
    """The same variants on a PostgreSQL copy of the store (postgres_copy.py), in a schema of
    its own that is dropped afterwards."""
    import shutil
    import tempfile

    import psycopg
    from bench_sync import postgres_url
    from postgres_copy import copy_store

    folder = tempfile.mkdtemp(prefix="bench-metrics-pg-")
    url, server = postgres_url(args.postgres or None, folder)
    if url is None:
        shutil.rmtree(folder, ignore_errors=True)
        sys.exit("--postgres without a URL needs the embedded server: pip install '.[test]'.")
    schema = f"bench_metrics_{os.getpid()}"
    try:
        seconds = copy_store(path, url, schema)
        print(f"\nPostgreSQL, schema {schema} (copied from the SQLite store in {seconds:.0f} s)")
        return measure_variants(args, url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if server is not None:
            server._cleanup()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
