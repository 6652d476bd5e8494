"""A portal that lives: the day's work of a sales and support team, made while the sandbox serves.

New contacts and leads, deals moving through their pipeline and closing, tickets opened,
answered and closed, survey responses, and now and then a merge or a deletion. Every change
goes through the portal's own mutations, so modified dates, calculated properties, the
search index and the recycle bin behave as they do for an API client's writes.

Changes come at a steady pace of the clock they are given (`ticks`, seconds), so a test that
moves its own clock by a minute gets exactly a minute's changes; which changes, and on which
records, follows the seed.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .formats import DAY_MS
from .recipes import (CITIES, CONTENTS, FEEDBACK_TEXT, FIRST_NAMES, FREE_MAIL, LAST_NAMES, PRODUCTS,
                      RESPONSE_GROUP_FLOORS, SUBJECTS, SURVEY_SCALES, SURVEYS, _slug, usd_rate)
from .schema import ANALYTICS_SOURCES, DEAL_PIPELINES
from .store import ROLE_BITS, Portal, Table

if TYPE_CHECKING:
    from .server import PortalServer

EDITS_PATH = "/sandbox/v1/edits"
MAX_EDITS = 1000
# Tries at finding a record that fits a change (an open deal, an unanswered ticket) before
# the change gives way to a new contact, which always fits.
PICK_TRIES = 200


def _deal_stages() -> tuple[dict[str, list[str]], dict[str, tuple[str, str]]]:
    """Per deal pipeline: the open stages a deal walks through in order (an open stage at
    probability 0, "On hold", is off the way), and its (won, lost) stages."""
    walk, ends = {}, {}
    for pid, _, _, stages in DEAL_PIPELINES:
        walk[pid] = [sid for sid, _, m in stages if m["isClosed"] == "false" and m["probability"] != "0.0"]
        closed = {m["probability"]: sid for sid, _, m in stages if m["isClosed"] == "true"}
        ends[pid] = (closed["1.0"], closed["0.0"])
    return walk, ends


_OPEN_STAGES, _CLOSED_STAGES = _deal_stages()
_STAGE_LABELS = {sid: label for _, _, _, stages in DEAL_PIPELINES for sid, label, _ in stages}


@dataclass(frozen=True)
class Change:
    kind: str
    text: str
    records: tuple[tuple[str, str], ...]   # (object type, id) of every record it stamped

    def as_json(self) -> dict:
        return {"kind": self.kind, "text": self.text,
                "records": [{"objectType": t, "id": i} for t, i in self.records]}


class LivePortal:
    """Makes `per_minute` changes a minute of `ticks` on a portal whose clock runs on `ticks`."""

    def __init__(self, portal: Portal, *, per_minute: float = 6.0, seed: int = 1,
                 ticks: Callable[[], float] = time.monotonic):
        self.portal = portal
        self.per_minute = per_minute
        self.ticks = ticks
        self._rng = random.Random(seed)
        self._started: float | None = None
        self._paced = 0                  # changes made by the pace so far (edits not counted)
        self._lock = threading.Lock()
        # A busy day's mix: most work is new leads and deals and tickets moving on.
        self._mix: list[tuple[Callable[[], Change | None], int]] = [
            (self._new_contact, 22), (self._qualify_lead, 10), (self._new_deal, 8), (self._move_deal, 14),
            (self._close_deal, 6), (self._new_ticket, 10), (self._answer_ticket, 8), (self._close_ticket, 6),
            (self._survey_response, 10), (self._merge_contacts, 2), (self._delete_record, 4)]

    # --- pace -----------------------------------------------------------------------------

    def start(self) -> None:
        """Run the portal's clock on `ticks`; changes fall due from now on."""
        self.portal.run_clock(self.ticks)
        self._started = self.ticks()

    def catch_up(self) -> list[Change]:
        """Make the changes that have fallen due since the last call."""
        if self._started is None:
            raise RuntimeError("call start() first")
        with self._lock:
            due = int((self.ticks() - self._started) * self.per_minute / 60) - self._paced
            self._paced += max(0, due)
        return self.edit(due) if due > 0 else []

    def edit(self, count: int) -> list[Change]:
        """Make `count` changes at once."""
        with self.portal.lock:
            return [self._one_change() for _ in range(count)]

    def attach(self, server: "PortalServer") -> None:
        """Serve POST /sandbox/v1/edits on the portal's server, for `sandbox --edit N`."""
        server.admin_routes[("POST", EDITS_PATH)] = self.serve_edits

    def serve_edits(self, query: dict, body: Any) -> tuple[int, dict]:
        """The sandbox's admin endpoint: POST {"count": N} makes N changes now."""
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_EDITS:
            return 400, {"status": "error", "category": "VALIDATION_ERROR",
                         "message": f"count must be a whole number from 1 to {MAX_EDITS}"}
        changes = self.edit(count)
        return 200, {"changes": [c.as_json() for c in changes]}

    def _one_change(self) -> Change:
        makers, weights = zip(*self._mix)
        change = self._rng.choices(makers, weights)[0]()
        # A change that finds no record to work on (a tiny portal) becomes a new contact.
        return change if change is not None else self._new_contact()

    # --- picking records -------------------------------------------------------------------

    def _pick(self, object_type: str, fits: Callable[[Table, int], bool]) -> int | None:
        """The position of a random live record that fits, or None."""
        t = self.portal.tables[object_type]
        if not t.live:
            return None
        for _ in range(PICK_TRIES):
            p = t.pos[t.live[self._rng.randrange(len(t.live))]]
            if fits(t, p):
                return p
        return None

    def _associated(self, from_type: str, p: int, to_type: str) -> list[int]:
        """Ids of the live records of `to_type` associated with the record at position p."""
        adj = self.portal.adj.get((from_type, to_type))
        if adj is None:
            return []
        target = self.portal.tables[to_type]
        return [e >> ROLE_BITS for e in adj.get(p) if target.is_live_id(e >> ROLE_BITS)]

    def _owner(self, pool: str) -> str | None:
        owners = [o["id"] for o in self.portal.owners if not o["archived"] and o.get("_pool") == pool]
        return self._rng.choice(owners) if owners else None

    def _id(self, object_type: str, p: int) -> str:
        return str(self.portal.tables[object_type].ids[p])

    def _value(self, object_type: str, p: int, name: str) -> Any:
        return self.portal.tables[object_type].cols[name][p]

    # --- the changes -------------------------------------------------------------------------

    def _new_contact(self) -> Change:
        rng, portal = self._rng, self.portal
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = self._pick("companies", lambda t, p: bool(t.cols["domain"][p])) if rng.random() < 0.8 else None
        company_id = self._id("companies", company) if company is not None else None
        domain = self._value("companies", company, "domain") if company is not None else rng.choice(FREE_MAIL)
        stage = "lead" if rng.random() < 0.8 else "subscriber"
        city, country = rng.choice(CITIES)
        email = f"{_slug(first)}.{_slug(last)}{rng.randrange(1, 10_000)}@{domain}"
        contact = portal.create("contacts", {
            "firstname": first, "lastname": last, "email": email,
            "hs_email_domain": domain, "lifecyclestage": stage, "hs_lead_status": "NEW" if stage == "lead" else None,
            "hs_analytics_source": rng.choice(ANALYTICS_SOURCES), "city": city, "country": country,
            "company": self._value("companies", company, "name") if company is not None else None,
            "associatedcompanyid": company_id, "hubspot_owner_id": self._owner("sales")})
        records = [("contacts", contact)]
        if company_id is not None:
            portal.associate("contacts", contact, "companies", company_id)
            records.append(("companies", company_id))
        return Change("new contact", f"new {stage} {first} {last} (contact {contact})", tuple(records))

    def _qualify_lead(self) -> Change | None:
        p = self._pick("contacts", lambda t, p: t.cols["lifecyclestage"][p] in ("subscriber", "lead"))
        if p is None:
            return None
        contact = self._id("contacts", p)
        current = self._value("contacts", p, "lifecyclestage")
        stage = "lead" if current == "subscriber" else self._rng.choice(("marketingqualifiedlead", "salesqualifiedlead"))
        status = self._rng.choice(("OPEN", "IN_PROGRESS", "CONNECTED"))
        self.portal.update("contacts", contact, {"lifecyclestage": stage, "hs_lead_status": status})
        return Change("lead qualified", f"contact {contact} is now {stage}", (("contacts", contact),))

    def _new_deal(self) -> Change | None:
        rng, portal = self._rng, self.portal
        company = self._pick("companies", lambda t, p: t.cols["lifecyclestage"][p] != "other")
        if company is None:
            return None
        company_id = self._id("companies", company)
        currency = "USD" if rng.random() < 0.27 else "EUR"
        amount = max(50, round(rng.lognormvariate(9.1, 1.0) / 50) * 50)
        props = {"dealname": f"{self._value('companies', company, 'name')} – {rng.choice(PRODUCTS)}",
                 "amount": str(amount), "deal_currency_code": currency,
                 "closedate": portal.now_ms + rng.randrange(14, 90) * DAY_MS,
                 "dealtype": "newbusiness", "hubspot_owner_id": self._owner("sales"),
                 "hs_analytics_source": rng.choice(ANALYTICS_SOURCES)}
        if currency == "USD":
            props["hs_exchange_rate"] = f"{usd_rate(portal.now_ms):.4f}"
        deal = portal.create("deals", props)
        portal.associate("deals", deal, "companies", company_id)
        records = [("deals", deal), ("companies", company_id)]
        contacts = self._associated("companies", company, "contacts")
        if contacts:
            contact = str(rng.choice(contacts))
            portal.associate("deals", deal, "contacts", contact)
            records.append(("contacts", contact))
        return Change("new deal", f"new deal {deal} of {amount:,} {currency}", tuple(records))

    def _open_deal(self) -> int | None:
        return self._pick("deals", lambda t, p: t.cols["dealstage"][p] in _OPEN_STAGES.get(t.cols["pipeline"][p], ()))

    def _move_deal(self) -> Change | None:
        p = self._open_deal()
        if p is None:
            return None
        stages = _OPEN_STAGES[self._value("deals", p, "pipeline")]
        at = stages.index(self._value("deals", p, "dealstage"))
        if at + 1 == len(stages):
            return self._close(p)
        deal = self._id("deals", p)
        self.portal.update("deals", deal, {"dealstage": stages[at + 1]})
        return Change("deal moved", f"deal {deal} moved to {_STAGE_LABELS[stages[at + 1]]}", (("deals", deal),))

    def _close_deal(self) -> Change | None:
        p = self._open_deal()
        return None if p is None else self._close(p)

    def _close(self, p: int) -> Change:
        """Won or lost; a win makes its company and contacts customers, as a HubSpot workflow does."""
        portal = self.portal
        deal = self._id("deals", p)
        won_stage, lost_stage = _CLOSED_STAGES[self._value("deals", p, "pipeline")]
        won = self._rng.random() < 0.45
        portal.update("deals", deal, {"dealstage": won_stage if won else lost_stage, "closedate": portal.now_ms})
        records = [("deals", deal)]
        if won:
            for object_type in ("companies", "contacts"):
                for rid in self._associated("deals", p, object_type):
                    t = portal.tables[object_type]
                    if t.cols["lifecyclestage"][t.pos[rid]] != "customer":
                        portal.update(object_type, rid, {"lifecyclestage": "customer"})
                        records.append((object_type, str(rid)))
        return Change("deal closed", f"deal {deal} closed {'won' if won else 'lost'}", tuple(records))

    def _new_ticket(self) -> Change | None:
        rng, portal = self._rng, self.portal
        contact = self._pick("contacts", lambda t, p: True)
        if contact is None:
            return None
        ticket = portal.create("tickets", {
            "subject": rng.choice(SUBJECTS), "content": rng.choice(CONTENTS),
            "hs_ticket_priority": rng.choice(("LOW", "MEDIUM", "MEDIUM", "HIGH", "URGENT")),
            "hs_ticket_category": rng.choice(("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY")),
            "source_type": rng.choice(("EMAIL", "CHAT", "PHONE", "FORM")), "hubspot_owner_id": self._owner("support")})
        contact_id = self._id("contacts", contact)
        portal.associate("tickets", ticket, "contacts", contact_id)
        return Change("new ticket", f"new ticket {ticket} from contact {contact_id}",
                      (("tickets", ticket), ("contacts", contact_id)))

    def _answer_ticket(self) -> Change | None:
        p = self._pick("tickets", lambda t, p: t.cols["hs_pipeline_stage"][p] != "4"
                       and t.cols["first_agent_reply_date"][p] is None
                       and t.cols["hs_first_agent_message_sent_at"][p] is None)
        if p is None:
            return None
        portal, ticket = self.portal, self._id("tickets", p)
        now, created = portal.now_ms, self._value("tickets", p, "createdate")
        props = {"first_agent_reply_date": now, "hs_first_agent_message_sent_at": now, "hs_pipeline_stage": "2"}
        if isinstance(created, int):
            props["time_to_first_agent_reply"] = str(max(0, now - created))
        portal.update("tickets", ticket, props)
        return Change("ticket answered", f"ticket {ticket} answered", (("tickets", ticket),))

    def _close_ticket(self) -> Change | None:
        p = self._pick("tickets", lambda t, p: t.cols["hs_pipeline_stage"][p] in ("2", "3"))
        if p is None:
            return None
        ticket = self._id("tickets", p)
        self.portal.update("tickets", ticket, {"hs_pipeline_stage": "4"})
        return Change("ticket closed", f"ticket {ticket} closed", (("tickets", ticket),))

    def _survey_response(self) -> Change | None:
        rng, portal = self._rng, self.portal
        contact = self._pick("contacts", lambda t, p: True)
        if contact is None:
            return None
        kind = rng.choices(("NPS", "CSAT", "CES"), (50, 35, 15))[0]
        low, weights = SURVEY_SCALES[kind]
        value = low + rng.choices(range(len(weights)), weights)[0]
        promoter, passive = RESPONSE_GROUP_FLOORS[kind]
        group = "PROMOTER" if value >= promoter else "PASSIVE" if value >= passive else "DETRACTOR"
        survey_id, survey_name = SURVEYS[kind][0]
        contact_id, email = self._id("contacts", contact), self._value("contacts", contact, "email")
        response = portal.create("feedback_submissions", {
            "hs_submission_timestamp": portal.now_ms, "hs_survey_type": kind, "hs_survey_id": survey_id,
            "hs_survey_name": survey_name, "hs_value": str(value), "hs_response_group": group,
            "hs_sentiment": {"PROMOTER": "POSITIVE", "PASSIVE": "NEUTRAL", "DETRACTOR": "NEGATIVE"}[group],
            "hs_content": rng.choice(FEEDBACK_TEXT[group]) if rng.random() < 0.35 else None,
            "hs_survey_channel": rng.choice(("EMAIL", "WEB", "CHAT")), "hs_contact_id": contact_id,
            "hs_submission_name": f"{survey_name} - {email}" if email else survey_name})
        portal.associate("feedback_submissions", response, "contacts", contact_id)
        return Change("survey response", f"{kind} answer {value} from contact {contact_id} (response {response})",
                      (("feedback_submissions", response), ("contacts", contact_id)))

    def _merge_contacts(self) -> Change | None:
        first = self._pick("contacts", lambda t, p: True)
        second = self._pick("contacts", lambda t, p: p != first)
        if first is None or second is None:
            return None
        primary, merged = self._id("contacts", min(first, second)), self._id("contacts", max(first, second))
        self.portal.merge("contacts", primary, merged)
        return Change("merge", f"contact {merged} merged into {primary}", (("contacts", primary),))

    def _delete_record(self) -> Change | None:
        object_type = self._rng.choice(("contacts", "deals", "tickets"))
        p = self._pick(object_type, lambda t, p: True)
        if p is None:
            return None
        record = self._id(object_type, p)
        self.portal.archive(object_type, record)
        return Change("deletion", f"{self.portal.tables[object_type].otype.singular} {record} deleted",
                      ((object_type, record),))
