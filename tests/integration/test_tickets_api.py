"""The tickets API over HTTP: create, get, reply, status changes and the Stripe-style list."""

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_store.clock import utc_now
from zumik_store.mongo import Document

from tests.conftest import ApiProject, ProjectFactory
from tests.integration.customer_api import TICKETS, get, reply, set_status

SLA_BY_PLAN = {
    "free": {
        "tier": "community",
        "first_response_target": "Best effort, community support",
        "priority_queue": False,
    },
    "base": {
        "tier": "standard",
        "first_response_target": "1 business day",
        "priority_queue": False,
    },
    "pilot": {
        "tier": "priority",
        "first_response_target": "4 business hours",
        "priority_queue": True,
    },
    "enterprise": {
        "tier": "enterprise",
        "first_response_target": "4 hours, 24/7 for urgent issues",
        "priority_queue": True,
    },
}
TICKET_KEYS = {
    "id",
    "object",
    "subject",
    "priority",
    "status",
    "plan_tier",
    "sla",
    "contact_email",
    "message_count",
    "first_response_due_at",
    "first_responded_at",
    "sla_breached",
    "created_at",
    "updated_at",
    "messages",
}


async def create(
    api: httpx.AsyncClient, project: ApiProject, subject: str = "Help", **fields: Any
) -> dict[str, Any]:
    payload = {"subject": subject, "body": "Something is wrong.", **fields}
    response = await api.post(TICKETS, json=payload, headers=project.headers)
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def list_page(
    api: httpx.AsyncClient, project: ApiProject, **params: str | int
) -> dict[str, Any]:
    response = await api.get(TICKETS, params=params, headers=project.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def aware(timestamp: str) -> datetime:
    parsed = datetime.fromisoformat(timestamp)
    assert parsed.tzinfo is not None
    return parsed


# --------------------------------------------------------------------------- create / get


async def test_create_answers_201_with_the_full_ticket(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    before = utc_now()
    response = await api.post(
        TICKETS,
        json={
            "subject": "Streaming cuts off mid-response",
            "body": "When I set stream:true the response stops after ~30s.",
            "priority": "high",
            "contact_email": "dev@example.com",
        },
        headers=project.headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    ticket = response.json()
    assert set(ticket) == TICKET_KEYS
    assert ticket["id"].startswith("spt_")
    assert ticket["object"] == "support_ticket"
    assert ticket["subject"] == "Streaming cuts off mid-response"
    assert ticket["priority"] == "high"
    assert ticket["status"] == "open"
    assert ticket["plan_tier"] == "enterprise"
    assert ticket["sla"] == SLA_BY_PLAN["enterprise"]
    assert ticket["contact_email"] == "dev@example.com"
    assert ticket["message_count"] == 1
    assert ticket["sla_breached"] is False
    assert ticket["first_responded_at"] is None
    [message] = ticket["messages"]
    assert message["id"].startswith("spm_")
    assert message["author"] == "customer"
    assert message["body"] == "When I set stream:true the response stops after ~30s."
    created_at = aware(ticket["created_at"])
    assert before <= created_at <= utc_now()
    assert aware(ticket["updated_at"]) == created_at
    assert aware(message["created_at"]) == created_at
    assert aware(ticket["first_response_due_at"]) > created_at


async def test_create_defaults_priority_to_normal_and_contact_email_to_null(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    ticket = await create(api, project)
    assert ticket["priority"] == "normal"
    assert ticket["contact_email"] is None
    assert (await get(api, project, ticket["id"]))["contact_email"] is None


@pytest.mark.parametrize("priority", ["low", "normal", "high", "urgent"])
async def test_create_accepts_every_priority(
    api: httpx.AsyncClient, project: ApiProject, priority: str
) -> None:
    ticket = await create(api, project, priority=priority)
    assert ticket["priority"] == priority
    assert (await get(api, project, ticket["id"]))["priority"] == priority


@pytest.mark.parametrize("plan", sorted(SLA_BY_PLAN))
async def test_sla_comes_from_the_projects_plan(
    api: httpx.AsyncClient, make_project: ProjectFactory, plan: str
) -> None:
    project = await make_project(plan=plan)
    ticket = await create(api, project)
    assert ticket["plan_tier"] == plan
    assert ticket["sla"] == SLA_BY_PLAN[plan]
    if plan == "free":
        assert ticket["first_response_due_at"] is None
    else:
        assert ticket["first_response_due_at"] is not None


async def test_sla_is_snapshotted_when_the_ticket_is_opened(
    api: httpx.AsyncClient, make_project: ProjectFactory, db: AsyncDatabase[Document]
) -> None:
    project = await make_project(plan="enterprise")
    old = await create(api, project, subject="before the downgrade")
    assert await Projects(db).set_plan(project.id, "free")

    unchanged = await get(api, project, old["id"])
    assert unchanged["plan_tier"] == "enterprise"
    assert unchanged["sla"] == SLA_BY_PLAN["enterprise"]
    assert unchanged["first_response_due_at"] == old["first_response_due_at"]
    listed = {item["id"]: item for item in (await list_page(api, project))["data"]}
    assert listed[old["id"]]["sla"] == SLA_BY_PLAN["enterprise"]

    await asyncio.sleep(0.1)  # a plan change reaches new tickets within AUTH_CACHE_SECONDS
    new = await create(api, project, subject="after the downgrade")
    assert new["plan_tier"] == "free"
    assert new["sla"] == SLA_BY_PLAN["free"]

    # Changes to the old ticket keep its snapshot too.
    replied = (await reply(api, project, old["id"], "still there?")).json()
    assert (replied["plan_tier"], replied["sla"]) == ("enterprise", SLA_BY_PLAN["enterprise"])


async def test_get_returns_the_ticket_as_created(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    created = await create(api, project, contact_email="someone@example.org", priority="low")
    assert await get(api, project, created["id"]) == created


async def test_get_unknown_ticket_is_404(api: httpx.AsyncClient, project: ApiProject) -> None:
    response = await api.get(f"{TICKETS}/spt_00000000000000000000000000", headers=project.headers)
    error = assert_error(response, 404, "resource_missing")
    assert error["type"] == "not_found_error"


# --------------------------------------------------------------------------- reply / status


async def test_reply_returns_the_full_updated_ticket(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    created = await create(api, project)
    response = await reply(api, project, created["id"], "Here are the logs.")
    assert response.status_code == 200, response.text
    updated = response.json()
    assert set(updated) == TICKET_KEYS
    assert updated["id"] == created["id"]
    assert updated["message_count"] == 2
    assert [m["body"] for m in updated["messages"]] == ["Something is wrong.", "Here are the logs."]
    assert updated["messages"][0] == created["messages"][0]
    new_message = updated["messages"][1]
    assert new_message["author"] == "customer"
    assert new_message["id"].startswith("spm_")
    assert new_message["id"] != created["messages"][0]["id"]
    assert aware(updated["updated_at"]) >= aware(created["updated_at"])
    assert aware(new_message["created_at"]) == aware(updated["updated_at"])
    assert await get(api, project, created["id"]) == updated


async def test_patch_sets_the_status(api: httpx.AsyncClient, project: ApiProject) -> None:
    ticket = await create(api, project)
    for status in ("pending", "resolved", "open", "resolved"):
        response = await set_status(api, project, ticket["id"], status)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
        assert set(response.json()) == TICKET_KEYS
        assert (await get(api, project, ticket["id"]))["status"] == status
    assert (await get(api, project, ticket["id"]))["message_count"] == 1


async def test_patch_to_the_same_status_is_accepted_and_changes_nothing(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    ticket = await create(api, project)
    response = await set_status(api, project, ticket["id"], "open")
    assert response.status_code == 200, response.text
    assert response.json() == ticket
    assert await get(api, project, ticket["id"]) == ticket


@pytest.mark.parametrize("status", ["resolved", "pending"])
async def test_reply_reopens_a_resolved_or_pending_ticket(
    api: httpx.AsyncClient, project: ApiProject, status: str
) -> None:
    ticket = await create(api, project)
    assert (await set_status(api, project, ticket["id"], status)).status_code == 200
    response = await reply(api, project, ticket["id"], "It is back.")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "open"
    stored = await get(api, project, ticket["id"])
    assert stored["status"] == "open"
    assert stored["messages"][-1]["body"] == "It is back."


async def test_closed_ticket_refuses_replies_and_status_changes(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    ticket = await create(api, project)
    assert (await reply(api, project, ticket["id"], "one more")).status_code == 200
    closed = await set_status(api, project, ticket["id"], "closed")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    before = await get(api, project, ticket["id"])

    refusals = [
        await reply(api, project, ticket["id"], "hello?"),
        await set_status(api, project, ticket["id"], "open"),
        await set_status(api, project, ticket["id"], "resolved"),
    ]
    for response in refusals:
        error = assert_error(response, 409, "ticket_closed")
        assert error["type"] == "conflict_error"
        assert "open a new ticket" in error["message"].lower()

    after = await get(api, project, ticket["id"])
    assert after == before
    assert after["status"] == "closed"
    assert [m["body"] for m in after["messages"]] == ["Something is wrong.", "one more"]


# --------------------------------------------------------------------------- list


async def test_list_is_newest_first_without_threads(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    made = [await create(api, project, subject=f"ticket {n}") for n in range(3)]
    await reply(api, project, made[0]["id"], "a second message")
    page = await list_page(api, project)
    assert set(page) == {"object", "data", "has_more"}
    assert page["object"] == "list"
    assert page["has_more"] is False
    assert ids(page) == [t["id"] for t in reversed(made)]
    for item in page["data"]:
        assert "messages" not in item
        assert set(item) == TICKET_KEYS - {"messages"}
        assert item["object"] == "support_ticket"
    counts = {item["id"]: item["message_count"] for item in page["data"]}
    assert counts == {made[0]["id"]: 2, made[1]["id"]: 1, made[2]["id"]: 1}
    newest = page["data"][0]
    full = await get(api, project, newest["id"])
    assert newest == {k: v for k, v in full.items() if k != "messages"}


async def test_list_of_a_project_without_tickets_is_empty(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    assert await list_page(api, project) == {"object": "list", "data": [], "has_more": False}


async def test_list_limit_and_has_more(api: httpx.AsyncClient, project: ApiProject) -> None:
    made = [(await create(api, project, subject=f"t{n}"))["id"] for n in range(3)]
    newest_first = made[::-1]
    one = await list_page(api, project, limit=1)
    assert (ids(one), one["has_more"]) == (newest_first[:1], True)
    two = await list_page(api, project, limit=2)
    assert (ids(two), two["has_more"]) == (newest_first[:2], True)
    three = await list_page(api, project, limit=3)
    assert (ids(three), three["has_more"]) == (newest_first, False)
    hundred = await list_page(api, project, limit=100)
    assert (ids(hundred), hundred["has_more"]) == (newest_first, False)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc"])
async def test_list_limit_out_of_bounds_is_400(
    api: httpx.AsyncClient, project: ApiProject, limit: str
) -> None:
    response = await api.get(TICKETS, params={"limit": limit}, headers=project.headers)
    error = assert_error(response, 400, "parameter_invalid")
    assert error["param"] == "limit"


async def test_paging_through_five_tickets_both_ways_sees_each_exactly_once(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    made = [(await create(api, project, subject=f"page {n}"))["id"] for n in range(5)]
    newest_first = made[::-1]

    older: list[str] = []
    pages = []
    params: dict[str, str | int] = {"limit": 2}
    while True:
        page = await list_page(api, project, **params)
        pages.append((ids(page), page["has_more"]))
        older += ids(page)
        if not page["has_more"]:
            break
        params = {"limit": 2, "starting_after": older[-1]}
    assert older == newest_first
    assert pages == [
        (newest_first[0:2], True),
        (newest_first[2:4], True),
        (newest_first[4:], False),
    ]

    newer: list[str] = []
    backwards = []
    cursor = newest_first[-1]
    while True:
        page = await list_page(api, project, limit=2, ending_before=cursor)
        backwards.append((ids(page), page["has_more"]))
        newer = ids(page) + newer
        if not page["has_more"]:
            break
        cursor = ids(page)[0]
    assert newer == newest_first[:-1]
    assert backwards == [(newest_first[2:4], True), (newest_first[0:2], False)]


async def test_combining_both_cursors_is_400(api: httpx.AsyncClient, project: ApiProject) -> None:
    first, second = (await create(api, project))["id"], (await create(api, project))["id"]
    response = await api.get(
        TICKETS,
        params={"starting_after": second, "ending_before": first},
        headers=project.headers,
    )
    assert_error(response, 400, "parameter_invalid")


@pytest.mark.parametrize("param", ["starting_after", "ending_before"])
@pytest.mark.parametrize(
    "cursor", ["nope", "spt_", "spt_UPPERCASE00000000000000000", "prj_" + "0" * 26]
)
async def test_malformed_cursor_is_400(
    api: httpx.AsyncClient, project: ApiProject, param: str, cursor: str
) -> None:
    response = await api.get(TICKETS, params={param: cursor}, headers=project.headers)
    error = assert_error(response, 400, "parameter_invalid")
    assert error["param"] == param


async def test_list_status_filter(api: httpx.AsyncClient, project: ApiProject) -> None:
    opened = (await create(api, project))["id"]
    resolved = (await create(api, project))["id"]
    closed_one = (await create(api, project))["id"]
    closed_two = (await create(api, project))["id"]
    await set_status(api, project, resolved, "resolved")
    await set_status(api, project, closed_one, "closed")
    await set_status(api, project, closed_two, "closed")

    assert ids(await list_page(api, project, status="open")) == [opened]
    assert ids(await list_page(api, project, status="resolved")) == [resolved]
    assert ids(await list_page(api, project, status="pending")) == []
    closed = await list_page(api, project, status="closed", limit=1)
    assert (ids(closed), closed["has_more"]) == ([closed_two], True)
    rest = await list_page(api, project, status="closed", starting_after=closed_two)
    assert (ids(rest), rest["has_more"]) == ([closed_one], False)
    for item in (await list_page(api, project, status="closed"))["data"]:
        assert item["status"] == "closed"

    bad = await api.get(TICKETS, params={"status": "archived"}, headers=project.headers)
    assert assert_error(bad, 400, "parameter_invalid")["param"] == "status"
