"""The property catalog a fresh sandbox HubSpot portal starts with.

Built-in (``hubspotDefined``) properties sit in each type's information group;
the custom properties the book needs sit in the ``customer_success`` group, the
way a CS team would have added them.  Enumeration options that depend on the
data (industries, owners, segments...) are filled in by the book projection.

Each row of :data:`_ROWS` is ``name | label | type | fieldType | group | flags |
options`` where flags holds ``r`` (read-only) and/or ``c`` (custom) and options
is a comma-separated list of ``value=Label`` (or bare ``value``).
"""

from __future__ import annotations

from connectors.sandbox.hs_schema import OBJECT_TYPES, PropertyDef

CUSTOM_GROUP = "customer_success"
INFO_GROUPS = {"companies": "companyinformation", "contacts": "contactinformation",
               "deals": "dealinformation", "tickets": "ticketinformation"}

_COMMON = """
createdate|Create Date|datetime|date|{info}|r|
hs_lastmodifieddate|Last Modified Date|datetime|date|{info}|r|
hs_object_id|Record ID|number|number|{info}|r|
hubspot_owner_id|Owner|enumeration|select|{info}||
"""
_ROWS = {
    "companies": """
name|Company name|string|text|{info}||
domain|Company Domain Name|string|text|{info}||
industry|Industry|enumeration|select|{info}||
numberofemployees|Number of Employees|number|number|{info}||
country|Country/Region|string|text|{info}||
lifecyclestage|Lifecycle Stage|enumeration|radio|{info}||subscriber=Subscriber,lead=Lead,marketingqualifiedlead=Marketing Qualified Lead,salesqualifiedlead=Sales Qualified Lead,opportunity=Opportunity,customer=Customer,evangelist=Evangelist,other=Other
account_id|Account ID|string|text|{custom}|c|
segment|Segment|enumeration|select|{custom}|c|self-serve=Self-serve,smb=SMB,mid-market=Mid-market,enterprise=Enterprise
icp_tier|ICP Tier|enumeration|select|{custom}|c|Tier 1,Tier 2,Tier 3
licensed_seats|Licensed Seats|number|number|{custom}|c|
plan|Plan|enumeration|select|{custom}|c|Starter,Team,Business,Enterprise
plan_limit|Plan Usage Limit|number|number|{custom}|c|
customer_since|Customer Since|date|date|{custom}|c|
""",
    "contacts": """
email|Email|string|text|{info}||
firstname|First Name|string|text|{info}||
lastname|Last Name|string|text|{info}||
jobtitle|Job Title|string|text|{info}||
phone|Phone Number|string|text|{info}||
lastmodifieddate|Last Modified Date|datetime|date|{info}|r|
associatedcompanyid|Primary Associated Company ID|number|number|{info}||
hs_buying_role|Buying Role|enumeration|checkbox|{info}||BLOCKER=Blocker,BUDGET_HOLDER=Budget Holder,CHAMPION=Champion,DECISION_MAKER=Decision Maker,END_USER=End User,EXECUTIVE_SPONSOR=Executive Sponsor,INFLUENCER=Influencer,LEGAL_AND_COMPLIANCE=Legal & Compliance,OTHER=Other
product_user_id|Product User ID|string|text|{custom}|c|
""",
    "deals": """
dealname|Deal Name|string|text|{info}||
amount|Amount|number|number|{info}||
closedate|Close Date|datetime|date|{info}||
pipeline|Pipeline|enumeration|select|{info}||default=Sales Pipeline
dealstage|Deal Stage|enumeration|radio|{info}||appointmentscheduled=Appointment Scheduled,qualifiedtobuy=Qualified To Buy,presentationscheduled=Presentation Scheduled,decisionmakerboughtin=Decision Maker Bought-In,contractsent=Contract Sent,closedwon=Closed Won,closedlost=Closed Lost
dealtype|Deal Type|enumeration|radio|{info}||newbusiness=New Business,existingbusiness=Existing Business
closed_lost_reason|Closed Lost Reason|string|textarea|{info}||
deal_currency_code|Currency|enumeration|select|{info}||USD=US Dollar,EUR=Euro,GBP=British Pound
hs_mrr|Monthly recurring revenue|number|number|{info}||
hs_arr|Annual recurring revenue|number|number|{info}||
contract_start_date|Contract Start Date|date|date|{custom}|c|
contract_end_date|Contract End Date|date|date|{custom}|c|
term_months|Term (months)|number|number|{custom}|c|
contract_change|Contract Change|enumeration|select|{custom}|c|new=New,renewal=Renewal,upsell=Upsell,downgrade=Downgrade
closed_lost_detail|Closed Lost Detail|string|textarea|{custom}|c|
""",
    "tickets": """
subject|Ticket name|string|text|{info}||
content|Ticket description|string|textarea|{info}||
hs_pipeline|Pipeline|enumeration|select|{info}||0=Support Pipeline
hs_pipeline_stage|Ticket status|enumeration|select|{info}||1=New,2=Waiting on contact,3=Waiting on us,4=Closed
hs_ticket_priority|Priority|enumeration|select|{info}||LOW=Low,MEDIUM=Medium,HIGH=High,URGENT=Urgent
hs_ticket_category|Category|enumeration|select|{info}||PRODUCT_ISSUE=Product issue,BILLING_ISSUE=Billing issue,FEATURE_REQUEST=Feature request,GENERAL_INQUIRY=General inquiry
closed_date|Close date|datetime|date|{info}||
csat_score|CSAT score|number|number|{custom}|c|
""",
}


def _parse_options(text: str) -> list[tuple[str, str]]:
    pairs = [item.split("=", 1) if "=" in item else (item, item) for item in text.split(",") if item]
    return [(value, label) for value, label in pairs]


def _parse_row(row: str, info: str) -> PropertyDef:
    name, label, ptype, field_type, group, flags, options = row.split("|")
    return PropertyDef(name=name, label=label, type=ptype, field_type=field_type,
                       group=group.format(info=info, custom=CUSTOM_GROUP),
                       options=_parse_options(options), read_only="r" in flags,
                       hubspot_defined="c" not in flags)


def standard_properties(type_name: str) -> dict[str, PropertyDef]:
    """The starting property definitions of one object type, keyed by name."""
    info = INFO_GROUPS[type_name]
    rows = [r for r in (_COMMON + _ROWS[type_name]).splitlines() if r.strip()]
    props = {}
    for order, row in enumerate(rows):
        prop = _parse_row(row, info)
        prop.display_order = order
        props[prop.name] = prop
    return props


def standard_groups(type_name: str) -> dict[str, dict]:
    """The starting property groups of one object type, keyed by name."""
    info = INFO_GROUPS[type_name]
    label = OBJECT_TYPES[type_name].singular.capitalize() + " information"
    return {info: {"name": info, "label": label, "displayOrder": 0, "archived": False},
            CUSTOM_GROUP: {"name": CUSTOM_GROUP, "label": "Customer success", "displayOrder": 1,
                           "archived": False}}
