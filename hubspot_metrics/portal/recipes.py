"""Recipes for each object's columns: value pools, distributions and the quirks of real portals.

Everything is drawn with numpy, column by column (a million contacts take seconds, not
minutes). The recipes aim at what KPI code meets in real portals: growth over ~24 months,
lifecycle dates that only some records have in their legacy or v2 form, deals in two
currencies, tickets without replies, surveys on three scales, cleared values ("") and
unparsable ones, and a bulk import sharing one modified millisecond.
"""

from __future__ import annotations

import math
import unicodedata
from functools import lru_cache

import numpy as np

from .formats import DAY_MS, fmt_datetime, fmt_number, from_ms, to_ms
from .schema import ANALYTICS_SOURCES, INDUSTRIES, LEAD_STATUSES, LIFECYCLE_STAGES
from .store import Portal

HOUR_MS = 3_600_000
SPAN_DAYS = 730

FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannah", "Ivan", "Jana", "Jonas", "Julia",
               "Karim", "Laura", "Lena", "Lukas", "Marie", "Max", "Mia", "Noah", "Olga", "Paul", "Sophie", "Tom",
               "Zoë", "José", "Łukasz", "Søren", "Françoise", "Jürgen", "Ngọc Anh", "Aoife", "Mateo", "Priya",
               "Chloé", "Björn", "Ayşe", "Marta", "Oliver", "Emma")
LAST_NAMES = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch",
              "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Braun", "Zimmermann", "Krüger", "Hartmann", "Lange",
              "O'Brien", "García", "Nguyễn", "Kowalski", "Jensen", "Dubois", "Rossi", "Smith", "Yılmaz", "Novák",
              "van der Berg", "Silva", "Andersson", "Papadopoulos", "Ivanova", "Costa")
# Names real portals contain and naive exports mishandle.
NAME_QUIRKS = ('"Bob"', "Anna\nMaria", '=HYPERLINK("http://example.com","x")', "=1+2", "+49 Max", "@home",
               "😀 Smiley", "Zoë 🚀", "  padded  ", "Tab\tName", "", None)
JOB_TITLES = ("CEO", "CTO", "Head of Sales", "Marketing Manager", "Account Executive", "Office Manager",
              "Procurement Lead", "IT Administrator", "Customer Success Manager", "Founder", "Controller", "")
FREE_MAIL = ("gmail.com", "web.de", "gmx.de", "outlook.com", "yahoo.com", "t-online.de")
COMPANY_A = ("Nord", "Süd", "Alpen", "Rhein", "Elbe", "Hansa", "Iso", "Quantum", "Blue", "Green", "Bright", "Silver",
             "Falken", "Adler", "Berg", "Stern", "Licht", "Delta", "Terra", "Nova", "Vita", "Astra", "Kraft", "Wald",
             "Globex", "Initech", "Umbrella", "Hooli", "Acme", "Vandelay")
COMPANY_B = ("tech", "werk", "soft", "logistik", "bau", "medical", "data", "systems", "analytics", "consult", "energy",
             "foods", "labs", "motion", "print", "retail", "solutions", "works", "cloud", "finance")
LEGAL = (" GmbH", " AG", " GmbH & Co. KG", " Ltd", " Inc.", " SE", "")
TLDS = ("de", "com", "eu", "io", "at", "ch")
PRODUCTS = ("Starter plan", "Professional licence", "Enterprise rollout", "Onboarding package", "Annual renewal",
            "Support upgrade", "Data migration", "Training days", "Add-on seats", "Consulting block")
SUBJECTS = ("Cannot log in", "Invoice question", "Export to CSV fails", "Feature request: dark mode",
            "Password reset", "Sync error with calendar", "Upgrade plan", "Refund request", "API rate limit",
            "Report shows wrong totals", "Onboarding call", "Mobile app crashes")
CONTENTS = ("Hi team,\nsince this morning I get an error.\nThanks", "Please see attached screenshot.",
            "Customer called about the invoice from last month.", "Could you add this option? Many users ask.",
            "Urgent: production is down for our whole team!", "Thanks for the quick help last time.", "", None)
