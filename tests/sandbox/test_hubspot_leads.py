"""Contract tests for the HubSpot Leads v1 simulator, from hubspot-leads-api.txt and facts.md.

Most tests run on a small world (2 leads/day over 150 days) so whole result sets can be paged through.
Time semantics pinned here (the loader relies on them): startTime <= pivot <= stopTime, both inclusive;
stopTime defaults to simulated now (the hard sandbox's clock: 02:00 UTC, a minute later with every request).
Tests that compare two reads take them inside `stopped_clock`, so leads edited between them are no noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pendulum
import pytest

from sandbox.core import HUBSPOT_TOKEN
from sandbox.server import SandboxServer
from tests.conftest import stopped_clock

SMALL = pytest.mark.sandbox_config(leads_per_day=2, history_days=150)
NOW_MS = int(pendulum.datetime(2026, 11, 20, tz="UTC").timestamp() * 1000)  # today 00:00 UTC
# The fields of the document's example lead, and of its nested objects.
LEAD_KEYS = {
    "address", "analyticsDetails", "city", "closedAt", "company", "country", "crmDetails",
    "customerStatusModifiedAt", "eligibleForEmail", "email", "emailBounced", "emailOptOut", "fax",
    "firstCampaign", "firstName", "firstRefDomain", "firstReferrer", "firstURL", "firstVisitSetAt", "foundVia",
    "fullFoundViaString", "guid", "id", "imported", "industry", "insertedAt", "ipAddress", "isCustomer",
    "isDeleted", "jobTitle", "lastConvertedAt", "lastModifiedAt", "lastName", "leadConversionEvents",
    "leadCustomerStatusModifyLogs", "leadDeleteLogs", "leadId", "leadJsonLink", "leadLink", "leadNurturingActive",
    "leadNurturingCampaignId", "message", "numConversionEvents", "phone", "portalId", "publicLeadLink", "rawScore",
    "salutation", "score", "sourceId", "sourceValue1", "sourceValue2", "sourceValueModifiedAt", "state",
    "twitterHandle", "userToken", "website", "zip",
}  # fmt: skip
ANALYTICS_KEYS = {"allViewsImported", "countsModifiedAt", "firstVisitAt", "id", "lastPageViewAt", "lastVisitAt",
                  "leadGuid", "leadId", "pageViewCount", "portalId", "userToken", "visitCount"}  # fmt: skip
CRM_KEYS = {"annualRevenue", "closeProbability", "crmType", "estimatedRevenue", "id", "nextAction",
            "nextActionAssignedTo", "nextActionAssignedToEmail", "nextActionDue", "numEmployees", "status"}  # fmt: skip
EVENT_KEYS = {"convertDate", "formGuid", "formId", "formName", "formSubmissionValues", "guid", "id", "leadGuid",
              "pageName", "pageType", "pageUrl", "portalId"}  # fmt: skip
VALUE_KEYS = {"conversionGuid", "convertDate", "fieldLabel", "fieldName", "fieldValue", "formGuid", "formId",
              "formName", "id", "leadGuid", "portalId"}  # fmt: skip


@pytest.fixture
def leads(sandbox: SandboxServer) -> Iterator[Any]:
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:

        def get(**params: Any) -> list[dict[str, Any]]:
            response = client.get("/leads/v1/list", params={"access_token": HUBSPOT_TOKEN, **params})
            assert response.status_code == 200, response.text
            return response.json()

        get.client = client  # type: ignore[attr-defined]
        yield get


def page_all(get: Any, **params: Any) -> list[dict[str, Any]]:
    found, offset = [], 0
    while True:
        page = get(max=100, offset=offset, **params)
        found += page
        offset += len(page)
        if len(page) < 100:
            return found


# --- auth and parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_missing_or_wrong_access_token_is_401(sandbox: SandboxServer, token: str | None) -> None:
    params = {} if token is None else {"access_token": token}
    response = httpx.get(f"{sandbox.base_url}/leads/v1/list", params=params)
    assert response.status_code == 401 and response.json()["status"] == "error"


def test_token_only_counts_in_the_query_string(sandbox: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
    assert httpx.get(f"{sandbox.base_url}/leads/v1/list", headers=headers).status_code == 401


def test_max_defaults_to_10_and_is_served_as_at_most_100(leads: Any) -> None:
    assert len(leads()) == 10
    assert len(leads(max=1)) == 1
    assert len(leads(max=100)) == 100
    assert len(leads(max=500)) == 100  # "The maximum is 100": larger values are capped, not refused


@pytest.mark.parametrize("params", [{"max": "x"}, {"offset": "-1"}, {"timePivot": "createdAt"}, {"dir": "up"},
                                    {"startTime": "yesterday"}])  # fmt: skip
def test_bad_parameters_are_400(leads: Any, params: dict[str, str]) -> None:
    response = leads.client.get("/leads/v1/list", params={"access_token": HUBSPOT_TOKEN, **params})
    assert response.status_code == 400


# --- paging and sorting ---------------------------------------------------------------------------------


@SMALL
def test_offset_pages_cover_every_lead_once_and_end_short(sandbox: SandboxServer, leads: Any) -> None:
    with stopped_clock(sandbox):
        now = int(sandbox.now().timestamp() * 1000)
        everything = page_all(leads, sort="insertedAt", dir="asc", includeDeleted="true")
    guids = [lead["guid"] for lead in everything]
    assert len(guids) == len(set(guids)) == 300  # 2 a day for the 150 days before today
    inserted = [lead["insertedAt"] for lead in everything]
    assert inserted == sorted(inserted)
    assert max(inserted) <= now  # stopTime defaults to simulated now
    assert max(inserted) >= NOW_MS - 86_400_000  # yesterday's leads are there
    assert leads(max=100, offset=300, sort="insertedAt", dir="asc", includeDeleted="true") == []


@SMALL
def test_sort_and_dir(sandbox: SandboxServer, leads: Any) -> None:
    with stopped_clock(sandbox):
        asc = page_all(leads, sort="lastModifiedAt", dir="asc")
        desc = page_all(leads, sort="lastModifiedAt", dir="desc")
    modified = [lead["lastModifiedAt"] for lead in asc]
    assert modified == sorted(modified)
    assert [lead["lastModifiedAt"] for lead in desc] == modified[::-1]
    names = [lead["lastName"] for lead in page_all(leads, sort="lastName", dir="asc")]
    assert names == sorted(names)
    unknown = [lead["insertedAt"] for lead in leads(max=50, sort="favouriteColour", dir="asc")]
    assert unknown == sorted(unknown)  # unknown sort falls back to insertedAt


# --- time window ----------------------------------------------------------------------------------------


@SMALL
@pytest.mark.parametrize("pivot", ["lastModifiedAt", "insertedAt"])
def test_start_and_stop_time_are_both_inclusive(leads: Any, pivot: str) -> None:
    lead = leads(max=100, sort=pivot, dir="asc")[40]
    t = lead[pivot]
    window = {"timePivot": pivot, "sort": pivot, "dir": "asc", "max": 100}
    assert lead["guid"] in {x["guid"] for x in leads(startTime=t, stopTime=t, **window)}
    assert lead["guid"] not in {x["guid"] for x in leads(startTime=t + 1, stopTime=t + 10**9, **window)}
    assert lead["guid"] not in {x["guid"] for x in leads(startTime=0, stopTime=t - 1, **window)}
    for x in page_all(leads, timePivot=pivot, startTime=t - 86_400_000 * 10, stopTime=t, sort=pivot, dir="asc"):
        assert t - 86_400_000 * 10 <= x[pivot] <= t


@SMALL
def test_window_on_another_pivot_than_the_sort(leads: Any) -> None:
    start, stop = NOW_MS - 20 * 86_400_000, NOW_MS - 5 * 86_400_000
    found = page_all(leads, timePivot="lastModifiedAt", startTime=start, stopTime=stop, sort="insertedAt", dir="asc")
    assert found and all(start <= x["lastModifiedAt"] <= stop for x in found)
    assert [x["insertedAt"] for x in found] == sorted(x["insertedAt"] for x in found)


@SMALL
def test_closed_at_pivot_finds_customers(leads: Any) -> None:
    closed = page_all(leads, timePivot="closedAt", startTime=1, sort="closedAt", dir="asc")
    assert closed and all(x["isCustomer"] and x["closedAt"] > 0 for x in closed)
    assert all(x["leadCustomerStatusModifyLogs"] for x in closed)


# --- deleted, guids, filters -----------------------------------------------------------------------------


@SMALL
def test_soft_deleted_leads_only_with_include_deleted(leads: Any) -> None:
    visible = page_all(leads, sort="insertedAt", dir="asc")
    everything = page_all(leads, sort="insertedAt", dir="asc", includeDeleted="true")
    deleted = [x for x in everything if x["isDeleted"]]
    assert deleted and not any(x["isDeleted"] for x in visible)
    assert len(visible) + len(deleted) == len(everything)
    for lead in deleted:
        log = lead["leadDeleteLogs"]
        assert len(log) == 1 and lead["lastModifiedAt"] == log[0]["deletedAt"]


@SMALL
def test_guids_hydrate_given_leads_and_more_than_100_is_413(leads: Any) -> None:
    some = leads(max=3)
    wanted = {f"guids[{i}]": lead["guid"] for i, lead in enumerate(some[:2])}
    assert {x["guid"] for x in leads(**wanted)} == {some[0]["guid"], some[1]["guid"]}
    too_many = {f"guids[{i}]": f"{i:032x}" for i in range(101)}
    response = leads.client.get("/leads/v1/list", params={"access_token": HUBSPOT_TOKEN, **too_many})
    assert response.status_code == 413
    exactly_100 = {f"guids[{i}]": f"{i:032x}" for i in range(100)}
    assert leads(**exactly_100) == []
    deleted = next(x for x in page_all(leads, includeDeleted="true") if x["isDeleted"])
    assert leads(**{"guids[0]": deleted["guid"]}) == []
    assert leads(**{"guids[0]": deleted["guid"], "includeDeleted": "true"})[0]["guid"] == deleted["guid"]


def test_exclude_conversion_events_empties_the_collection(leads: Any) -> None:
    full = leads(max=50, sort="insertedAt", dir="asc")
    bare = leads(max=50, sort="insertedAt", dir="asc", excludeConversionEvents="true")
    assert any(x["leadConversionEvents"] for x in full)
    assert all(x["leadConversionEvents"] == [] for x in bare)
    assert [x["numConversionEvents"] for x in bare] == [x["numConversionEvents"] for x in full]


@SMALL
@pytest.mark.parametrize(
    ("param", "check"),
    [
        ("optOut", lambda x: x["emailOptOut"]),
        ("bounced", lambda x: x["emailBounced"]),
        ("eligibleForEmail", lambda x: x["eligibleForEmail"]),
        ("isNotImported", lambda x: not x["imported"]),
    ],
)
def test_boolean_filters_keep_only_matching_leads(leads: Any, param: str, check: Any) -> None:
    everything = page_all(leads)
    filtered = page_all(leads, **{param: "true"})
    assert filtered and all(check(x) for x in filtered)
    assert len(filtered) == sum(1 for x in everything if check(x))
    assert len(page_all(leads, **{param: "false"})) == len(everything)  # false (the default) keeps all


@SMALL
def test_search_matches_names_email_and_company(leads: Any) -> None:
    found = page_all(leads, search="hopper")
    assert found and all("hopper" in (x["lastName"] + x["email"]).lower() for x in found)


# --- shapes and the world over time -------------------------------------------------------------------------


@pytest.mark.sandbox_config(field_variants=False)  # the example's shape; fields that vanish: test_hardening
def test_lead_shape_matches_the_document_example(leads: Any) -> None:
    page = leads(max=100, sort="insertedAt", dir="asc")
    for lead in page:
        assert set(lead) >= LEAD_KEYS
        assert set(lead["analyticsDetails"]) == ANALYTICS_KEYS and set(lead["crmDetails"]) == CRM_KEYS
        assert lead["guid"] == lead["id"] and len(lead["guid"]) == 32
        assert 10**12 < lead["insertedAt"] < NOW_MS and lead["lastModifiedAt"] >= lead["insertedAt"]
        assert lead["closedAt"] == 0 or lead["isCustomer"]
        assert lead["numConversionEvents"] == len(lead["leadConversionEvents"]) <= 3
        for event in lead["leadConversionEvents"]:
            assert set(event) == EVENT_KEYS and event["leadGuid"] == lead["guid"]
            assert len(event["formSubmissionValues"]) == 4
            for value in event["formSubmissionValues"]:
                assert set(value) == VALUE_KEYS and value["conversionGuid"] == event["guid"]
        if lead["leadConversionEvents"]:
            assert lead["lastConvertedAt"] == lead["leadConversionEvents"][-1]["convertDate"]


@SMALL
def test_moving_the_clock_modifies_old_leads(sandbox: SandboxServer, leads: Any) -> None:
    with stopped_clock(sandbox):
        now = int(sandbox.now().timestamp() * 1000)
        before = {x["guid"]: x for x in page_all(leads, includeDeleted="true")}
        sandbox.set_today(pendulum.date(2026, 12, 20))
        later_now = int(sandbox.now().timestamp() * 1000)
        changed = page_all(leads, timePivot="lastModifiedAt", startTime=now, stopTime=later_now,
                           includeDeleted="true")  # fmt: skip
        inserted = page_all(leads, timePivot="insertedAt", startTime=now + 1, stopTime=later_now,
                            includeDeleted="true")  # fmt: skip
    old_changed = [x for x in changed if x["guid"] in before]
    assert old_changed, "some leads that existed before must be modified after the clock moved"
    for lead in old_changed:
        assert lead["lastModifiedAt"] > before[lead["guid"]]["lastModifiedAt"]
    assert any(x["numConversionEvents"] > before[x["guid"]]["numConversionEvents"] for x in old_changed)
    assert any(x["isDeleted"] and not before[x["guid"]]["isDeleted"] for x in old_changed)
    new = {x["guid"] for x in changed if x["guid"] not in before}
    assert new == {x["guid"] for x in inserted} and 55 <= len(new) <= 65  # about 30 more days of 2 leads


@SMALL
def test_same_request_same_bytes(leads: Any) -> None:
    params = {"access_token": HUBSPOT_TOKEN, "max": 100, "offset": 37, "sort": "lastModifiedAt", "dir": "asc"}
    first = leads.client.get("/leads/v1/list", params=params).content
    assert leads.client.get("/leads/v1/list", params=params).content == first
