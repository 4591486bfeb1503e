"""Staff tokens and API keys never cross over; projects never see each other; staff sees all."""

import secrets
from typing import Any

import httpx
import pytest
from zumik_accounts.staff import STAFF_TOKEN_PREFIX

from tests.conftest import ApiProject, ProjectFactory
from tests.integration.staff.helpers import (
    QUEUE,
    STAFF,
    TICKETS,
    StaffUser,
    open_ticket,
    queue_ids,
    staff_get,
)

Endpoint = tuple[str, str, dict[str, Any] | None]

STAFF_ENDPOINTS: list[Endpoint] = [
    ("GET", QUEUE, None),
    ("GET", STAFF + "/tickets/{id}", None),
    ("PATCH", STAFF + "/tickets/{id}", {"priority": "high"}),
    ("POST", STAFF + "/tickets/{id}/messages", {"body": "We are on it."}),
]
CUSTOMER_ENDPOINTS: list[Endpoint] = [
    ("GET", TICKETS, None),
    ("POST", TICKETS, {"subject": "s", "body": "b"}),
    ("GET", TICKETS + "/{id}", None),
    ("POST", TICKETS + "/{id}/messages", {"body": "b"}),
    ("PATCH", TICKETS + "/{id}", {"status": "resolved"}),
]


def endpoint_id(endpoint: Endpoint) -> str:
    return f"{endpoint[0]} {endpoint[1]}"


async def call(
    api: httpx.AsyncClient, endpoint: Endpoint, ticket_id: str, headers: dict[str, str]
) -> httpx.Response:
    method, template, payload = endpoint
    return await api.request(
        method, template.replace("{id}", ticket_id), json=payload, headers=headers
    )


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def assert_untouched(
    api: httpx.AsyncClient, staff: StaffUser, ticket: dict[str, Any]
) -> None:
    seen = await staff_get(api, staff, ticket["id"])
    assert seen["priority"] == ticket["priority"]
    assert seen["status"] == ticket["status"]
    assert len(seen["messages"]) == len(ticket["messages"])
    assert seen["history"] == []


@pytest.mark.parametrize("endpoint", STAFF_ENDPOINTS, ids=endpoint_id)
async def test_a_customer_api_key_never_works_on_staff_endpoints(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser, endpoint: Endpoint
) -> None:
    ticket = await open_ticket(api, project)
    response = await call(api, endpoint, ticket["id"], project.headers)
    assert_unauthorized(response)
    assert response.json()["error"]["code"] == "invalid_staff_token"
    await assert_untouched(api, staff, ticket)


@pytest.mark.parametrize("endpoint", STAFF_ENDPOINTS, ids=endpoint_id)
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_staff_token"),
        ({"Authorization": "Bearer"}, "missing_staff_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_staff_token"),
        (
            {"Authorization": f"Bearer {STAFF_TOKEN_PREFIX}{secrets.token_urlsafe(32)}"},
            "invalid_staff_token",
        ),
    ],
    ids=["none", "empty-bearer", "basic", "unknown-staff-token"],
)
async def test_staff_endpoints_need_a_valid_staff_token(
    api: httpx.AsyncClient,
    project: ApiProject,
    staff: StaffUser,
    endpoint: Endpoint,
    headers: dict[str, str],
    code: str,
) -> None:
    ticket = await open_ticket(api, project)
    response = await call(api, endpoint, ticket["id"], headers)
    assert_unauthorized(response)
    assert response.json()["error"]["code"] == code
    await assert_untouched(api, staff, ticket)


@pytest.mark.parametrize("endpoint", CUSTOMER_ENDPOINTS, ids=endpoint_id)
async def test_a_staff_token_never_works_on_customer_endpoints(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser, endpoint: Endpoint
) -> None:
    ticket = await open_ticket(api, project)
    response = await call(api, endpoint, ticket["id"], staff.headers)
    assert_unauthorized(response)
    await assert_untouched(api, staff, ticket)


async def test_staff_token_works_on_staff_endpoints(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    """The positive control for the 401s above: the same calls succeed with the staff token."""
    ticket = await open_ticket(api, project)
    for endpoint in STAFF_ENDPOINTS:
        response = await call(api, endpoint, ticket["id"], staff.headers)
        assert response.status_code == 200, (endpoint, response.text)


async def test_staff_unknown_ticket_is_404(api: httpx.AsyncClient, staff: StaffUser) -> None:
    missing = "spt_00000000000000000000000000"
    for endpoint in STAFF_ENDPOINTS[1:]:
        response = await call(api, endpoint, missing, staff.headers)
        assert response.status_code == 404, (endpoint, response.text)
        assert response.json()["error"]["code"] == "resource_missing"


async def test_two_tenants_never_see_each_other_but_staff_sees_both(
    api: httpx.AsyncClient, make_project: ProjectFactory, staff: StaffUser
) -> None:
    project_a = await make_project(plan="pilot", name="Tenant A")
    project_b = await make_project(plan="base", name="Tenant B")
    ticket_a = await open_ticket(api, project_a, subject="A's secret")
    ticket_b = await open_ticket(api, project_b, subject="B's secret")

    # A's key: B's ticket looks exactly like no ticket, on every customer endpoint.
    for endpoint in CUSTOMER_ENDPOINTS:
        if "{id}" not in endpoint[1]:
            continue
        response = await call(api, endpoint, ticket_b["id"], project_a.headers)
        assert response.status_code == 404, (endpoint, response.text)
        assert response.json()["error"]["code"] == "resource_missing"
    listed = await api.get(TICKETS, headers=project_a.headers)
    assert [t["id"] for t in listed.json()["data"]] == [ticket_a["id"]]
    listed_b = await api.get(TICKETS, headers=project_b.headers)
    assert [t["id"] for t in listed_b.json()["data"]] == [ticket_b["id"]]

    # B's ticket was not changed by A's attempts.
    seen_b = await staff_get(api, staff, ticket_b["id"])
    assert seen_b["status"] == "open"
    assert [m["body"] for m in seen_b["messages"]] == [ticket_b["messages"][0]["body"]]

    # The team sees both, each with its project.
    seen_a = await staff_get(api, staff, ticket_a["id"])
    assert (seen_a["project_id"], seen_b["project_id"]) == (project_a.id, project_b.id)
    everything = await queue_ids(api, staff)
    assert {ticket_a["id"], ticket_b["id"]} <= set(everything)
    assert await queue_ids(api, staff, project_id=project_a.id) == [ticket_a["id"]]
    assert await queue_ids(api, staff, project_id=project_b.id) == [ticket_b["id"]]