FEEDBACK_TEXT = {
    "PROMOTER": ("Great product, keep it up!", "Support was fast and friendly.", "Love the new dashboard 😀"),
    "PASSIVE": ("Works fine, a bit pricey.", "OK, but the app is slow sometimes.", "Decent."),
    "DETRACTOR": ("Nobody answered my ticket for days.", "Too expensive for what it does.", "Export is broken,\n"
                  "again."),
}
OWNER_FIRST = ("Sarah", "Michael", "Katrin", "Stefan", "Nina", "Thomas", "Eva", "Daniel", "Lisa", "Markus",
               "Petra", "Jan", "Sabine", "Florian", "Carmen", "Tobias", "Ines", "Patrick", "Ute", "Robert")
OWNER_LAST = ("Albrecht", "Bauer", "Engel", "Frank", "Graf", "Hahn", "Jung", "Keller", "Lorenz", "Marx",
              "Otto", "Peters", "Roth", "Sauer", "Thiel", "Vogel", "Winter", "Ziegler", "Busch", "Kuhn")

CITIES = (("Berlin", "Germany"), ("Hamburg", "Germany"), ("München", "Germany"), ("Köln", "Germany"),
          ("Wien", "Austria"), ("Zürich", "Switzerland"), ("Amsterdam", "Netherlands"), ("Paris", "France"),
          ("London", "United Kingdom"), ("New York", "United States"), ("Austin", "United States"),
          ("Kraków", "Poland"), ("København", "Denmark"), ("Madrid", "Spain"), (None, None))
PORTAL_DOMAIN = "nordlicht-software.de"
SURVEYS = {"NPS": (("101", "Quarterly NPS"), ("102", "Product NPS")),
           "CSAT": (("201", "Support satisfaction (CSAT)"),),
           "CES": (("301", "Customer effort score"),)}
# Answer distributions: NPS 0-10, CSAT 1-5, CES 1-7 (weights per answer value, lowest first).
SURVEY_SCALES = {"NPS": (0, (2, 1, 1, 2, 2, 4, 6, 12, 16, 22, 18)),
                 "CSAT": (1, (5, 7, 15, 35, 38)),
                 "CES": (1, (3, 4, 8, 15, 25, 25, 20))}
# The lowest answer that counts as PROMOTER, then as PASSIVE, per survey type.
RESPONSE_GROUP_FLOORS = {"NPS": (9, 7), "CSAT": (4, 3), "CES": (6, 4)}


def usd_rate(ms: int) -> float:
    """The portal's EUR per USD at a moment: it drifts gently from month to month."""
    month = ms // (30 * DAY_MS)
    return round(0.91 + 0.03 * math.sin(month / 3.0), 4)


@lru_cache(maxsize=4096)
def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum()) or "contact"


