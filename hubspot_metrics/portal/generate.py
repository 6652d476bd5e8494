"""Seeded, realistic portal data at any scale: `generate_portal`.

One random stream per object type, so that changing one object's recipe (recipes.py) does not
reshuffle the others; then associations (both directions from the same pairs, hence
symmetric), merges (the merged-away record vanishes, its id stays in the survivor's
hs_merged_object_ids) and the recycle bin (archived records).
"""

from __future__ import annotations

import gc
from datetime import datetime, timezone

import numpy as np

from .formats import DAY_MS, from_ms, to_ms
from .recipes import Generator, _before, _ints, _objs, _pick, _texts, _where
from .schema import LIFECYCLE_STAGES, ROLE_LABELED, ROLE_PLAIN, ROLE_PRIMARY, ROLE_PRIMARY_LABELED
from .store import ARCHIVED, GONE, ROLE_BITS, Portal


def _sizes(scale: int) -> dict[str, int]:
    return {"contacts": scale, "companies": max(1, round(scale / 5)), "deals": max(1, round(scale / 2)),
            "tickets": max(1, round(scale / 2)), "feedback_submissions": max(1, round(scale / 3))}


def generate_portal(scale: int = 5000, seed: int = 1, now: datetime | None = None) -> Portal:
    """A portal with `scale` contacts and proportionate companies, deals, tickets and surveys;
    the same (scale, seed, now) always gives the same portal."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    now = now or datetime.now(timezone.utc)
    now_ms = to_ms(now)
    g = Generator(scale, seed, now_ms)
    portal = Portal(now=from_ms(now_ms), seed=seed, portal_id=20_000_000 + (seed * 7_919_123) % 9_000_000)
    portal._generator = g
    portal.owners = g.build_owners()
    sizes = _sizes(scale)
    _build(portal, g, sizes)
    # The columns are a few huge lists; left to the cyclic garbage collector they would be
    # traversed on every full collection (0.5 s each at a million contacts, several times a
    # second while serving). Freezing moves everything alive now out of its reach; the portal
    # holds no reference cycles, so dropping it still frees it at once.
    gc.collect()
    gc.freeze()
    return portal


def _assign(rng, n: int, n_targets: int, share: float, skew: float = 2.2) -> np.ndarray:
    """A target index per record (-1 for none), favouring low indices (older, bigger accounts)."""
    idx = np.minimum((n_targets * rng.random(n) ** skew).astype(np.int64), n_targets - 1)
    idx[rng.random(n) >= share] = -1
    return idx


def _build(portal: Portal, g: Generator, sizes: dict[str, int]) -> None:
    now = g.now
    n_co, n_c, n_d = sizes["companies"], sizes["contacts"], sizes["deals"]
    tables = portal.tables
    rng_co, rng_c, rng_d, rng_t, rng_f, rng_x = (g.rng(k) for k in (1, 2, 3, 4, 5, 6))

    # Companies first (names and domains feed contacts and deals); lifecycle once deals exist.
    co_ct = g.times(rng_co, n_co)
    co_cols = g.companies(rng_co, co_ct)
    co_ids = tables["companies"].otype.id_base + np.arange(n_co) * tables["companies"].otype.id_step

    # Contacts: 85 % belong to a company; one big account gets > 500 contacts when the portal allows it.
    c_ct = g.times(rng_c, n_c)
    company_of = _assign(rng_c, n_c, n_co, 0.85)
    n_big = max(min(int(0.02 * n_c), 5000), min(520, int(0.6 * n_c)))
    company_of[rng_c.choice(n_c, n_big, replace=False)] = 0
    domain_pool = _objs(co_cols["domain"])
    contact_domain = np.where(company_of >= 0, domain_pool[np.maximum(company_of, 0)], None)
    name_pool = _objs(co_cols["name"])
    c_cols = g.contacts(rng_c, c_ct, contact_domain, np.where(company_of >= 0, name_pool[np.maximum(company_of, 0)],
                                                              None))
    c_ids = tables["contacts"].otype.id_base + np.arange(n_c) * tables["contacts"].otype.id_step
    co_id_texts = _objs(str(i) for i in co_ids.tolist())
    c_cols["associatedcompanyid"] = _where(company_of >= 0, co_id_texts[np.maximum(company_of, 0)]).tolist()

    # Deals: most with a company, and contacts of that company where it has any.
    d_ct = g.times(rng_d, n_d)
    deal_company = _assign(rng_d, n_d, n_co, 0.9)
    d_cols = g.deals(rng_d, d_ct, _where(deal_company >= 0, name_pool[np.maximum(deal_company, 0)]).tolist())
    members_order = np.argsort(company_of, kind="stable")
    sorted_co = company_of[members_order]
    lo = np.searchsorted(sorted_co, np.arange(n_co), "left")
    hi = np.searchsorted(sorted_co, np.arange(n_co), "right")
    fallback = _before(rng_d, d_ct, c_ct)
    dc_from, dc_to = [], []
    n_contacts = np.where(rng_d.random(n_d) < 0.85, rng_d.choice((1, 1, 1, 2, 2, 3), n_d), 0)
    picks = rng_d.random((n_d, 3))
    for d, (co, k) in enumerate(zip(deal_company.tolist(), n_contacts.tolist())):
        if k == 0:
            continue
        if co >= 0 and hi[co] > lo[co]:
            size = hi[co] - lo[co]
            chosen = {int(members_order[lo[co] + int(picks[d, j] * size)]) for j in range(k)}
        elif fallback[d] >= 0:
            chosen = {int(fallback[d])}
        else:
            continue
        for c in chosen:
            dc_from.append(d)
            dc_to.append(c)

    deal_counts = np.bincount(np.array(dc_to, dtype=np.int64), minlength=n_c)
    c_cols["num_associated_deals"] = _where(deal_counts > 0, _texts(deal_counts)).tolist()

    # Company lifecycle follows its deals: a won deal makes a customer.
    won = np.array([s == "true" for s in d_cols["hs_is_closed_won"]])
    open_ = np.array([s == "false" for s in d_cols["hs_is_closed"]])
    close = np.array([c if c.__class__ is int else now for c in d_cols["closedate"]], dtype=np.int64)
    first_win = np.full(n_co, np.iinfo(np.int64).max)
    has_co = deal_company >= 0
    np.minimum.at(first_win, deal_company[has_co & won], close[has_co & won])
    has_open = np.zeros(n_co, bool)
    has_open[deal_company[has_co & open_]] = True
    is_cust = first_win < np.iinfo(np.int64).max
    cust = np.where(is_cust, np.maximum(first_win, co_ct), 0)
    stage = _pick(rng_co, n_co, ("lead", "subscriber", "marketingqualifiedlead", "other"), (70, 10, 15, 5))
    stage[has_open] = "opportunity"
    stage[is_cust] = "customer"
    has_lead = (stage != "subscriber") & (stage != "other")
    lead = np.minimum(co_ct + np.where(rng_co.random(n_co) < 0.7, 0, rng_co.exponential(DAY_MS, n_co)).astype(
        np.int64), np.where(is_cust, cust, now))
    co_cols["lifecyclestage"] = stage.tolist()
    rank = np.array([LIFECYCLE_STAGES.index(x) for x in stage.tolist()], dtype=np.int64)
    latest = g.lifecycle_dates(rng_co, co_cols, rank, lead, has_lead, cust, is_cust)
    years = np.maximum(1, np.ceil((now - 30 * DAY_MS - cust) / (365 * DAY_MS))).astype(np.int64)
    renewal = (cust + years * 365 * DAY_MS) // DAY_MS * DAY_MS
    co_cols["contract_renewal_date"] = _ints(renewal, ~(is_cust & (rng_co.random(n_co) < 0.8)))
    co_cols["hs_lastmodifieddate"] = g.modified(rng_co, co_ct, latest).tolist()

    # Tickets and surveys come from contacts that existed at the time.
    t_ct = g.times(rng_t, sizes["tickets"])
    t_cols = g.tickets(rng_t, t_ct)
    ticket_contact = _before(rng_t, t_ct, c_ct)
    ticket_contact[rng_t.random(len(t_ct)) < 0.08] = -1
    f_ts = g.times(rng_f, sizes["feedback_submissions"])
    f_contact = _before(rng_f, f_ts, c_ct)
    emails = _objs(c_cols["email"])
    c_id_texts = _objs(str(i) for i in c_ids.tolist())
    f_cols = g.feedback(rng_f, f_ts, _where(f_contact >= 0, c_id_texts[np.maximum(f_contact, 0)]).tolist(),
                        _where(f_contact >= 0, emails[np.maximum(f_contact, 0)]).tolist())

    for name, cols, n in (("companies", co_cols, n_co), ("contacts", c_cols, n_c), ("deals", d_cols, n_d),
                          ("tickets", t_cols, sizes["tickets"]),
                          ("feedback_submissions", f_cols, sizes["feedback_submissions"])):
        tables[name].add_rows(n, cols)

    # Associations (both directions are built from the same pairs, so they are symmetric).
    cc_from = np.nonzero(company_of >= 0)[0]
    cc_to = company_of[cc_from]
    cc_role = np.where(rng_x.random(len(cc_from)) < 0.1, ROLE_PRIMARY_LABELED, ROLE_PRIMARY)
    second = rng_x.random(n_c) < 0.05
    second_from = np.nonzero(second & (company_of >= 0))[0]
    second_to = (company_of[second_from] + 1 + rng_x.integers(0, max(1, n_co - 1), len(second_from))) % n_co
    keep = second_to != company_of[second_from]
    second_from, second_to = second_from[keep], second_to[keep]
    second_role = np.where(rng_x.random(len(second_from)) < 0.2, ROLE_LABELED, ROLE_PLAIN)
    dc_from_a, dc_to_a = np.array(dc_from, dtype=np.int64), np.array(dc_to, dtype=np.int64)
    pairs = {
        ("contacts", "companies"): (np.concatenate([cc_from, second_from]), np.concatenate([cc_to, second_to]),
                                    np.concatenate([cc_role, second_role])),
        ("deals", "companies"): (np.nonzero(has_co)[0], deal_company[has_co], np.full(int(has_co.sum()), ROLE_PRIMARY)),
        ("deals", "contacts"): (dc_from_a, dc_to_a,
                                np.where(rng_x.random(len(dc_from_a)) < 0.15, ROLE_LABELED, ROLE_PLAIN)),
        ("tickets", "contacts"): (np.nonzero(ticket_contact >= 0)[0], ticket_contact[ticket_contact >= 0],
                                  np.full(int((ticket_contact >= 0).sum()), ROLE_PLAIN)),
        ("feedback_submissions", "contacts"): (np.nonzero(f_contact >= 0)[0], f_contact[f_contact >= 0],
                                               np.full(int((f_contact >= 0).sum()), ROLE_PLAIN)),
    }
    merged_into = _merges(portal, g, rng_x)
    for (a, b), (pa, pb, role) in pairs.items():
        pa = _remap(pa, merged_into.get(a))
        pb = _remap(pb, merged_into.get(b))
        _load_pair(portal, a, b, pa.astype(np.int64), pb.astype(np.int64), role.astype(np.int64))
    _archive(portal, g, rng_x)


def _merges(portal: Portal, g: Generator, rng) -> dict[str, np.ndarray]:
    """Merge a small share of records into others: they vanish and leave their id behind."""
    out = {}
    for name, share in (("contacts", 0.01), ("companies", 0.005), ("deals", 0.003), ("tickets", 0.002)):
        t = portal.tables[name]
        n = len(t)
        k = max(1, round(n * share)) if n >= 50 else 0
        into = np.arange(n)
        if k == 0:
            out[name] = into
            continue
        merged = rng.choice(n, k, replace=False)
        is_merged = np.zeros(n, bool)
        is_merged[merged] = True
        candidates = np.nonzero(~is_merged)[0]
        primaries = candidates[rng.integers(0, len(candidates), k)]
        col = t.cols["hs_merged_object_ids"]
        created, modified = t.created, t.modified
        for m, p in zip(merged.tolist(), primaries.tolist()):
            into[m] = p
            col[p] = f"{col[p]};{t.ids[m]}" if col[p] else str(t.ids[m])
            base = max(created[m], created[p])
            when = base + int((g.now - base) * rng.random())
            modified[p] = max(modified[p], when)
            t.status[m] = GONE
        t.rebuild_lists()
        out[name] = into
    return out


def _remap(positions: np.ndarray, into: np.ndarray | None) -> np.ndarray:
    return positions if into is None else into[positions]


def _load_pair(portal: Portal, a: str, b: str, pa: np.ndarray, pb: np.ndarray, role: np.ndarray) -> None:
    ta, tb = portal.tables[a], portal.tables[b]
    key = pa * (len(tb) + 1) + pb
    _, first = np.unique(key, return_index=True)       # one association per pair of records
    pa, pb, role = pa[first], pb[first], role[first]
    ids_a = ta.otype.id_base + pa * ta.otype.id_step
    ids_b = tb.otype.id_base + pb * tb.otype.id_step
    portal._roles(a, b), portal._roles(b, a)
    portal._adjacency(a, b).load(len(ta), pa, (ids_b << ROLE_BITS) | role)
    portal._adjacency(b, a).load(len(tb), pb, (ids_a << ROLE_BITS) | role)


def _archive(portal: Portal, g: Generator, rng) -> None:
    """Deleted records: in the recycle bin with archivedAt, their modified date bumped."""
    for name, share in (("contacts", 0.02), ("companies", 0.015), ("deals", 0.02), ("tickets", 0.02),
                        ("feedback_submissions", 0.005)):
        t = portal.tables[name]
        live = np.array(t.live, dtype=np.int64)
        k = max(1, round(len(live) * share)) if len(live) >= 20 else 0
        if k == 0:
            continue
        for rid in rng.choice(live, k, replace=False).tolist():
            p = t.pos[rid]
            base = t.modified[p]
            when = base + int((g.now - base) * rng.random())
            t.status[p] = ARCHIVED
            t.archived_at[p] = when
            t.modified[p] = when
        t.rebuild_lists()
