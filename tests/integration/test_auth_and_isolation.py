"""API keys, and strict per-project scoping: another project's ticket looks like no ticket."""

import secrets
from typing import Any

import httpx
import pytest
from zumik_accounts.projects import API_KEY_PREFIX

from tests.conftest import ApiProject

TICKETS = "/v2/support/tickets"
MISSING_ID = "spt_00000000000000000000000000"

# (method, path template, json body); {id} is replaced by a real ticket id.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", TICKETS, {"subject": "s", "body": "b"}),
    ("GET", TICKETS, None),
    ("GET", TICKETS + "/{id}", None),
    ("POST", TICKETS + "/{id}/messages", {"body": "b"}),
    ("PATCH", TICKETS + "/{id}", {"status": "resolved"}),
]
ID_ENDPOINTS = [e for e in ENDPOINTS if "{id}" in e[1]]


def unknown_key() -> str:
    """Well-formed (prefix and length of a real key) but never issued."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


BAD_CREDENTIALS: list[tuple[dict[str, str], str]] = [
    ({}, "missing_api_key"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_api_key"),
    ({"Authorization": "Bearer"}, "missing_api_key"),
    ({"Authorization": "Bearer not-a-key"}, "malformed_api_key"),
    ({"Authorization": f"Bearer {API_KEY_PREFIX}short"}, "malformed_api_key"),
    ({"Authorization": "Bearer " + "sk_" + secrets.token_urlsafe(33)}, "malformed_api_key"),
    ({"Authorization": f"Bearer {unknown_key()}"}, "invalid_api_key"),
]


async def create(api: httpx.AsyncClient, project: ApiProject, body: str = "hi") -> dict[str, Any]:
    response = await api.post(
        TICKETS, json={"subject": "Private", "body": body}, headers=project.headers
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def call(
    api: httpx.AsyncClient,
    endpoint: tuple[str, str, dict[str, Any] | None],
    ticket_id: str,
    headers: dict[str, str],
) -> httpx.Response:
    method, template, payload = endpoint
    return await api.request(
        method, template.replace("{id}", ticket_id), json=payload, headers=headers
    )


async def owner_view(api: httpx.AsyncClient, project: ApiProject, ticket_id: str) -> Any:
    response = await api.get(f"{TICKETS}/{ticket_id}", headers=project.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def ticket_count(api: httpx.AsyncClient, project: ApiProject) -> int:
    response = await api.get(TICKETS, params={"limit": 100}, headers=project.headers)
    assert response.status_code == 200, response.text
    return len(response.json()["data"])


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]}")
async def test_bad_credentials_get_401_with_the_error_envelope(
    api: httpx.AsyncClient,
    project: ApiProject,
    endpoint: tuple[str, str, dict[str, Any] | None],
) -> None:
    ticket = await create(api, project)
    for headers, code in BAD_CREDENTIALS:
        response = await call(api, endpoint, ticket["id"], headers)
        assert response.status_code == 401, (headers, response.text)
        error = response.json()["error"]
        assert set(response.json()) == {"error"}
        assert set(error) == {"type", "code", "message", "param"}
        assert error["type"] == "authentication_error"
        assert error["code"] == code, headers
        assert error["message"]
        assert response.headers["www-authenticate"] == "Bearer"
        assert "request-id" in response.headers
    # Refused requests change nothing.
    assert await owner_view(api, project, ticket["id"]) == ticket
    assert await ticket_count(api, project) == 1


async def test_a_valid_key_works_and_maps_to_its_project(
    api: httpx.AsyncClient, project: ApiProject, other_project: ApiProject
) -> None:
    mine = await create(api, project)
    theirs = await create(api, other_project)
    assert mine["plan_tier"] == project.plan
    assert theirs["plan_tier"] == other_project.plan


# --------------------------------------------------------------------------- isolation


@pytest.mark.parametrize("endpoint", ID_ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]}")
async def test_another_projects_ticket_is_indistinguishable_from_a_missing_one(
    api: httpx.AsyncClient,
    project: ApiProject,
    other_project: ApiProject,
    endpoint: tuple[str, str, dict[str, Any] | None],
) -> None:
    theirs = await create(api, other_project, body="their secret")
    foreign = await call(api, endpoint, theirs["id"], project.headers)
    missing = await call(api, endpoint, MISSING_ID, project.headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert foreign.json()["error"]["type"] == "not_found_error"
    assert "their secret" not in foreign.text
    assert theirs["id"] not in foreign.text
    foreign_headers = {k for k in foreign.headers if k != "request-id"}
    assert foreign_headers == {k for k in missing.headers if k != "request-id"}
    # The owner's ticket is untouched by the foreign attempt.
    assert await owner_view(api, other_project, theirs["id"]) == theirs


async def test_foreign_reply_and_patch_with_idempotency_keys_change_nothing(
    api: httpx.AsyncClient, project: ApiProject, other_project: ApiProject
) -> None:
    theirs = await create(api, other_project)
    key = {"Idempotency-Key": secrets.token_hex(8)}
    replied = await api.post(
        f"{TICKETS}/{theirs['id']}/messages",
        json={"body": "intrusion"},
        headers=project.headers | key,
    )
    assert replied.status_code == 404
    closed = await api.patch(
        f"{TICKETS}/{theirs['id']}", json={"status": "closed"}, headers=project.headers
    )
    assert closed.status_code == 404
    after = await owner_view(api, other_project, theirs["id"])
    assert after == theirs
    assert after["status"] == "open"
    assert after["message_count"] == 1


async def test_list_shows_only_the_projects_own_tickets(
    api: httpx.AsyncClient, project: ApiProject, other_project: ApiProject
) -> None:
    mine = [(await create(api, project))["id"] for _ in range(2)]
    theirs = [(await create(api, other_project))["id"] for _ in range(2)]

    async def listed(owner: ApiProject, **params: str) -> list[str]:
        response = await api.get(TICKETS, params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["data"]]

    assert await listed(project) == mine[::-1]
    assert await listed(other_project) == theirs[::-1]
    assert await listed(project, status="open") == mine[::-1]
    # A foreign ticket id as a cursor does not reveal foreign tickets either.
    assert set(await listed(project, starting_after=theirs[-1])).isdisjoint(theirs)
    assert set(await listed(project, ending_before=theirs[0])).isdisjoint(theirs)