def _objs(values) -> np.ndarray:
    values = list(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _ints(arr: np.ndarray, missing: np.ndarray | None = None) -> list:
    """int64 array -> list of Python ints, None where `missing`."""
    if missing is None or not missing.any():
        return arr.tolist()
    out = arr.astype(object)
    out[missing] = None
    return out.tolist()


def _pick(rng, n: int, values, weights=None) -> np.ndarray:
    pool = _objs(values)
    p = None if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    return pool[rng.choice(len(pool), size=n, p=p)]


def _texts(numbers: np.ndarray) -> np.ndarray:
    """Small non-negative integers as shared strings (one str object per distinct value)."""
    if len(numbers) == 0:
        return np.empty(0, dtype=object)
    lo = int(numbers.min())
    table = _objs(str(i) for i in range(lo, int(numbers.max()) + 1))
    return table[numbers - lo]


def _flags(mask: np.ndarray) -> np.ndarray:
    return _objs(("false", "true"))[mask.astype(np.int64)]


def _where(mask: np.ndarray, values: np.ndarray, other=None) -> np.ndarray:
    out = values.copy() if values.dtype == object else values.astype(object)
    out[~mask] = other
    return out


def _before(rng, times: np.ndarray, targets_ct: np.ndarray) -> np.ndarray:
    """For each time, a random target created before it (-1 when there is none)."""
    k = np.searchsorted(targets_ct, times)
    idx = (rng.random(len(times)) * k).astype(np.int64)
    idx[k == 0] = -1
    return idx


class Generator:
    def __init__(self, scale: int, seed: int, now_ms: int):
        self.scale, self.seed, self.now = scale, seed, now_ms
        self.start = now_ms - SPAN_DAYS * DAY_MS
        self.fills = 0

    def rng(self, *stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *stream])

    # --- shared pieces ------------------------------------------------------------------

    def times(self, rng, n: int, span_days: int = SPAN_DAYS) -> np.ndarray:
        """Sorted create times over the last `span_days`, denser recently (a growing business),
        mostly in business hours."""
        span = span_days * DAY_MS
        start = self.now - span
        t = start + rng.random(n) ** (1 / 1.5) * span
        day = np.floor(t / DAY_MS) * DAY_MS
        tod = np.clip(rng.normal(10.5, 3.0, n), 0.3, 23.5) * HOUR_MS + rng.integers(0, 60_000, n)
        t = (day + tod).astype(np.int64)
        late = t > self.now
        t[late] = self.now - rng.integers(5_000, 6 * HOUR_MS, int(late.sum()))
        t.sort()
        return t

    def later(self, rng, base: np.ndarray, scale_ms: float) -> np.ndarray:
        """A time after `base`, usually soon, never after now."""
        extra = rng.exponential(scale_ms, len(base))
        return np.minimum(base + extra.astype(np.int64), self.now)

    def modified(self, rng, *times: np.ndarray) -> np.ndarray:
        """Last modified: the latest known event plus an edit or recalculation later on."""
        base = np.maximum.reduce([np.where(t > self.now, 0, t) for t in times])
        gap = self.now - base
        return base + (gap * rng.random(len(base)) ** 4).astype(np.int64)

    def owners_for(self, rng, created: np.ndarray, pool: str, none_share: float = 0.07) -> list:
        active = [o["id"] for o in self.owner_list if not o["archived"] and o["_pool"] == pool]
        retired = [o["id"] for o in self.owner_list if o["archived"]]
        n = len(created)
        out = _objs(active)[rng.integers(0, len(active), n)]
        old = (created < self.now - 270 * DAY_MS) & (rng.random(n) < 0.15)
        out[old] = _objs(retired)[rng.integers(0, len(retired), int(old.sum()))]
        out[rng.random(n) < none_share] = None
        return out.tolist()

    def names(self, rng, n: int, pool, quirk_share: float) -> np.ndarray:
        out = _pick(rng, n, pool)
        quirky = rng.random(n) < quirk_share
        out[quirky] = _pick(rng, int(quirky.sum()), NAME_QUIRKS)
        return out

    # --- owners ---------------------------------------------------------------------------

    def build_owners(self) -> list[dict]:
        rng = self.rng(0)
        n = int(np.clip(6 + 6 * math.log10(max(self.scale, 10)), 10, 40))
        n_retired = max(2, round(n * 0.2))
        ids = 41_629_779 + np.cumsum(rng.integers(1, 3_000_000, n))
        user_ids = 9_586_504 + np.cumsum(rng.integers(1, 400_000, n))
        created = self.now - rng.integers(400, 2000, n) * DAY_MS
        owners = []
        for i in range(n):
            first = OWNER_FIRST[i % len(OWNER_FIRST)]
            last = OWNER_LAST[(i * 7 + self.seed) % len(OWNER_LAST)]
            retired = i >= n - n_retired
            pool = "sales" if i < (n - n_retired) * 0.6 else "support"
            team = ({"id": "368389", "name": "Sales Team", "primary": True} if pool == "sales"
                    else {"id": "368390", "name": "Support Team", "primary": True})
            updated = int(created[i] + rng.integers(1, 300) * DAY_MS)
            owners.append({
                "id": str(int(ids[i])), "email": f"{_slug(first)}.{_slug(last)}@{PORTAL_DOMAIN}", "type": "PERSON",
                "firstName": first, "lastName": last,
                "userId": None if retired else int(user_ids[i]), "userIdIncludingInactive": int(user_ids[i]),
                "createdAt": fmt_datetime(int(created[i])), "updatedAt": fmt_datetime(min(updated, self.now)),
                "archived": retired, "teams": [] if retired else [team], "_pool": pool})
        # A ticket queue: an owner that is not a person.
        owners.append({"id": str(int(ids[-1]) + 17), "email": None, "type": "QUEUE", "firstName": "Support",
                       "lastName": "Queue", "userId": None, "userIdIncludingInactive": None,
                       "createdAt": fmt_datetime(int(created[0])), "updatedAt": fmt_datetime(int(created[0])),
                       "archived": False, "teams": [], "_pool": "queue"})
        self.owner_list = owners
        return owners

    # --- companies ---------------------------------------------------------------------------

    def companies(self, rng, ct: np.ndarray) -> dict[str, list]:
        n = len(ct)
        a = rng.integers(0, len(COMPANY_A), n)
        b = rng.integers(0, len(COMPANY_B), n)
        legal = rng.integers(0, len(LEGAL), n)
        tld = rng.integers(0, len(TLDS), n)
        names = [f"{COMPANY_A[x]}{COMPANY_B[y]}{LEGAL[z]}" for x, y, z in zip(a.tolist(), b.tolist(), legal.tolist())]
        domains = [f"{_slug(COMPANY_A[x])}{COMPANY_B[y]}.{TLDS[z]}" for x, y, z in
                   zip(a.tolist(), b.tolist(), tld.tolist())]
        names_arr, domains_arr = _objs(names), _objs(domains)
        quirky = rng.random(n) < 0.004
        names_arr[quirky] = _pick(rng, int(quirky.sum()), ('=cmd|" /C calc"!A0', 'Müller & "Söhne"', "Café ☕ Berlin",
                                                           "Line\nBreak AG", ""))
        domains_arr[rng.random(n) < 0.03] = None
        industry = _pick(rng, n, INDUSTRIES)
        industry[rng.random(n) < 0.08] = None
        industry[rng.random(n) < 0.01] = ""
        revenue = np.round(rng.lognormal(math.log(4e6), 1.3, n), -3).astype(np.int64).astype(str).astype(object)
        revenue[rng.random(n) < 0.15] = None
        employees = np.maximum(1, rng.lognormal(math.log(45), 1.2, n)).astype(np.int64).astype(str).astype(object)
        employees[rng.random(n) < 0.2] = None
        return {"createdate": ct.tolist(), "name": names_arr.tolist(), "domain": domains_arr.tolist(),
                "industry": industry.tolist(), "annualrevenue": revenue.tolist(),
                "numberofemployees": employees.tolist(),
                "hubspot_owner_id": self.owners_for(rng, ct, "sales"),
                "hs_analytics_source": self.sources(rng, n).tolist()}

    def sources(self, rng, n: int) -> np.ndarray:
        out = _pick(rng, n, ANALYTICS_SOURCES, (28, 12, 8, 8, 10, 4, 18, 10, 2))
        out[rng.random(n) < 0.03] = None
        return out

    def lifecycle_dates(self, rng, cols: dict, rank: np.ndarray, lead: np.ndarray, has_lead: np.ndarray,
                        cust: np.ndarray, is_cust: np.ndarray) -> np.ndarray:
        """Legacy and v2 date-entered properties: some records carry only one generation.

        `rank` indexes LIFECYCLE_STAGES; stages between lead and customer get dates in between.
        Returns each record's latest lifecycle date (0 when none)."""
        n = len(lead)
        mode = rng.choice(3, n, p=(0.7, 0.15, 0.15))  # both, legacy only, v2 only
        legacy, v2 = mode != 2, mode != 1
        cols["hs_lifecyclestage_lead_date"] = _ints(lead, ~(has_lead & legacy))
        cols["hs_v2_date_entered_lead"] = _ints(lead, ~(has_lead & v2))
        cols["hs_lifecyclestage_customer_date"] = _ints(cust, ~(is_cust & legacy))
        cols["hs_v2_date_entered_customer"] = _ints(cust, ~(is_cust & v2))
        end = np.where(is_cust, cust, lead + (self.now - lead) // 2)
        latest = np.maximum(np.where(has_lead, lead, 0), np.where(is_cust, cust, 0))
        for k, stage in ((2, "marketingqualifiedlead"), (3, "salesqualifiedlead"), (4, "opportunity")):
            reached = has_lead & (rank >= k) & (rank <= 6)
            when = lead + (end - lead) * (k - 1) // 4
            cols[f"hs_lifecyclestage_{stage}_date"] = _ints(when, ~(reached & legacy))
            latest = np.maximum(latest, np.where(reached & legacy, when, 0))
        return latest

    # --- contacts ---------------------------------------------------------------------------

    def contacts(self, rng, ct: np.ndarray, company_domain: np.ndarray | None,
                 company_name: np.ndarray | None = None) -> dict[str, list]:
        n = len(ct)
        now = self.now
        stage = rng.choice(len(LIFECYCLE_STAGES), n, p=(0.08, 0.34, 0.13, 0.08, 0.08, 0.23, 0.03, 0.03))
        young = ct > now - 5 * DAY_MS
        stage[young & (stage >= 4) & (rng.random(n) < 0.6)] = 1  # few brand-new contacts are customers yet
        has_lead = (stage >= 1) & (stage <= 6) | ((stage == 7) & (rng.random(n) < 0.5))
        delay = np.where(rng.random(n) < 0.6, 0, rng.exponential(2 * DAY_MS, n)).astype(np.int64)
        lead = np.minimum(ct + delay, now)
        is_cust = (stage == 5) | (stage == 6)
        cycle = (rng.lognormal(math.log(35), 0.9, n) * DAY_MS).astype(np.int64)
        cust = lead + cycle
        late = cust > now
        cust[late] = lead[late] + ((now - lead[late]) * rng.random(int(late.sum()))).astype(np.int64)
        stage_values = _objs(LIFECYCLE_STAGES)[stage]
        stage_values[rng.random(n) < 0.01] = ""   # cleared in the UI
        stage_values[rng.random(n) < 0.01] = None
        cols: dict[str, list] = {"createdate": ct.tolist(), "lifecyclestage": stage_values.tolist()}
        latest = self.lifecycle_dates(rng, cols, stage, lead, has_lead, cust, is_cust)
        churned = is_cust & (cust < now - 60 * DAY_MS) & (rng.random(n) < 0.15)
        churn = cust + ((now - cust) * rng.uniform(0.2, 1.0, n)).astype(np.int64)
        churn = churn // DAY_MS * DAY_MS  # a date property: midnight UTC
        churn_col = _where(churned, churn.astype(object))
        churn_col[churned & (rng.random(n) < 0.02)] = "not a date"
        cols["churn_date"] = churn_col.tolist()

        first = self.names(rng, n, FIRST_NAMES, 0.006)
        last = self.names(rng, n, LAST_NAMES, 0.004)
        cols["firstname"], cols["lastname"] = first.tolist(), last.tolist()
        domains = _pick(rng, n, FREE_MAIL)
        if company_domain is not None:
            has = np.array([d is not None for d in company_domain])
            domains[has] = company_domain[has]
        serial = rng.integers(1, 10_000, n).tolist()
        emails = _objs([f"{_slug(f or 'x')}.{_slug(l or 'y')}{s}@{d}" for f, l, s, d in
                        zip(first.tolist(), last.tolist(), serial, domains.tolist())])
        emails[rng.random(n) < 0.03] = None
        cols["email"] = emails.tolist()
        has_email = np.fromiter((e is not None for e in emails), dtype=bool, count=n)
        cols["hs_email_domain"] = _where(has_email, domains).tolist()
        phone = _objs([f"+49 {a} {b}" for a, b in zip(rng.integers(30, 999, n).tolist(),
                                                       rng.integers(100_000, 9_999_999, n).tolist())])
        phone[rng.random(n) < 0.4] = None
        cols["phone"] = phone.tolist()
        where = rng.integers(0, len(CITIES), n)
        cols["city"] = _objs(c for c, _ in CITIES)[where].tolist()
        cols["country"] = _objs(c for _, c in CITIES)[where].tolist()
        company = company_name.copy() if company_name is not None else np.full(n, None, dtype=object)
        company[rng.random(n) < 0.1] = None
        cols["company"] = company.tolist()
        jobs = _pick(rng, n, JOB_TITLES)
        jobs[rng.random(n) < 0.3] = None
        cols["jobtitle"] = jobs.tolist()
        status = _pick(rng, n, LEAD_STATUSES)
        status[(stage < 1) | (stage > 3)] = None
        status[rng.random(n) < 0.01] = ""
        cols["hs_lead_status"] = status.tolist()
        cols["hs_analytics_source"] = self.sources(rng, n).tolist()
        cols["hubspot_owner_id"] = self.owners_for(rng, ct, "sales")
        dates = [ct, latest, np.where(churned, churn, 0)]
        modified = self.modified(rng, *dates)
        # A bulk import / recalculation 20 days ago: 5 % of contacts share one millisecond.
        bulk = (now - 20 * DAY_MS) // DAY_MS * DAY_MS + 14 * HOUR_MS + 3 * 60_000 + 27_123
        chosen = (rng.random(n) < 0.05) & (np.maximum.reduce(dates) <= bulk)
        modified[chosen] = bulk
        cols["lastmodifieddate"] = modified.tolist()
        return cols

    # --- deals ---------------------------------------------------------------------------

    def deals(self, rng, ct: np.ndarray, company_names: list | None) -> dict[str, list]:
        n = len(ct)
        now = self.now
        custom = rng.random(n) < 0.2
        age_days = (now - ct) / DAY_MS
        closed = rng.random(n) < np.clip(age_days / 75, 0, 0.92)
        cycle = np.clip(rng.lognormal(math.log(30), 0.8, n), 0.02, np.maximum(age_days, 0.02))
        won = closed & (rng.random(n) < np.where(custom, 0.7, 0.42))
        default_open = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
                        "contractsent")
        stage = np.where(custom, _pick(rng, n, ("11348548", "11348549", "11348550"), (5, 3.5, 1.5)),
                         _pick(rng, n, default_open, (3, 2.5, 2, 1.5, 1)))
        stage[closed & won] = np.where(custom, "11348551", "closedwon")[closed & won]
        stage[closed & ~won] = np.where(custom, "11348552", "closedlost")[closed & ~won]
        open_close = ct + (rng.lognormal(math.log(45), 0.6, n) * DAY_MS).astype(np.int64)
        closedate = np.where(closed, ct + (cycle * DAY_MS).astype(np.int64), open_close)
        no_close = ~closed & (rng.random(n) < 0.1)
        meta = {"closedwon": "1.0", "closedlost": "0.0", "11348551": "1.0", "11348552": "0.0", "11348550": "0.0",
                "appointmentscheduled": "0.2", "qualifiedtobuy": "0.4", "presentationscheduled": "0.6",
                "decisionmakerboughtin": "0.8", "contractsent": "0.9", "11348548": "0.5", "11348549": "0.7"}
        amount = rng.lognormal(math.log(9000), 1.0, n)
        amount = np.where(rng.random(n) < 0.85, np.round(amount / 50) * 50, np.round(amount, 2))
        amount = np.maximum(amount, 50)
        currency = _pick(rng, n, ("EUR", "USD", None, ""), (68, 27, 3, 2))
        amounts, homes, rates = [], [], []
        for a, c, t in zip(amount.tolist(), currency.tolist(), ct.tolist()):
            amounts.append(fmt_number(a))
            if c == "USD":
                r = usd_rate(t)
                rates.append(f"{r:.4f}")
                homes.append(fmt_number(a * r))
            else:
                rates.append(None)
                homes.append(fmt_number(a))
        amount_col, home_col, rate_col = _objs(amounts), _objs(homes), _objs(rates)
        no_amount = won & (rng.random(n) < 0.03)          # won deals nobody priced
        amount_col[no_amount] = np.where(rng.random(int(no_amount.sum())) < 0.5, None, "")
        home_col[no_amount] = None
        garbled = rng.random(n) < 0.003
        amount_col[garbled] = "12,5k"
        home_col[garbled] = None
        bad_rate = (currency == "USD") & (rng.random(n) < 0.01)
        rate_col[bad_rate] = ""
        home_col[bad_rate] = None

        close_col = _where(~no_close, closedate.astype(object))
        close_col[~closed & ~no_close & (rng.random(n) < 0.002)] = "not a date"
        days = _texts(np.maximum(0, np.round((closedate - ct) / DAY_MS).astype(np.int64)))
        days[no_close] = None
        is_closed = _flags(closed)
        product = _pick(rng, n, PRODUCTS)
        if company_names is not None:
            names = [f"{c} – {p}" if c else p for c, p in zip(company_names, product.tolist())]
        else:
            names = [f"{p} (import)" for p in product.tolist()]
        names_arr = _objs(names)
        quirky = rng.random(n) < 0.004
        names_arr[quirky] = _pick(rng, int(quirky.sum()), ('=SUM(A1:A9)', 'Deal "Big One"', "Renewal\n2025",
                                                           "🚀 Launch", ""))
        dealtype = np.where(custom, "existingbusiness",
                            _pick(rng, n, ("newbusiness", "existingbusiness", None), (62, 33, 5))).astype(object)
        term = _where(won, _pick(rng, n, ("12", "24", "36"), (6, 3, 1)))
        modified = self.modified(rng, ct, np.where(closed, closedate, 0))
        # HubSpot's month-end recalculation: many deals share the last millisecond of last month.
        first_of_month = from_ms(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        month_end = to_ms(first_of_month) - 1
        batch = (rng.random(n) < 0.05) & (np.maximum(ct, np.where(closed, closedate, 0)) <= month_end)
        modified[batch] = month_end
        probability = [meta[x] for x in stage.tolist()]
        closed_amount = np.where(won, amount_col, "0").astype(object)
        closed_home = np.where(won, home_col, "0").astype(object)
        projected = [None if not isinstance(a, str) or not a or "," in a else fmt_number(float(a) * float(pr))
                     for a, pr in zip(amount_col.tolist(), probability)]
        return {
            "hs_closed_amount": closed_amount.tolist(), "hs_closed_amount_in_home_currency": closed_home.tolist(),
            "hs_projected_amount": projected,
            "createdate": ct.tolist(), "hs_lastmodifieddate": modified.tolist(), "dealname": names_arr.tolist(),
            "amount": amount_col.tolist(), "deal_currency_code": currency.tolist(), "hs_exchange_rate": rate_col.tolist(),
            "amount_in_home_currency": home_col.tolist(),
            "pipeline": _objs(("default", "11348547"))[custom.astype(np.int64)].tolist(),
            "dealstage": stage.tolist(), "closedate": close_col.tolist(), "hs_is_closed": is_closed.tolist(),
            "hs_is_closed_won": _flags(won).tolist(), "hs_is_closed_lost": _flags(closed & ~won).tolist(),
            "hs_deal_stage_probability": probability, "days_to_close": days.tolist(),
            "dealtype": dealtype.tolist(), "contract_term_months": term.tolist(),
            "hubspot_owner_id": self.owners_for(rng, ct, "sales"), "hs_analytics_source": self.sources(rng, n).tolist()}

    # --- tickets ---------------------------------------------------------------------------

    def tickets(self, rng, ct: np.ndarray) -> dict[str, list]:
        n = len(ct)
        now = self.now
        ttc = (rng.lognormal(math.log(2 * 24), 1.2, n) * HOUR_MS).astype(np.int64)
        backlog = rng.random(n) < 0.04  # tickets nobody closes
        closed = (ct + ttc <= now) & ~backlog
        stage = _pick(rng, n, ("1", "2", "3"), (5, 2, 3))
        stage[closed] = "4"
        reply_in = (rng.lognormal(math.log(3), 1.1, n) * HOUR_MS).astype(np.int64)
        reply_in = np.where(closed, np.minimum(reply_in, ttc), reply_in)
        replied = (rng.random(n) < 0.88) & (ct + reply_in <= now)
        early = replied & (rng.random(n) < 0.005)       # email threads imported after the reply
        reply_in[early] = -rng.integers(60_000, 600 * 60_000, int(early.sum()))
        reply = ct + reply_in
        mode = rng.choice(3, n, p=(0.6, 0.25, 0.15))  # both, first_agent_reply_date only, message_sent only
        ttc_col = _where(closed, ttc.astype(str).astype(object))
        ttc_col[closed & (rng.random(n) < 0.01)] = ""
        priority = _pick(rng, n, ("LOW", "MEDIUM", "HIGH", "URGENT", None), (30, 40, 20, 5, 5))
        category = _pick(rng, n, ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY", None),
                         (40, 20, 15, 20, 5))
        subjects = _pick(rng, n, SUBJECTS)
        quirky = rng.random(n) < 0.004
        subjects[quirky] = _pick(rng, int(quirky.sum()), ('"Quoted" subject', "=1+1", "Line\nbreak", "🔥 Urgent", ""))
        modified = self.modified(rng, ct, np.where(replied, reply, 0), np.where(closed, ct + ttc, 0))
        return {
            "createdate": ct.tolist(), "hs_lastmodifieddate": modified.tolist(), "subject": subjects.tolist(),
            "content": _pick(rng, n, CONTENTS).tolist(), "hs_pipeline": ["0"] * n, "hs_pipeline_stage": stage.tolist(),
            "closed_date": _ints(ct + ttc, ~closed),
            "first_agent_reply_date": _ints(reply, ~(replied & (mode != 2))),
            "hs_first_agent_message_sent_at": _ints(reply, ~(replied & (mode != 1))),
            "time_to_first_agent_reply": _where(replied, reply_in.astype(str).astype(object)).tolist(),
            "time_to_close": ttc_col.tolist(), "hs_ticket_priority": priority.tolist(),
            "hs_ticket_category": category.tolist(),
            "source_type": _pick(rng, n, ("EMAIL", "CHAT", "PHONE", "FORM"), (45, 25, 15, 15)).tolist(),
            "hubspot_owner_id": self.owners_for(rng, ct, "support")}

    # --- feedback submissions ------------------------------------------------------------------

    def feedback(self, rng, submitted: np.ndarray, contact_ids: list, contact_emails: list) -> dict[str, list]:
        n = len(submitted)
        kind = _pick(rng, n, ("NPS", "CSAT", "CES"), (50, 35, 15))
        value = np.zeros(n, dtype=np.int64)
        group = np.empty(n, dtype=object)
        survey_ids, survey_names = np.empty(n, dtype=object), np.empty(n, dtype=object)
        for k, (lo, weights) in SURVEY_SCALES.items():
            mask = kind == k
            m = int(mask.sum())
            cum = np.cumsum(weights) / np.sum(weights)
            v = lo + np.minimum(np.searchsorted(cum, rng.random(m)), len(weights) - 1)
            value[mask] = v
            promoter, passive = RESPONSE_GROUP_FLOORS[k]
            group[mask] = np.where(v >= promoter, "PROMOTER", np.where(v >= passive, "PASSIVE", "DETRACTOR"))
            which = np.where(rng.random(m) < 0.7, 0, len(SURVEYS[k]) - 1)
            survey_ids[mask] = _objs(s[0] for s in SURVEYS[k])[which]
            survey_names[mask] = _objs(s[1] for s in SURVEYS[k])[which]
        groups = group.tolist()
        values = _texts(value).tolist()
        survey_ids, survey_names = survey_ids.tolist(), survey_names.tolist()
        value_col, group_col = _objs(values), _objs(groups)
        value_col[rng.random(n) < 0.003] = "N/A"
        value_col[(kind == "NPS") & (rng.random(n) < 0.002)] = "11"
        group_col[rng.random(n) < 0.01] = None
        sentiment = np.where(group_col == "PROMOTER", "POSITIVE",
                             np.where(group_col == "DETRACTOR", "NEGATIVE", "NEUTRAL")).astype(object)
        sentiment[rng.random(n) < 0.2] = None
        text = [FEEDBACK_TEXT[g][i % 3] if g and r < 0.35 else None
                for i, (g, r) in enumerate(zip(groups, rng.random(n).tolist()))]
        created = submitted + rng.integers(500, 30_000, n)
        modified = self.modified(rng, created)
        submission_names = [f"{s} - {e}" if e else s for s, e in zip(survey_names, contact_emails)]
        return {
            "hs_createdate": created.tolist(), "hs_lastmodifieddate": modified.tolist(),
            "hs_submission_timestamp": submitted.tolist(), "hs_survey_type": kind.tolist(),
            "hs_survey_id": survey_ids, "hs_survey_name": survey_names, "hs_value": value_col.tolist(),
            "hs_response_group": group_col.tolist(), "hs_sentiment": sentiment.tolist(), "hs_content": text,
            "hs_survey_channel": _pick(rng, n, ("EMAIL", "WEB", "CHAT"), (6, 3, 1)).tolist(),
            "hs_submission_name": submission_names, "hs_contact_id": contact_ids}

    # --- filler records for bulk_touch ---------------------------------------------------------

    def fill(self, portal: Portal, name: str, n: int) -> list[int]:
        """n new records of one type created now (a bulk import): no associations."""
        self.fills += 1
        rng = self.rng(90, self.fills)
        ct = np.full(n, portal.now_ms, dtype=np.int64)
        saved, self.now = self.now, portal.now_ms
        try:
            if name == "contacts":
                cols = self.contacts(rng, ct, None)
            elif name == "companies":
                cols = self.companies(rng, ct)
                cols["lifecyclestage"] = ["lead"] * n
            elif name == "deals":
                cols = self.deals(rng, ct, None)
            elif name == "tickets":
                cols = self.tickets(rng, ct)
            else:
                cols = self.feedback(rng, ct, [None] * n, [None] * n)
        finally:
            self.now = saved
        otype = portal.tables[name].otype
        cols[otype.modified] = [portal.now_ms] * n
        t = portal.tables[name]
        positions = t.add_rows(n, cols)
        portal.version += 1
        return [t.ids[p] for p in positions]
