"""The catalogue of HubSpot objects, as data.

One declaration per CRM object: its table, its cursor property, its scope, and the properties
the sync reads (with their HubSpot type, used when the portal's property list does not
describe them, as happens with the `hs_v2_*` lifecycle properties). One generic sync loop
reads these; the config's object list and the metrics' tables derive from them. Which KPIs
read which object and property is the metrics catalogue's to say (metrics/catalog.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CrmObject:
    name: str                    # API name and table name
    singular: str                # used in association column names
    modified_property: str       # search filter/sort property for incremental syncs
    scope: str
    properties: dict[str, str]   # property -> HubSpot type (fallback when undescribed)


def _lifecycle_dates(prefixes: tuple[str, ...], stages: tuple[str, ...]) -> dict[str, str]:
    return {f"{p}{s}": "datetime" for p in prefixes for s in stages}


# Properties every object shares (the "common properties" of the issue).
_COMMON = {"hs_object_id": "number", "createdate": "datetime", "hs_lastmodifieddate": "datetime",
           "hubspot_owner_id": "enumeration", "hs_merged_object_ids": "enumeration"}

_LIFECYCLE = {
    "lifecyclestage": "enumeration",
    "hs_analytics_source": "enumeration",
    **_lifecycle_dates(("hs_lifecyclestage_", "hs_v2_date_entered_"), ("lead", "customer")),
}
# The legacy names end in `_date`; the v2 names do not.
_LIFECYCLE = {k + ("_date" if k.startswith("hs_lifecyclestage_") else ""): v for k, v in _LIFECYCLE.items()}

CONTACTS = CrmObject(
    name="contacts", singular="contact", modified_property="lastmodifieddate",
    scope="crm.objects.contacts.read",
    properties={**_COMMON, "lastmodifieddate": "datetime", "email": "string", "firstname": "string",
                "lastname": "string", "hs_lead_status": "enumeration", "associatedcompanyid": "number",
                **_LIFECYCLE},
)
COMPANIES = CrmObject(
    name="companies", singular="company", modified_property="hs_lastmodifieddate",
    scope="crm.objects.companies.read",
    properties={**_COMMON, "name": "string", "domain": "string", "industry": "enumeration",
                "annualrevenue": "number", **_LIFECYCLE},
)
DEALS = CrmObject(
    name="deals", singular="deal", modified_property="hs_lastmodifieddate",
    scope="crm.objects.deals.read",
    properties={**_COMMON, "dealname": "string", "amount": "number", "amount_in_home_currency": "number",
                "deal_currency_code": "enumeration", "hs_exchange_rate": "number", "dealstage": "enumeration",
                "pipeline": "enumeration", "closedate": "datetime", "hs_is_closed": "bool",
                "hs_is_closed_won": "bool", "hs_is_closed_lost": "bool", "dealtype": "enumeration",
                "days_to_close": "number", "hs_analytics_source": "enumeration"},
)
TICKETS = CrmObject(
    name="tickets", singular="ticket", modified_property="hs_lastmodifieddate",
    scope="tickets",
    properties={**_COMMON, "subject": "string", "content": "string", "hs_pipeline": "enumeration",
                "hs_pipeline_stage": "enumeration", "closed_date": "datetime",
                "first_agent_reply_date": "datetime", "hs_first_agent_message_sent_at": "datetime",
                "time_to_first_agent_reply": "number", "time_to_close": "number",
                "hs_ticket_priority": "enumeration", "hs_ticket_category": "enumeration",
                "source_type": "enumeration"},
)
FEEDBACK_SUBMISSIONS = CrmObject(
    name="feedback_submissions", singular="feedback_submission",
    modified_property="hs_lastmodifieddate", scope="crm.objects.feedback_submissions.read",
    properties={"hs_object_id": "number", "hs_createdate": "datetime", "hs_lastmodifieddate": "datetime",
                "hs_survey_id": "string", "hs_survey_name": "string", "hs_survey_type": "enumeration",
                "hs_survey_channel": "enumeration", "hs_value": "string", "hs_response_group": "enumeration",
                "hs_content": "string", "hs_submission_name": "string", "hs_submission_timestamp": "datetime",
                "hs_contact_id": "string", "hs_sentiment": "enumeration"},
)

OBJECTS: dict[str, CrmObject] = {o.name: o for o in (CONTACTS, COMPANIES, DEALS, TICKETS, FEEDBACK_SUBMISSIONS)}
OBJECT_NAMES: tuple[str, ...] = tuple(OBJECTS)

# The objects that can be the customer unit (`metrics.customer_object`).
CUSTOMER_UNITS = ("contacts", "companies")


@dataclass(frozen=True)
class AssociationPair:
    from_object: str
    to_object: str

    @property
    def table(self) -> str:
        return f"associations_{self.from_object}_{self.to_object}"

    @property
    def from_column(self) -> str:
        return f"{OBJECTS[self.from_object].singular}_id"

    @property
    def to_column(self) -> str:
        return f"{OBJECTS[self.to_object].singular}_id"


# Each pair is read in one direction only: associations are symmetric in HubSpot.
ASSOCIATIONS = (
    AssociationPair("deals", "contacts"),
    AssociationPair("deals", "companies"),
    AssociationPair("contacts", "companies"),
    AssociationPair("tickets", "contacts"),
    AssociationPair("feedback_submissions", "contacts"),
)

PIPELINE_OBJECTS = ("deals", "tickets")
OWNERS_SCOPE = "crm.objects.owners.read"
