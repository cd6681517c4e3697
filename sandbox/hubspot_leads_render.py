"""Lead JSON bodies shaped like the example in hubspot-leads-api.txt (same fields, same nesting, keys sorted).

The clock-independent part of a lead (names, contact data, its conversion events) is cached per lead; the
clock-dependent part (which conversions happened, edits, customer status, deletion) is laid over it from a
``LeadState``. Picks come from one hash of ``(seed, n)`` instead of a ``random.Random`` to keep pages cheap.
Shapes the document does not show (``leadDeleteLogs`` entries, ``firstConvertedAt``) are assumptions.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from sandbox.core import stable_hex
from sandbox.hubspot_common import PORTAL_ID
from sandbox.hubspot_leads_world import LeadState, lead_guid

FIRST_NAMES = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger")
LAST_NAMES = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
)
COMPANIES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "",
    "Wayne Enterprises",
)
TITLES = ("", "Marketing Manager", "CMO", "Growth Lead", "Data Engineer", "VP Sales", "Founder")
TITLES_AFTER_EDIT = ("Head of Marketing", "Director of Growth", "Analytics Lead", "CEO")
CITIES = (("Boston", "MA", "United States"), ("Berlin", "", "Germany"), ("London", "", "United Kingdom"))
INDUSTRIES = ("", "Software", "Retail", "Healthcare", "Finance")
# sourceId → foundVia (hubspot-leads-api.txt: 1 Organic Search ... 7 Other Campaigns)
FOUND_VIA = {
    1: ("Organic Search", "google.com"),
    2: ("Referrals", "g2.com"),
    3: ("Paid Search", "brand-search"),
    4: ("Direct Traffic", ""),
    5: ("Email Marketing", "weekly-digest"),
    6: ("Social Media", "linkedin"),
    7: ("Other Campaigns", "podcast"),
}
FORMS = (  # (form index for the guid, formId, formName, pageName, pageUrl)
    (0, 25349, "Contact Us", "Contact", "https://www.example.com/contact"),
    (1, 25350, "Request a Demo", "Demo", "https://www.example.com/lp/demo"),
    (2, 25351, "Newsletter", "Blog", "https://www.example.com/blog"),
    (3, 25352, "Ebook Download", "Landing Pages", "https://www.example.com/lp/ebook"),
)


def _pick(h: int, shift: int, options: tuple[Any, ...]) -> Any:
    return options[(h >> shift) % len(options)]


@lru_cache(maxsize=1024)
def _form_guid(seed: int, index: int) -> str:
    return stable_hex(seed, "form", index)  # the same guids the analytics `forms` report breaks down by


@lru_cache(maxsize=50_000)
def static_lead(seed: int, n: int, conversions: int = 0) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """The clock-independent body and ``conversions`` conversion-event templates (dates filled later)."""
    h = int.from_bytes(hashlib.blake2b(b"body:%d:%d" % (seed, n), digest_size=32).digest(), "little")
    guid = lead_guid(seed, n)
    first, last = _pick(h, 0, FIRST_NAMES), _pick(h, 8, LAST_NAMES)
    company = _pick(h, 16, COMPANIES)
    city, state, country = _pick(h, 24, CITIES)
    source_id = 1 + (h >> 32) % 7
    found_via, source_value = FOUND_VIA[source_id]
    user_token = stable_hex(seed, "utk", n)
    email = f"{first}.{last}{n}@{(company or 'example').lower().replace(' ', '')}.com".lower()
    lead_id = 1_000_000 + n
    body: dict[str, Any] = {
        "address": "",
        "analyticsDetails": None,
        "city": city,
        "closedAt": 0,
        "company": company,
        "country": country,
        "crmDetails": None,
        "customerStatusModifiedAt": 0,
        "eligibleForEmail": True,
        "email": email,
        "emailBounced": False,
        "emailOptOut": False,
        "fax": "",
        "firstCampaign": "",
        "firstConvertedAt": 0,
        "firstName": first,
        "firstRefDomain": source_value if source_id == 2 else "",
        "firstReferrer": f"https://{source_value}/" if source_id == 2 else "",
        "firstURL": "https://www.example.com/",
        "firstVisitSetAt": 0,
        "foundVia": found_via,
        "fullFoundViaString": f"{found_via} - {source_value}" if source_value else found_via,
        "guid": guid,
        "id": guid,
        "imported": False,
        "industry": _pick(h, 40, INDUSTRIES),
        "insertedAt": 0,
        "ipAddress": f"203.0.{(h >> 48) % 256}.{(h >> 56) % 256}",
        "isCustomer": False,
        "isDeleted": False,
        "jobTitle": _pick(h, 64, TITLES),
        "lastConvertedAt": 0,
        "lastModifiedAt": 0,
        "lastName": last,
        "leadConversionEvents": [],
        "leadCustomerStatusModifyLogs": [],
        "leadDeleteLogs": [],
        "leadId": lead_id,
        "leadJsonLink": f"https://api.hubapi.com/leads/v1/lead/{guid}",
        "leadLink": f"https://app.hubspot.com/leads/app/lead?portalId={PORTAL_ID}&guid={guid}",
        "leadNurturingActive": bool((h >> 72) & 1),
        "leadNurturingCampaignId": 77244,
        "message": "",
        "numConversionEvents": 0,
        "phone": f"+1-555-{(h >> 80) % 10000:04d}",
        "portalId": PORTAL_ID,
        "publicLeadLink": f"https://app.hubspot.com/leads/public/leadDetails?portalId={PORTAL_ID}"
        f"&leadToken={user_token[:22]}",
        "rawScore": 0,
        "salutation": "",
        "score": 0.0,
        "sourceId": source_id,
        "sourceValue1": source_value,
        "sourceValue2": "",
        "sourceValueModifiedAt": 0,
        "state": state,
        "twitterHandle": "",
        "userToken": user_token,
        "website": "",
        "zip": "",
    }
    events = []
    for i in range(conversions):
        form_index, form_id, form_name, page_name, page_url = _pick(h, 96 + 8 * i, FORMS)
        conversion_guid = stable_hex(seed, "conversion", n, i)
        form_guid = _form_guid(seed, form_index)
        message = f"Conversion {i + 1} of {first} {last} on {form_name}."
        values = [
            {
                "conversionGuid": conversion_guid,
                "convertDate": 0,
                "fieldLabel": label,
                "fieldName": name,
                "fieldValue": value,
                "formGuid": form_guid,
                "formId": form_id,
                "formName": form_name,
                "id": lead_id * 100 + i * 10 + k,
                "leadGuid": guid,
                "portalId": PORTAL_ID,
            }
            for k, (label, name, value) in enumerate(
                (
                    ("First Name", "FirstName", first),
                    ("Last Name", "LastName", last),
                    ("Email (we will keep your email completely private)", "Email", email),
                    ("Message", "Message", message),
                )
            )
        ]
        events.append(
            {
                "convertDate": 0,
                "formGuid": form_guid,
                "formId": form_id,
                "formName": form_name,
                "formSubmissionValues": values,
                "guid": conversion_guid,
                "id": conversion_guid,
                "leadGuid": guid,
                "pageName": page_name,
                "pageType": "Form",
                "pageUrl": page_url,
                "portalId": PORTAL_ID,
            }
        )
    return body, tuple(events)


def render_lead(
    seed: int, state: LeadState, *, exclude_conversion_events: bool = False, field_variants: bool = False
) -> dict[str, Any]:
    """The lead as the API returns it at the state's simulated now.

    ``field_variants`` (``SandboxConfig.field_variants``): about one lead in seven comes without ``fax`` and
    one in seven with ``jobTitle: null`` (an optional field left out, or null: facts.md "accept a missing
    optional field"); churn and bulk edits (``state.edits``) raise ``rawScore`` by 5 each.
    """
    template, event_templates = static_lead(seed, state.n, len(state.facts.conversions))
    facts = state.facts
    lead = dict(template)
    guid, lead_id = lead["guid"], lead["leadId"]
    conversions = state.conversions
    lead["insertedAt"] = facts.inserted
    lead["firstVisitSetAt"] = facts.inserted
    lead["sourceValueModifiedAt"] = facts.inserted
    lead["imported"] = not facts.conversions  # imported leads never came through a form
    lead["lastModifiedAt"] = state.last_modified
    lead["numConversionEvents"] = len(conversions)
    if conversions:
        lead["firstConvertedAt"], lead["lastConvertedAt"] = conversions[0], conversions[-1]
    events = []
    for i, when in enumerate(conversions):
        template_event = event_templates[i]
        values = [{**v, "convertDate": when} for v in template_event["formSubmissionValues"]]
        events.append({**template_event, "convertDate": when, "formSubmissionValues": values})
    if events:
        lead["message"] = events[-1]["formSubmissionValues"][-1]["fieldValue"]
    lead["leadConversionEvents"] = [] if exclude_conversion_events else events
    if state.modified:  # an edit in the CRM: a new job title and a higher score
        lead["jobTitle"] = TITLES_AFTER_EDIT[state.n % len(TITLES_AFTER_EDIT)]
    lead["rawScore"] = 20 + 40 * len(conversions) + (15 if state.modified else 0) + 5 * state.edits
    lead["score"] = round(min(99.99, lead["rawScore"] / 1.6), 2)
    lead["emailOptOut"], lead["emailBounced"] = facts.opt_out, facts.bounced
    lead["eligibleForEmail"] = not (facts.opt_out or facts.bounced or state.deleted)
    if state.closed:
        lead["closedAt"] = lead["customerStatusModifiedAt"] = state.closed
        lead["isCustomer"] = True
        lead["leadCustomerStatusModifyLogs"] = [
            {"id": lead_id * 10 + 1, "insertedAt": state.closed, "previousState": False}
        ]
    if state.deleted:  # a soft delete: the record stays, flagged (hubspot-leads-api.txt "isDeleted")
        lead["isDeleted"] = True
        lead["leadDeleteLogs"] = [
            {"id": lead_id * 10 + 2, "leadGuid": guid, "deletedAt": state.deleted, "portalId": PORTAL_ID}
        ]
    visits = 1 + 2 * len(conversions) + (state.n % 5)
    last_visit = max(conversions[-1] if conversions else facts.inserted, facts.inserted)
    lead["analyticsDetails"] = {
        "allViewsImported": True,
        "countsModifiedAt": last_visit,
        "firstVisitAt": facts.conversions[0] - 3_600_000 if facts.conversions else facts.inserted,
        "id": guid,
        "lastPageViewAt": last_visit,
        "lastVisitAt": last_visit,
        "leadGuid": guid,
        "leadId": lead_id,
        "pageViewCount": visits * 2,
        "portalId": PORTAL_ID,
        "userToken": lead["userToken"],
        "visitCount": visits,
    }
    lead["crmDetails"] = {
        "annualRevenue": 0,
        "closeProbability": 1 if state.closed else 0,
        "crmType": 1,
        "estimatedRevenue": 0,
        "id": guid,
        "nextAction": "",
        "nextActionAssignedTo": 0,
        "nextActionAssignedToEmail": "",
        "nextActionDue": 0,
        "numEmployees": 0,
        "status": "Closed" if state.closed else "Open",
    }
    if field_variants:
        if state.n % 7 == 3:
            del lead["fax"]
        if state.n % 7 == 5:
            lead["jobTitle"] = None
    return lead
