"""HubSpot's REST endpoints over a Portal, independent of HTTP: a request in, (status, body) out.

Shapes, limits and error bodies follow HubSpot's public v3/v4 CRM API reference (developers.hubspot.com);
where HubSpot's behaviour is undocumented the choice is noted next to the code.
"""

from __future__ import annotations

import re
import uuid
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from .formats import decode_cursor, encode_cursor, fmt_datetime, from_ms
from .schema import OBJECT_TYPES, PIPELINES, STATIC_OPTIONS
from .search import SearchError, SearchIndex
from .store import ARCHIVED, LIVE, ROLE_BITS, ROLE_MASK, Portal, Table, object_name

LIST_MAX, HISTORY_MAX, SEARCH_MAX, SEARCH_WINDOW = 100, 50, 200, 10_000
BATCH_MAX, ASSOCIATION_BATCH_MAX, ASSOCIATIONS_PER_RECORD = 100, 1000, 500
EMBEDDED_ASSOCIATIONS_MAX = 100


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None):
        super().__init__(body.get("message"))
        self.status, self.body, self.headers = status, body, headers or {}


def error(category: str, message: str, **extra: Any) -> dict:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}


def validation(message: str, **extra: Any) -> ApiError:
    return ApiError(400, error("VALIDATION_ERROR", message, **extra))


def missing_scopes(groups: list[list[str]]) -> ApiError:
    """HubSpot's 403: one errors[] entry per unmet requirement, listing the scopes that satisfy it."""
    return ApiError(403, error(
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about required scopes "
        "here: https://developers.hubspot.com/scopes.",
        errors=[{"message": "One or more of the following scopes are required.",
                 "context": {"requiredGranularScopes": group}} for group in groups],
        links={"scopes": "https://developers.hubspot.com/scopes"}))


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    base_url: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: str
    search: bool = False          # governed by the per-second search limit, no rate-limit headers


def _r(method: str, path: str, handler: str, search: bool = False) -> Route:
    return Route(method, re.compile(path.replace("{", "(?P<").replace("}", ">[^/]+)") + "/?$"), handler, search)


