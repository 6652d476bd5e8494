"""What the simulated portal holds, as data: object types, their properties, pipelines,
association type ids and option lists.

Values mirror a real HubSpot portal (internal names, types, field types, the v4 association
type ids from HubSpot's "Association type ID values" table) so that code written against the
portal works unchanged against HubSpot.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Prop:
    name: str
    type: str                 # string, number, date, datetime, enumeration, bool
    field_type: str
    label: str
    group: str
    calculated: bool = False
    read_only: bool = False
    hubspot_defined: bool = True
    listed: bool = True       # False: readable but absent from the properties API (hs_v2_*)
    options: str | None = None  # key of an option list (static or built per portal)


@dataclass(frozen=True)
class ObjectType:
    name: str
    type_id: str
    singular: str
    scope: str
    created: str              # create-date property
    modified: str             # last-modified property
    default_properties: tuple[str, ...]
    search_text: tuple[str, ...]  # properties a free-text `query` searches
    id_base: int
    id_step: int
    props: tuple[Prop, ...] = field(default=())

    def prop(self, name: str) -> Prop | None:
        return self.prop_map.get(name)

    @property
    def prop_map(self) -> dict[str, Prop]:
        return {p.name: p for p in self.props}


def _p(name, type_, field_type, label, group, **kw) -> Prop:
    return Prop(name, type_, field_type, label, group, **kw)


def _ro(name, type_, field_type, label, group, **kw) -> Prop:
    return Prop(name, type_, field_type, label, group, calculated=kw.pop("calculated", True), read_only=True, **kw)


def _lifecycle(group: str) -> tuple[Prop, ...]:
    return (
        _p("lifecyclestage", "enumeration", "radio", "Lifecycle Stage", group, options="lifecyclestage"),
        _ro("hs_analytics_source", "enumeration", "select", "Original Traffic Source", "analyticsinformation",
            options="hs_analytics_source"),
        _ro("hs_lifecyclestage_lead_date", "datetime", "date", "Date entered 'Lead'", group),
        _ro("hs_lifecyclestage_customer_date", "datetime", "date", "Date entered 'Customer'", group),
        _ro("hs_lifecyclestage_marketingqualifiedlead_date", "datetime", "date",
            "Date entered 'Marketing Qualified Lead'", group),
        _ro("hs_lifecyclestage_salesqualifiedlead_date", "datetime", "date", "Date entered 'Sales Qualified Lead'",
            group),
        _ro("hs_lifecyclestage_opportunity_date", "datetime", "date", "Date entered 'Opportunity'", group),
        # Readable, but real portals leave these out of GET /crm/v3/properties.
        _ro("hs_v2_date_entered_lead", "datetime", "date",
            "Date entered 'Lead (Lifecycle Stage Pipeline)'", group, listed=False),
        _ro("hs_v2_date_entered_customer", "datetime", "date",
            "Date entered 'Customer (Lifecycle Stage Pipeline)'", group, listed=False),
    )


def _common(group: str, created_label: str, modified: str, owner_label: str) -> tuple[Prop, ...]:
    return (
        _ro("hs_object_id", "number", "number", "Record ID", group),
        _ro("createdate", "datetime", "date", created_label, group, calculated=False),
        _ro(modified, "datetime", "date", "Last Modified Date", group),
        _p("hubspot_owner_id", "enumeration", "select", owner_label, group, options="owners"),
        _ro("hs_merged_object_ids", "enumeration", "checkbox", "Merged Record IDs", group, calculated=False),
    )


CONTACTS = ObjectType(
    name="contacts", type_id="0-1", singular="contact", scope="crm.objects.contacts.read",
    created="createdate", modified="lastmodifieddate",
    default_properties=("firstname", "lastname", "email"),
    search_text=("firstname", "lastname", "email"),
    id_base=51, id_step=50,
    props=_common("contactinformation", "Create Date", "lastmodifieddate", "Contact owner") + (
        _p("email", "string", "text", "Email", "contactinformation"),
        _p("firstname", "string", "text", "First Name", "contactinformation"),
        _p("lastname", "string", "text", "Last Name", "contactinformation"),
        _p("jobtitle", "string", "text", "Job Title", "contactinformation"),
        _p("phone", "string", "phonenumber", "Phone Number", "contactinformation"),
        _p("city", "string", "text", "City", "contactinformation"),
        _p("country", "string", "text", "Country/Region", "contactinformation"),
        _p("company", "string", "text", "Company Name", "contactinformation"),
        _ro("hs_email_domain", "string", "text", "Email Domain", "contactinformation"),
        _ro("num_associated_deals", "number", "number", "Number of Associated Deals", "deal_information"),
        _p("hs_lead_status", "enumeration", "radio", "Lead Status", "sales_properties", options="hs_lead_status"),
        _ro("associatedcompanyid", "number", "number", "Primary Associated Company ID", "contactinformation",
            calculated=False),
        *_lifecycle("contactinformation"),
        _p("churn_date", "date", "date", "Churn date", "contactinformation", hubspot_defined=False),
    ),
)

COMPANIES = ObjectType(
    name="companies", type_id="0-2", singular="company", scope="crm.objects.companies.read",
    created="createdate", modified="hs_lastmodifieddate",
    default_properties=("name", "domain"),
    search_text=("name", "domain"),
    id_base=5_790_939_450, id_step=1,
    props=_common("companyinformation", "Create Date", "hs_lastmodifieddate", "Company owner") + (
        _p("name", "string", "text", "Company name", "companyinformation"),
        _p("domain", "string", "text", "Company Domain Name", "companyinformation"),
        _p("industry", "enumeration", "select", "Industry", "companyinformation", options="industry"),
        _p("annualrevenue", "number", "number", "Annual Revenue", "companyinformation"),
        _p("numberofemployees", "number", "number", "Number of Employees", "companyinformation"),
        *_lifecycle("companyinformation"),
        _p("contract_renewal_date", "date", "date", "Contract renewal date", "companyinformation",
           hubspot_defined=False),
    ),
)

DEALS = ObjectType(
    name="deals", type_id="0-3", singular="deal", scope="crm.objects.deals.read",
    created="createdate", modified="hs_lastmodifieddate",
    default_properties=("dealname", "amount", "closedate", "pipeline", "dealstage"),
    search_text=("dealname",),
    id_base=11_348_600_001, id_step=3,
    props=_common("deal_information", "Create Date", "hs_lastmodifieddate", "Deal owner") + (
        _p("dealname", "string", "text", "Deal Name", "deal_information"),
        _p("amount", "number", "number", "Amount", "deal_information"),
        _p("deal_currency_code", "enumeration", "select", "Currency", "deal_information", options="currency"),
        _p("hs_exchange_rate", "number", "number", "Exchange rate", "deal_information"),
        _ro("amount_in_home_currency", "number", "calculation_equation", "Amount in company currency",
            "deal_information"),
        _p("pipeline", "enumeration", "select", "Pipeline", "deal_information", options="deal_pipelines"),
        _p("dealstage", "enumeration", "radio", "Deal Stage", "deal_information", options="deal_stages"),
        _p("closedate", "datetime", "date", "Close Date", "deal_information"),
        _ro("hs_is_closed", "bool", "booleancheckbox", "Is Deal Closed?", "deal_information", options="bool"),
        _ro("hs_is_closed_won", "bool", "booleancheckbox", "Is Closed Won", "deal_information", options="bool"),
        _ro("hs_is_closed_lost", "bool", "booleancheckbox", "Is closed lost", "deal_information", options="bool"),
        _ro("hs_deal_stage_probability", "number", "calculation_equation", "Deal probability", "deal_information"),
        _ro("hs_closed_amount", "number", "calculation_equation", "Closed amount", "deal_information"),
        _ro("hs_closed_amount_in_home_currency", "number", "calculation_equation",
            "Closed amount in home currency", "deal_information"),
        _ro("hs_projected_amount", "number", "calculation_equation", "Weighted amount", "deal_information"),
        _ro("days_to_close", "number", "calculation_equation", "Days to close", "deal_information"),
        _p("dealtype", "enumeration", "radio", "Deal Type", "deal_information", options="dealtype"),
        _ro("hs_analytics_source", "enumeration", "select", "Original Source Type", "deal_information",
            options="hs_analytics_source"),
        _p("contract_term_months", "number", "number", "Contract term (months)", "deal_information",
           hubspot_defined=False),
    ),
)

TICKETS = ObjectType(
    name="tickets", type_id="0-5", singular="ticket", scope="tickets",
    created="createdate", modified="hs_lastmodifieddate",
    default_properties=("content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_category",
                        "hs_ticket_priority", "subject"),
    search_text=("subject", "content"),
    id_base=1_588_723_601, id_step=1,
    props=_common("ticketinformation", "Create date", "hs_lastmodifieddate", "Ticket owner") + (
        _p("subject", "string", "text", "Ticket name", "ticketinformation"),
        _p("content", "string", "textarea", "Ticket description", "ticketinformation"),
        _p("hs_pipeline", "enumeration", "select", "Pipeline", "ticketinformation", options="ticket_pipelines"),
        _p("hs_pipeline_stage", "enumeration", "radio", "Ticket status", "ticketinformation",
           options="ticket_stages"),
        _ro("closed_date", "datetime", "date", "Close date", "ticketinformation"),
        _ro("first_agent_reply_date", "datetime", "date", "First agent email response date", "ticketinformation"),
        _ro("hs_first_agent_message_sent_at", "datetime", "date", "First agent message sent date",
            "ticketinformation"),
        _ro("time_to_first_agent_reply", "number", "calculation_equation", "Time to first agent email reply",
            "ticketinformation"),
        _ro("time_to_close", "number", "calculation_equation", "Time to close", "ticketinformation"),
        _p("hs_ticket_priority", "enumeration", "select", "Priority", "ticketinformation", options="priority"),
        _p("hs_ticket_category", "enumeration", "checkbox", "Category", "ticketinformation",
           options="ticket_category"),
        _p("source_type", "enumeration", "select", "Source", "ticketinformation", options="source_type"),
    ),
)

FEEDBACK_SUBMISSIONS = ObjectType(
    name="feedback_submissions", type_id="0-19", singular="feedback_submission",
    scope="crm.objects.feedback_submissions.read",
    created="hs_createdate", modified="hs_lastmodifieddate",
    default_properties=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    search_text=("hs_submission_name", "hs_content"),
    id_base=301_258_455_001, id_step=1,
    props=(
        _ro("hs_object_id", "number", "number", "Record ID", "feedback_submission_information"),
        _ro("hs_createdate", "datetime", "date", "Object create date/time", "feedback_submission_information",
            calculated=False),
        _ro("hs_lastmodifieddate", "datetime", "date", "Object last modified date/time",
            "feedback_submission_information"),
        _ro("hs_survey_id", "string", "text", "Survey id", "feedback_submission_information", calculated=False),
        _ro("hs_survey_name", "string", "text", "Survey name", "feedback_submission_information", calculated=False),
        _ro("hs_survey_type", "enumeration", "select", "Survey type", "feedback_submission_information",
            calculated=False, options="survey_type"),
        _ro("hs_survey_channel", "enumeration", "select", "Survey channel", "feedback_submission_information",
            calculated=False, options="survey_channel"),
        _ro("hs_value", "string", "text", "Response value", "feedback_submission_information", calculated=False),
        _ro("hs_response_group", "enumeration", "select", "Response group", "feedback_submission_information",
            options="response_group"),
        _ro("hs_sentiment", "enumeration", "select", "Sentiment", "feedback_submission_information",
            options="sentiment"),
        _ro("hs_content", "string", "textarea", "Response", "feedback_submission_information", calculated=False),
        _ro("hs_submission_name", "string", "text", "Submission name", "feedback_submission_information",
            calculated=False),
        _ro("hs_submission_timestamp", "datetime", "date", "Submitted at", "feedback_submission_information",
            calculated=False),
        _ro("hs_contact_id", "string", "text", "Contact id", "feedback_submission_information", calculated=False),
    ),
)

OBJECT_TYPES: dict[str, ObjectType] = {
    o.name: o for o in (CONTACTS, COMPANIES, DEALS, TICKETS, FEEDBACK_SUBMISSIONS)}

# Names HubSpot accepts in URLs: plural names, type ids and (v4 associations) singular names.
ALIASES: dict[str, str] = {}
for _o in OBJECT_TYPES.values():
    ALIASES[_o.name] = ALIASES[_o.type_id] = ALIASES[_o.singular] = _o.name
ALIASES["feedback_submission"] = "feedback_submissions"


# --- option lists ---------------------------------------------------------------------

LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                    "customer", "evangelist", "other")
# HubSpot's traffic sources with its own labels (SOCIAL_MEDIA reads "Organic social").
ANALYTICS_SOURCE_LABELS = {
    "ORGANIC_SEARCH": "Organic search", "PAID_SEARCH": "Paid search", "EMAIL_MARKETING": "Email marketing",
    "SOCIAL_MEDIA": "Organic social", "REFERRALS": "Referrals", "OTHER_CAMPAIGNS": "Other campaigns",
    "DIRECT_TRAFFIC": "Direct traffic", "OFFLINE": "Offline sources", "PAID_SOCIAL": "Paid social"}
ANALYTICS_SOURCES = tuple(ANALYTICS_SOURCE_LABELS)
LEAD_STATUSES = ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
                 "BAD_TIMING")
INDUSTRIES = ("COMPUTER_SOFTWARE", "INFORMATION_TECHNOLOGY_AND_SERVICES", "MARKETING_AND_ADVERTISING",
              "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL", "MACHINERY", "AUTOMOTIVE", "CONSTRUCTION",
              "EDUCATION_MANAGEMENT", "LOGISTICS_AND_SUPPLY_CHAIN", "TELECOMMUNICATIONS")


def _label(value: str) -> str:
    special = {"marketingqualifiedlead": "Marketing Qualified Lead", "salesqualifiedlead": "Sales Qualified Lead",
               "newbusiness": "New Business", "existingbusiness": "Existing Business"}
    return special.get(value) or value.replace("_", " ").title()


STATIC_OPTIONS: dict[str, list[tuple[str, str]]] = {
    "lifecyclestage": [(v, _label(v)) for v in LIFECYCLE_STAGES],
    "hs_analytics_source": list(ANALYTICS_SOURCE_LABELS.items()),
    "hs_lead_status": [(v, _label(v)) for v in LEAD_STATUSES],
    "industry": [(v, _label(v)) for v in INDUSTRIES],
    "currency": [("EUR", "Euro"), ("USD", "US Dollar")],
    "dealtype": [("newbusiness", "New Business"), ("existingbusiness", "Existing Business")],
    "bool": [("true", "Yes"), ("false", "No")],
    "priority": [("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"), ("URGENT", "Urgent")],
    "ticket_category": [("PRODUCT_ISSUE", "Product issue"), ("BILLING_ISSUE", "Billing issue"),
                        ("FEATURE_REQUEST", "Feature request"), ("GENERAL_INQUIRY", "General inquiry")],
    "source_type": [("EMAIL", "Email"), ("CHAT", "Chat"), ("PHONE", "Phone"), ("FORM", "Form")],
    "survey_type": [("NPS", "NPS"), ("CSAT", "CSAT"), ("CES", "CES"), ("CUSTOM", "Custom"),
                    ("KNOWLEDGE", "Knowledge base")],
    "survey_channel": [("EMAIL", "Email"), ("WEB", "Web"), ("CHAT", "Chat")],
    "response_group": [("PROMOTER", "Promoter"), ("PASSIVE", "Passive"), ("DETRACTOR", "Detractor")],
    "sentiment": [("POSITIVE", "Positive"), ("NEUTRAL", "Neutral"), ("NEGATIVE", "Negative")],
}


# --- pipelines ------------------------------------------------------------------------
# (id, label, metadata); default pipelines were "created" at epoch 0, as in real portals.

DEAL_PIPELINES = (
    ("default", "Sales Pipeline", 0, (
        ("appointmentscheduled", "Appointment Scheduled", {"isClosed": "false", "probability": "0.2"}),
        ("qualifiedtobuy", "Qualified To Buy", {"isClosed": "false", "probability": "0.4"}),
        ("presentationscheduled", "Presentation Scheduled", {"isClosed": "false", "probability": "0.6"}),
        ("decisionmakerboughtin", "Decision Maker Bought-In", {"isClosed": "false", "probability": "0.8"}),
        ("contractsent", "Contract Sent", {"isClosed": "false", "probability": "0.9"}),
        ("closedwon", "Closed Won", {"isClosed": "true", "probability": "1.0"}),
        ("closedlost", "Closed Lost", {"isClosed": "true", "probability": "0.0"}),
    )),
    # A custom pipeline: numeric-string ids, and an "On hold" stage whose probability is 0.0 but
    # which is not closed (admins edit isClosed and probability independently).
    ("11348547", "Renewals", 1, (
        ("11348548", "Renewal due", {"isClosed": "false", "probability": "0.5"}),
        ("11348549", "In negotiation", {"isClosed": "false", "probability": "0.7"}),
        ("11348550", "On hold", {"isClosed": "false", "probability": "0.0"}),
        ("11348551", "Renewed", {"isClosed": "true", "probability": "1.0"}),
        ("11348552", "Churned", {"isClosed": "true", "probability": "0.0"}),
    )),
)

TICKET_PIPELINES = (
    ("0", "Support Pipeline", 0, (
        ("1", "New", {"ticketState": "OPEN"}),
        ("2", "Waiting on contact", {"ticketState": "OPEN"}),
        ("3", "Waiting on us", {"ticketState": "OPEN"}),
        ("4", "Closed", {"ticketState": "CLOSED"}),
    )),
)

PIPELINES = {"deals": DEAL_PIPELINES, "tickets": TICKET_PIPELINES}


def deal_stage_meta() -> dict[str, tuple[str, dict[str, str]]]:
    """stage id -> (pipeline id, metadata)."""
    return {sid: (pid, meta) for pid, _, _, stages in DEAL_PIPELINES for sid, _, meta in stages}


# --- associations ---------------------------------------------------------------------
# HUBSPOT_DEFINED type ids per direction, from HubSpot's association type id table:
# pair -> (unlabeled type id, primary type id or None).
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], tuple[int, int | None]] = {
    ("contacts", "companies"): (279, 1), ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3, None), ("contacts", "deals"): (4, None),
    ("deals", "companies"): (341, 5), ("companies", "deals"): (342, 6),
    ("tickets", "contacts"): (16, None), ("contacts", "tickets"): (15, None),
    ("tickets", "companies"): (339, 26), ("companies", "tickets"): (340, 25),
    ("deals", "tickets"): (27, None), ("tickets", "deals"): (28, None),
    ("feedback_submissions", "contacts"): (98, None), ("contacts", "feedback_submissions"): (97, None),
    ("feedback_submissions", "companies"): (928, None), ("companies", "feedback_submissions"): (929, None),
    ("feedback_submissions", "deals"): (984, None), ("deals", "feedback_submissions"): (985, None),
    ("feedback_submissions", "tickets"): (100, None), ("tickets", "feedback_submissions"): (99, None),
}

# The portal's custom association labels (USER_DEFINED), one type id per direction.
USER_LABELS: dict[tuple[str, str], tuple[int, str]] = {
    ("contacts", "companies"): (30, "Decision maker"), ("companies", "contacts"): (31, "Decision maker"),
    ("deals", "contacts"): (36, "Champion"), ("contacts", "deals"): (35, "Champion"),
}

# Roles an association can have; each direction renders a role as its own associationTypes.
ROLE_PLAIN, ROLE_PRIMARY, ROLE_LABELED, ROLE_PRIMARY_LABELED = 0, 1, 2, 3
