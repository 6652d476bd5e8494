"""Reference data: the account (and which portal the store belongs to), owners, pipelines."""

from __future__ import annotations

from hubspot_metrics.dialect import dialect_of, quote
from hubspot_metrics.errors import MissingScopeError, StoreError
from hubspot_metrics.store import describe, replace_sql, save_json, stored_portal_id, transaction
from hubspot_metrics.sync.base import SyncRun
from hubspot_metrics.sync.outcome import ObjectResult
from hubspot_metrics.sync.paging import _items, _next_after, follow, record_id
from hubspot_metrics.values import parse_number

OWNER_COLUMNS = ("id", "email", "firstName", "lastName", "type", "userId", "userIdIncludingInactive", "createdAt",
                 "updatedAt", "archived", "teams")


class ReferenceData(SyncRun):
    def read_account(self) -> dict | None:
        """The account details, or None when the token may not read them."""
        try:
            details = self.client.account_details()
        except MissingScopeError:
            self.warn("Could not read the account details (scope); the home currency falls back to deal currencies.")
            return None
        return details  # (an object with a portalId: the client retries any other answer, client.is_account)

    def check_portal(self, details: dict | None) -> None:
        """One store, one portal: records of two portals mixed in one store cannot be told apart."""
        theirs = (details or {}).get("portalId")
        ours = stored_portal_id(self.db.conn)
        if ours is None or theirs in (None, "") or str(theirs) == ours:
            return
        raise StoreError(f"The store {describe(self.config.store_path)} holds HubSpot portal {ours}, but the token reads "
                         f"portal {theirs}; give that portal a store of its own with another --db path.")

    def save_account(self, details: dict) -> None:
        names = ("portalId", "accountType", "timeZone", "companyCurrency", "utcOffset", "utcOffsetMilliseconds",
                 "uiDomain", "dataHostingLocation")
        values = [self._whole("the account details", details.get(k)) if k == "utcOffsetMilliseconds" else details.get(k)
                  for k in names]
        row = dict(zip(names, self._bindable("the account details", values)))
        row["additionalCurrencies"] = save_json(details.get("additionalCurrencies"))
        with transaction(self.db) as conn:
            conn.execute("DELETE FROM account")
            conn.execute(f"INSERT INTO account ({', '.join(map(quote, row))}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))

    def sync_owners(self) -> None:
        rows = []
        try:
            for archived in (False, True):  # deactivated owners keep historic records resolvable
                after, seen = None, set()
                while True:
                    page = self.client.owners_page(after=after, archived=archived)
                    for o in _items(page):
                        if record_id(o) is None:
                            continue
                        rows.append(self._bindable("owners", [
                            record_id(o), o.get("email"), o.get("firstName"), o.get("lastName"), o.get("type"),
                            self._whole("owners", o.get("userId")), self._whole("owners", o.get("userIdIncludingInactive")),
                            o.get("createdAt"),
                            o.get("updatedAt"), 1 if archived else 0, save_json(o.get("teams"))]))
                    after = follow(_next_after(page), seen, "the owners")
                    if not after:
                        break
        except MissingScopeError:
            self.warn("Skipped owners: the token lacks crm.objects.owners.read; --by owner shows owner ids only.")
            return
        with transaction(self.db) as conn:
            conn.executemany(replace_sql("owners", OWNER_COLUMNS, key=("id",)), rows)
        self.results["owners"] = ObjectResult(written=len(rows), mode="full")

    def sync_pipelines(self, object_type: str) -> None:
        try:
            payload = self.client.pipelines(object_type)
        except MissingScopeError:
            return  # the object itself will be skipped with its own warning
        pipelines, stages = [], []
        for p in _items(payload):
            if record_id(p) is None:
                continue
            pipelines.append(self._bindable(f"{object_type} pipelines", [
                object_type, record_id(p), p.get("label"), self._whole(f"{object_type} pipelines", p.get("displayOrder")),
                int(bool(p.get("archived"))),
                p.get("createdAt"), p.get("updatedAt")]))
            for s in _items(p, "stages"):
                if record_id(s) is None:
                    continue
                meta = s.get("metadata") if isinstance(s.get("metadata"), dict) else {}
                closed = str(meta.get("isClosed", "")).lower()
                probability = meta.get("probability")
                stages.append(self._bindable(f"{object_type} pipelines", [
                    object_type, record_id(p), record_id(s), s.get("label"),
                    self._whole(f"{object_type} pipelines", s.get("displayOrder")),
                    int(bool(s.get("archived"))), 1 if closed == "true" else 0 if closed == "false" else None,
                    parse_number(str(probability)) if isinstance(probability, (str, int, float)) else None,
                    meta.get("ticketState"), save_json(meta)]))
        with transaction(self.db) as conn:
            conn.execute("DELETE FROM pipelines WHERE object_type = ?", [object_type])
            conn.execute("DELETE FROM pipeline_stages WHERE object_type = ?", [object_type])
            conn.executemany("INSERT INTO pipelines VALUES (?,?,?,?,?,?,?)", pipelines)
            conn.executemany("INSERT INTO pipeline_stages VALUES (?,?,?,?,?,?,?,?,?,?)", stages)

    def _whole(self, what: str, value):
        """A field HubSpot documents as a whole number, as the store's integer column can hold it.

        SQLite keeps whatever came (a list or object as JSON text, `_bindable`). A PostgreSQL
        integer column refuses anything but an integral number or its digits, so there the
        rest (text, a fraction, a flag, a list) is stored empty, with one warning per kind of
        data, instead of failing the run (the field feeds no KPI)."""
        if dialect_of(self.db).keeps_raw_in_typed_columns:
            return value
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value.strip())
        warning = f"HubSpot sent {what} with a field that should be a whole number but is not; it is stored empty."
        if warning not in self.warnings:
            self.warn(warning)
        return None

    def _bindable(self, what: str, row: list) -> list:
        """Reference data as SQLite can store it: a list or object where HubSpot promises text
        or a number is kept as JSON text, and the run says so once for each kind of data."""
        if not any(isinstance(v, (dict, list)) for v in row):
            return row
        warning = (f"HubSpot sent {what} with a list or object where text or a number belongs; "
                   "those fields are stored as JSON text.")
        if warning not in self.warnings:
            self.warn(warning)
        return [save_json(v) if isinstance(v, (dict, list)) else v for v in row]