ROUTES = (
    _r("GET", "/crm/v3/objects/{type}", "list_objects"),
    _r("POST", "/crm/v3/objects/{type}/search", "search", search=True),
    _r("POST", "/crm/v3/objects/{type}/batch/read", "batch_read"),
    _r("GET", "/crm/v3/objects/{type}/{id}", "get_object"),
    _r("POST", "/crm/v4/associations/{type}/{to}/batch/read", "associations_batch"),
    _r("GET", "/crm/v4/objects/{type}/{id}/associations/{to}", "associations_one"),
    _r("GET", "/crm/v3/pipelines/{type}", "pipelines"),
    _r("GET", "/crm/v3/pipelines/{type}/{pipeline}", "pipeline"),
    _r("GET", "/crm/v3/pipelines/{type}/{pipeline}/stages", "stages"),
    _r("GET", "/crm/v3/owners", "owners"),
    _r("GET", "/crm/v3/properties/{type}", "properties"),
    _r("GET", "/crm/v3/properties/{type}/{name}", "property"),
    _r("GET", "/account-info/v3/details", "account"),
    _r("GET", "/account-info/v3/api-usage/daily/private-apps", "usage"),
    _r("GET", "/settings/v3/currencies/company-currency", "company_currency"),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for a request; raises 405 when the path exists for another method."""
    other = False
    for route in ROUTES:
        m = route.pattern.match(path)
        if m:
            if route.method == method:
                return route, m.groupdict()
            other = True
    if other:
        raise ApiError(405, error("VALIDATION_ERROR", f"This simulated portal is read-only: {method} {path} "
                                                      "is not supported"))
    return None


def resolve_type(name: str) -> str:
    try:
        return object_name(name)
    except KeyError:
        raise ApiError(400, error("OBJECT_NOT_FOUND", f"Unable to infer object type from: {name}")) from None


def required_scopes(route: Route, params: dict[str, str]) -> list[list[str]]:
    """Per requirement, the scopes that satisfy it."""
    if route.handler in ("owners",):
        return [["crm.objects.owners.read"]]
    if route.handler in ("account", "usage"):
        return []
    if route.handler == "company_currency":
        return [["settings.currencies.read"]]
    types = [resolve_type(params["type"])] + ([resolve_type(params["to"])] if "to" in params else [])
    if route.handler in ("properties", "property"):
        return [[OBJECT_TYPES[types[0]].scope, f"crm.schemas.{types[0]}.read"]]
    return [[OBJECT_TYPES[t].scope] for t in dict.fromkeys(types)]


def _one(query: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    values = query.get(name)
    return values[-1] if values else default


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "1", "yes")


def _limit(text: str | None, default: int, maximum: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise validation(f"Invalid limit: {text!r} is not an integer") from None
    if value < 1 or value > maximum:
        raise validation(f"limit must be between 1 and {maximum}, got {value}")
    return value


def _names(values: Any) -> list[str]:
    """Property names from repeated params, comma-separated params or a JSON list."""
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values or []:
        if isinstance(v, str):
            out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


class Api:
    def __init__(self, portal: Portal, *, feedback_enabled: bool = True):
        self.portal = portal
        self.feedback_enabled = feedback_enabled
        self.index = SearchIndex(portal)
        # object -> (what its definitions were built from, the definitions as served)
        self._property_lists: dict[str, tuple[tuple, list[dict]]] = {}

    def handle(self, route: Route, params: dict[str, str], call: Call) -> tuple[int, Any]:
        return getattr(self, route.handler)(call, **params)

    # --- records ------------------------------------------------------------------------

    def _selection(self, t: Table, requested: list[str]) -> list:
        otype = t.otype
        names = requested or list(otype.default_properties)
        return t.selection(dict.fromkeys(["hs_object_id", otype.created, otype.modified, *names]))

    def _objects(self, t: Table, positions: list[int], selection: list, archived: bool = False,
                 history: list | None = None) -> list[dict]:
        created, modified = t.otype.created, t.otype.modified
        out = []
        for p, props in zip(positions, t.render_many(positions, selection)):
            rec = {"id": str(t.ids[p]), "properties": props, "createdAt": props[created],
                   "updatedAt": props[modified], "archived": archived}
            if archived:
                rec["archivedAt"] = fmt_datetime(t.archived_at[p])
            out.append(rec)
        if history:
            for rec, p, values in zip(out, positions, t.render_many(positions, history)):
                stamp = rec["updatedAt"]
                rec["propertiesWithHistory"] = {
                    name: [] if v is None else [{"value": v, "timestamp": stamp, "sourceType": "CRM_UI"}]
                    for name, v in values.items()}
        return out

    def list_objects(self, call: Call, type: str) -> tuple[int, dict]:
        name = resolve_type(type)
        t = self.portal.tables[name]
        q = call.query
        history_names = _names(q.get("propertiesWithHistory"))
        limit = _limit(_one(q, "limit"), 10, HISTORY_MAX if history_names else LIST_MAX)
        archived = _bool(_one(q, "archived"))
        embed = [resolve_type(x) for x in _names(q.get("associations"))]
        after = _one(q, "after")
        with self.portal.lock:
            selection = self._selection(t, _names(q.get("properties")))
            history = t.selection(history_names) if history_names else None
            ids = t.archived if archived else t.live
            start = 0
            if after:
                cursor = decode_cursor(after)
                if cursor is None:
                    raise validation(f"Invalid paging cursor after={after!r}")
                start = bisect_left(ids, cursor)
            page = ids[start:start + limit]
            pos = t.pos
            results = self._objects(t, [pos[rid] for rid in page], selection, archived, history)
            if embed:
                for rec, rid in zip(results, page):
                    rec["associations"] = self._embedded(name, pos[rid], embed)
            body: dict[str, Any] = {"results": results}
            if start + limit < len(ids):
                nxt = encode_cursor(ids[start + limit])
                link_query = {k: v for k, v in q.items() if k != "after"}
                link_query["after"] = [nxt]
                body["paging"] = {"next": {"after": nxt, "link": f"{call.base_url}{call.path}?"
                                           f"{urlencode(link_query, doseq=True)}"}}
        return 200, body

    def _embedded(self, name: str, p: int, targets: list[str]) -> dict:
        """v3 `associations=` embedding: ids with v3 type names, first 100 per type only."""
        out = {}
        for other in targets:
            adj = self.portal.adj.get((name, other))
            live = self._live_entries(other, adj.get(p) if adj else [])
            if not live:
                continue
            a, b = OBJECT_TYPES[name].singular, OBJECT_TYPES[other].singular
            items = []
            for e in live[:EMBEDDED_ASSOCIATIONS_MAX]:
                rid, role = str(e >> ROLE_BITS), e & ROLE_MASK
                types = self.portal.association_types(name, other, role)
                if any(x["label"] == "Primary" for x in types):
                    items.append({"id": rid, "type": f"{a}_to_{b}"})
                items.append({"id": rid, "type": f"{a}_to_{b}_unlabeled" if b == "company" or a == "company"
                              else f"{a}_to_{b}"})
            section: dict[str, Any] = {"results": items}
            if len(live) > EMBEDDED_ASSOCIATIONS_MAX:
                section["paging"] = {"next": {"after": encode_cursor(live[EMBEDDED_ASSOCIATIONS_MAX] >> ROLE_BITS),
                                              "link": None}}
            out[OBJECT_TYPES[other].name] = section
        return out

    def get_object(self, call: Call, type: str, id: str) -> tuple[int, dict]:
        name = resolve_type(type)
        t = self.portal.tables[name]
        archived = _bool(_one(call.query, "archived"))
        with self.portal.lock:
            p = self._find(t, id, _one(call.query, "idProperty"), archived)
            if p is None:
                raise ApiError(404, error("OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric."))
            selection = self._selection(t, _names(call.query.get("properties")))
            history_names = _names(call.query.get("propertiesWithHistory"))
            return 200, self._objects(t, [p], selection, archived, t.selection(history_names) or None)[0]

    def _find(self, t: Table, value: Any, id_property: str | None, archived: bool) -> int | None:
        if not id_property or id_property == "hs_object_id":
            return t.lookup(value, archived)
        col = t.cols.get(id_property)
        if col is None:
            return None
        wanted = str(value).lower()
        want_status = ARCHIVED if archived else LIVE
        for p, v in enumerate(col):
            if isinstance(v, str) and v.lower() == wanted and t.status[p] == want_status:
                return p
        return None

    def batch_read(self, call: Call, type: str) -> tuple[int, dict]:
        name = resolve_type(type)
        t = self.portal.tables[name]
        body = call.body if isinstance(call.body, dict) else None
        if body is None or not isinstance(body.get("inputs"), list):
            raise validation("Invalid input JSON: inputs is required")
        inputs = body["inputs"]
        if len(inputs) > BATCH_MAX:
            raise validation(f"Batch input limit exceeded: {len(inputs)} inputs, the maximum is {BATCH_MAX}")
        archived = _bool(_one(call.query, "archived"))
        started = fmt_datetime(self.portal.now_ms)
        found, missing = {}, []
        with self.portal.lock:
            selection = self._selection(t, _names(body.get("properties")))
            history = t.selection(_names(body.get("propertiesWithHistory"))) or None
            for item in inputs:
                value = item.get("id") if isinstance(item, dict) else None
                p = self._find(t, value, body.get("idProperty"), archived)
                if p is None:
                    missing.append(str(value))
                else:
                    found[p] = None
            results = self._objects(t, list(found), selection, archived, history)
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                               "completedAt": fmt_datetime(self.portal.now_ms)}
        if not missing:
            return 200, out
        out["numErrors"] = 1
        out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                          "message": f"Could not get some {OBJECT_TYPES[name].singular.upper()} objects, they may "
                                     "be deleted or not exist. Check that ids are valid.",
                          "context": {"ids": missing}, "links": {}, "errors": []}]
        return 207, out

    # --- search ---------------------------------------------------------------------------

    def search(self, call: Call, type: str) -> tuple[int, dict]:
        name = resolve_type(type)
        t = self.portal.tables[name]
        body = call.body if call.body is not None else {}
        if not isinstance(body, dict):
            raise validation("Invalid input JSON: the search request must be an object")
        try:
            limit = int(body.get("limit", 10) if body.get("limit") is not None else 10)
            after = int(body.get("after") or 0)
        except (TypeError, ValueError):
            raise validation("limit and after must be integers") from None
        if limit < 0 or limit > SEARCH_MAX:
            raise validation(f"limit must be between 0 and {SEARCH_MAX}, got {limit}")
        if after < 0:
            raise validation(f"after must not be negative, got {after}")
        if after >= SEARCH_WINDOW:
            # The search index serves the first 10,000 results of a query and no more.
            raise validation(f"Search results are limited to {SEARCH_WINDOW} per query: after={after} is past "
                             "the last result that can be returned. Narrow the filters to page further.")
        with self.portal.lock:
            try:
                matches = self.index.matches(name, body, call.context.get("index_lag_ms", 0))
            except SearchError as exc:
                raise validation(str(exc)) from None
            selection = self._selection(t, _names(body.get("properties")))
            results = self._objects(t, matches[after:min(after + limit, SEARCH_WINDOW)], selection)
        out: dict[str, Any] = {"total": len(matches), "results": results}
        if after + limit < len(matches):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return 200, out

    # --- associations ---------------------------------------------------------------------

    def _live_entries(self, to_name: str, entries: list[int]) -> list[int]:
        live = self.portal.tables[to_name].is_live_id
        return [e for e in entries if live(e >> ROLE_BITS)]

    def _associations_of(self, a: str, b: str, rid: Any, after: str | None, limit: int) -> tuple[list, str | None]:
        """(entries page, next cursor) for one live record; KeyError when it does not exist."""
        t = self.portal.tables[a]
        p = t.lookup(rid)
        if p is None:
            raise KeyError(rid)
        adj = self.portal.adj.get((a, b))
        entries = self._live_entries(b, adj.get(p)) if adj else []
        start = 0
        if after:
            cursor = decode_cursor(after)
            if cursor is None:
                raise validation(f"Invalid paging cursor after={after!r}")
            start = bisect_left(entries, cursor << ROLE_BITS)
        page = entries[start:start + limit]
        nxt = encode_cursor(entries[start + limit] >> ROLE_BITS) if start + limit < len(entries) else None
        return page, nxt

    def _to_items(self, a: str, b: str, page: list[int]) -> list[dict]:
        roles = self.portal._roles(a, b)
        return [{"toObjectId": e >> ROLE_BITS, "associationTypes": roles[e & ROLE_MASK]} for e in page]

    def associations_batch(self, call: Call, type: str, to: str) -> tuple[int, dict]:
        a, b = resolve_type(type), resolve_type(to)
        body = call.body if isinstance(call.body, dict) else None
        if body is None or not isinstance(body.get("inputs"), list):
            raise validation("Invalid input JSON: inputs is required")
        inputs = body["inputs"]
        if len(inputs) > ASSOCIATION_BATCH_MAX:
            raise validation(f"Batch input limit exceeded: {len(inputs)} inputs, the maximum is "
                             f"{ASSOCIATION_BATCH_MAX}")
        started = fmt_datetime(self.portal.now_ms)
        results, errors = [], []
        sa, sb = OBJECT_TYPES[a].singular, OBJECT_TYPES[b].singular
        with self.portal.lock:
            for item in inputs:
                rid = str(item.get("id")) if isinstance(item, dict) else str(item)
                after = item.get("after") if isinstance(item, dict) else None
                try:
                    page, nxt = self._associations_of(a, b, rid, after, ASSOCIATIONS_PER_RECORD)
                except KeyError:
                    page, nxt = [], None
                if not page and not after:
                    # HubSpot reports records without associations (or unknown ids) as errors.
                    errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                                   "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                                   "message": f"No {sb} is associated with {sa} {rid}.",
                                   "context": {"fromObjectId": [rid], "fromObjectType": [sa], "toObjectType": [sb]},
                                   "links": {}, "errors": []})
                    continue
                result: dict[str, Any] = {"from": {"id": rid}, "to": self._to_items(a, b, page)}
                if nxt:
                    result["paging"] = {"next": {"after": nxt, "link": None}}
                results.append(result)
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                               "completedAt": fmt_datetime(self.portal.now_ms)}
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
            return 207, out
        return 200, out

    def associations_one(self, call: Call, type: str, id: str, to: str) -> tuple[int, dict]:
        a, b = resolve_type(type), resolve_type(to)
        limit = _limit(_one(call.query, "limit"), ASSOCIATIONS_PER_RECORD, ASSOCIATIONS_PER_RECORD)
        with self.portal.lock:
            try:
                page, nxt = self._associations_of(a, b, id, _one(call.query, "after"), limit)
            except KeyError:
                page, nxt = [], None
            out: dict[str, Any] = {"results": self._to_items(a, b, page)}
        if nxt:
            out["paging"] = {"next": {"after": nxt, "link": None}}
        return 200, out

    # --- settings-like resources ------------------------------------------------------------

    def _pipeline_json(self, object_type: str) -> list[dict]:
        custom_created = fmt_datetime(self.portal.created_ms - 500 * 86_400_000)
        out = []
        for pid, label, order, stages in PIPELINES.get(object_type, ()):
            created = "1970-01-01T00:00:00Z" if order == 0 else custom_created
            out.append({"id": pid, "label": label, "displayOrder": order, "archived": False,
                        "createdAt": created, "updatedAt": custom_created,
                        "stages": [{"id": sid, "label": slabel, "displayOrder": i, "metadata": dict(meta),
                                    "archived": False, "createdAt": created, "updatedAt": custom_created,
                                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
                                   for i, (sid, slabel, meta) in enumerate(stages)]})
        return out

    def pipelines(self, call: Call, type: str) -> tuple[int, dict]:
        return 200, {"results": self._pipeline_json(resolve_type(type))}

    def pipeline(self, call: Call, type: str, pipeline: str) -> tuple[int, dict]:
        for p in self._pipeline_json(resolve_type(type)):
            if p["id"] == pipeline:
                return 200, p
        raise ApiError(404, error("OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline}"))

    def stages(self, call: Call, type: str, pipeline: str) -> tuple[int, dict]:
        return 200, {"results": self.pipeline(call, type, pipeline)[1]["stages"]}

    def owners(self, call: Call) -> tuple[int, dict]:
        q = call.query
        # The max page size of the owners API is not documented; 500 is accepted here.
        limit = _limit(_one(q, "limit"), 100, 500)
        archived = _bool(_one(q, "archived"))
        email = (_one(q, "email") or "").lower()
        owners = [{k: v for k, v in o.items() if not k.startswith("_")} for o in self.portal.owners
                  if o["archived"] == archived and (not email or (o["email"] or "").lower() == email)]
        owners.sort(key=lambda o: int(o["id"]))
        start = 0
        after = _one(q, "after")
        if after:
            cursor = decode_cursor(after)
            if cursor is None:
                raise validation(f"Invalid paging cursor after={after!r}")
            start = bisect_left([int(o["id"]) for o in owners], cursor)
        body: dict[str, Any] = {"results": owners[start:start + limit]}
        if start + limit < len(owners):
            nxt = encode_cursor(int(owners[start + limit]["id"]))
            body["paging"] = {"next": {"after": nxt, "link": f"{call.base_url}/crm/v3/owners/?after={nxt}"}}
        return 200, body

    def _options(self, key: str | None) -> list[tuple[str, str]]:
        if key is None:
            return []
        if key in STATIC_OPTIONS:
            return STATIC_OPTIONS[key]
        if key == "owners":
            return [(o["id"], f"{o['firstName']} {o['lastName']}") for o in self.portal.owners if not o["archived"]]
        object_type = "deals" if key.startswith("deal") else "tickets"
        pipelines = PIPELINES[object_type]
        if key.endswith("pipelines"):
            return [(pid, label) for pid, label, _, _ in pipelines]
        return [(sid, f"{label} ({plabel})") for _, plabel, _, stages in pipelines for sid, label, _ in stages]

    def _property_list(self, name: str) -> list[dict]:
        t = self.portal.tables[name]
        # Everything a definition is built from: a property redefined in place (same count) or
        # an owner renamed must show at once. The props are frozen, so equal means unchanged.
        source = (tuple(t.props.values()), tuple(self._options("owners")))
        cached = self._property_lists.get(name)
        if cached is not None and cached[0] == source:
            return cached[1]
        custom_created = fmt_datetime(self.portal.created_ms - 400 * 86_400_000)
        out = []
        for order, prop in enumerate(t.props.values()):
            if not prop.listed:
                continue  # hs_v2_* lifecycle properties: readable, but not listed by HubSpot
            d: dict[str, Any] = {
                "updatedAt": custom_created, "createdAt": custom_created if not prop.hubspot_defined else
                "2019-08-06T02:41:08.029Z", "name": prop.name, "label": prop.label, "type": prop.type,
                "fieldType": prop.field_type, "description": "", "groupName": prop.group,
                "options": [{"label": label, "value": value, "description": "", "displayOrder": i, "hidden": False}
                            for i, (value, label) in enumerate(self._options(prop.options))],
                "displayOrder": order if not prop.hubspot_defined else -1, "calculated": prop.calculated,
                "externalOptions": prop.options in ("owners", "deal_pipelines", "deal_stages", "ticket_pipelines",
                                                    "ticket_stages"),
                "hasUniqueValue": prop.name == "hs_object_id", "hidden": False,
                "modificationMetadata": {"archivable": not prop.hubspot_defined,
                                         "readOnlyDefinition": prop.hubspot_defined,
                                         "readOnlyValue": prop.read_only},
                "formField": not prop.read_only, "dataSensitivity": "non_sensitive"}
            if prop.hubspot_defined:
                d["hubspotDefined"] = True  # custom properties carry no hubspotDefined key at all
            else:
                d["createdUserId"] = d["updatedUserId"] = "9586504"
            if prop.name in ("amount", "amount_in_home_currency", "annualrevenue"):
                d["showCurrencySymbol"] = True
            out.append(d)
        self._property_lists[name] = (source, out)
        return out

    def properties(self, call: Call, type: str) -> tuple[int, dict]:
        name = resolve_type(type)
        if _bool(_one(call.query, "archived")) or _one(call.query, "dataSensitivity", "non_sensitive") != \
                "non_sensitive":
            return 200, {"results": []}
        with self.portal.lock:
            props = self._property_list(name)
        wanted = set(_names(call.query.get("properties")))
        return 200, {"results": [p for p in props if not wanted or p["name"] in wanted]}

    def property(self, call: Call, type: str, name: str) -> tuple[int, dict]:
        t = self.portal.tables[resolve_type(type)]
        with self.portal.lock:
            for p in self._property_list(t.otype.name):
                if p["name"] == name:
                    return 200, p
        raise ApiError(404, error("OBJECT_NOT_FOUND", f"Unable to find property {name}"))

    def account(self, call: Call) -> tuple[int, dict]:
        portal = self.portal
        offset = from_ms(portal.now_ms).astimezone(ZoneInfo(portal.time_zone)).utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        return 200, {"portalId": portal.portal_id, "accountType": "STANDARD", "timeZone": portal.time_zone,
                     "companyCurrency": portal.home_currency, "additionalCurrencies": portal.additional_currencies,
                     "utcOffset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
                     "utcOffsetMilliseconds": minutes * 60_000, "uiDomain": "app-eu1.hubspot.com",
                     "dataHostingLocation": "eu1"}

    def usage(self, call: Call) -> tuple[int, dict]:
        portal = self.portal
        tz = ZoneInfo(portal.time_zone)
        local = from_ms(portal.now_ms).astimezone(tz)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return 200, {"results": [{
            "name": "private-apps-api-calls-daily", "usageLimit": call.context.get("daily_limit"),
            "currentUsage": call.context.get("daily_used", 0), "collectedAt": fmt_datetime(portal.now_ms),
            "fetchStatus": "SUCCESS", "resetsAt": midnight.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")}]}

    def company_currency(self, call: Call) -> tuple[int, dict]:
        return 200, {"id": self.portal.home_currency, "createdAt": fmt_datetime(self.portal.created_ms)}

