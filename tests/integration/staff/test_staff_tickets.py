"""The team's ticket view, replies and triage, and what the customer sees of them."""

from datetime import timedelta

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import Runtime, calendar_from
from zumik_store.mongo import Document

from tests.conftest import ApiProject, ProjectFactory
from tests.integration.staff.helpers import (
    STAFF,
    StaffUser,
    customer_get,
    customer_reply,
    open_ticket,
    parse_time,
    staff_get,
    staff_patch,
    staff_reply,
)


async def test_staff_view_has_the_whole_thread_notes_and_history(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project, body="It broke.", contact_email="dev@example.com")
    await staff_reply(api, staff, ticket["id"], "Customer is on the old SDK.", internal=True)
    await staff_reply(api, staff, ticket["id"], "Please upgrade the SDK.", status="pending")
    await customer_reply(api, project, ticket["id"], "Upgraded, still broken.")

    seen = await staff_get(api, staff, ticket["id"])

    assert seen["id"] == ticket["id"]
    assert seen["project_id"] == project.id
    assert seen["contact_email"] == "dev@example.com"
    assert [(m["author"], m["internal"], m["body"]) for m in seen["messages"]] == [
        ("customer", False, "It broke."),
        ("support", True, "Customer is on the old SDK."),
        ("support", False, "Please upgrade the SDK."),
        ("customer", False, "Upgraded, still broken."),
    ]
    assert seen["message_count"] == 3  # public messages
    assert seen["status"] == "open"
    assert seen["awaiting_team"] is True
    assert [(h["field"], h["old"], h["new"], h["by"]) for h in seen["history"]] == [
        ("status", "open", "pending", staff.email),
        ("status", "pending", "open", "customer"),
    ]


async def test_first_public_reply_sets_first_responded_at_and_notes_do_not(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project)
    assert ticket["first_responded_at"] is None

    noted = await staff_reply(api, staff, ticket["id"], "Checking logs.", internal=True)
    assert noted["first_responded_at"] is None
    assert noted["messages"][-1]["internal"] is True
    assert noted["messages"][-1]["author"] == "support"
    assert noted["status"] == "open"

    replied = await staff_reply(api, staff, ticket["id"], "Found it.", internal=False)
    first = replied["first_responded_at"]
    assert first is not None
    assert parse_time(first) == parse_time(replied["messages"][-1]["created_at"])
    assert replied["messages"][-1]["author"] == "support"
    assert replied["messages"][-1]["internal"] is False
    assert replied["sla_breached"] is False

    again = await staff_reply(api, staff, ticket["id"], "One more thing.")
    assert again["first_responded_at"] == first  # only the first public reply counts


async def test_reply_sets_the_status_in_the_same_call(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project)
    replied = await staff_reply(api, staff, ticket["id"], "Could you send logs?", status="pending")
    assert replied["status"] == "pending"
    assert replied["awaiting_team"] is False
    assert replied["history"][-1]["field"] == "status"
    assert replied["history"][-1]["new"] == "pending"
    assert replied["history"][-1]["by"] == staff.email
    seen = await customer_get(api, project, ticket["id"])
    assert seen["status"] == "pending"
    assert seen["messages"][-1]["body"] == "Could you send logs?"


async def test_patch_records_priority_status_and_assignee_changes(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project, priority="normal")
    assignee = "owner@zumik.example"

    changed = await staff_patch(
        api, staff, ticket["id"], priority="high", status="pending", assignee=assignee
    )
    assert (changed["priority"], changed["status"], changed["assignee"]) == (
        "high",
        "pending",
        assignee,
    )
    unassigned = await staff_patch(api, staff, ticket["id"], assignee=None)
    assert unassigned["assignee"] is None
    assert unassigned["priority"] == "high"  # fields not sent stay as they are
    unchanged = await staff_patch(api, staff, ticket["id"], priority="high")

    history = [(h["field"], h["old"], h["new"], h["by"]) for h in unchanged["history"]]
    assert history == [
        ("priority", "normal", "high", staff.email),
        ("assignee", None, assignee, staff.email),
        ("status", "open", "pending", staff.email),
        ("assignee", assignee, None, staff.email),
    ]
    assert all(h["at"] for h in unchanged["history"])
    seen = await customer_get(api, project, ticket["id"])
    assert (seen["priority"], seen["status"]) == ("high", "pending")
    assert "history" not in seen
    assert "assignee" not in seen


async def test_urgent_moves_an_enterprise_ticket_onto_the_24_7_clock(
    api: httpx.AsyncClient, runtime: Runtime, project: ApiProject, staff: StaffUser
) -> None:
    assert project.plan == "enterprise"
    ticket = await open_ticket(api, project, priority="normal")
    created = parse_time(ticket["created_at"])
    calendar = calendar_from(runtime.settings)
    business_due = calendar.add_business_time(created, timedelta(hours=4))
    assert parse_time(ticket["first_response_due_at"]) == business_due

    urgent = await staff_patch(api, staff, ticket["id"], priority="urgent")
    assert parse_time(urgent["first_response_due_at"]) == created + timedelta(hours=4)
    customer_view = await customer_get(api, project, ticket["id"])
    assert parse_time(customer_view["first_response_due_at"]) == created + timedelta(hours=4)

    back = await staff_patch(api, staff, ticket["id"], priority="normal")
    assert parse_time(back["first_response_due_at"]) == business_due
    assert [(h["old"], h["new"]) for h in back["history"]] == [
        ("normal", "urgent"),
        ("urgent", "normal"),
    ]


async def test_urgent_does_not_move_a_pilot_ticket_off_business_hours(
    api: httpx.AsyncClient,
    runtime: Runtime,
    make_project: ProjectFactory,
    staff: StaffUser,
) -> None:
    pilot = await make_project(plan="pilot", name="Pilot urgent")
    ticket = await open_ticket(api, pilot, priority="normal")
    created = parse_time(ticket["created_at"])
    business_due = calendar_from(runtime.settings).add_business_time(created, timedelta(hours=4))
    urgent = await staff_patch(api, staff, ticket["id"], priority="urgent")
    assert parse_time(urgent["first_response_due_at"]) == business_due


async def test_raising_priority_after_the_first_response_keeps_the_due_time(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project, priority="normal")
    await staff_reply(api, staff, ticket["id"], "On it.")
    urgent = await staff_patch(api, staff, ticket["id"], priority="urgent")
    assert urgent["first_response_due_at"] == ticket["first_response_due_at"]


async def test_a_closed_ticket_refuses_staff_replies_and_changes(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject, staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project)
    await staff_patch(api, staff, ticket["id"], status="closed")
    before = await db.tickets.find_one({"_id": ticket["id"]})

    attempts = [
        ("POST", f"{STAFF}/tickets/{ticket['id']}/messages", {"body": "Hello?"}),
        ("POST", f"{STAFF}/tickets/{ticket['id']}/messages", {"body": "n", "internal": True}),
        ("PATCH", f"{STAFF}/tickets/{ticket['id']}", {"priority": "urgent"}),
        ("PATCH", f"{STAFF}/tickets/{ticket['id']}", {"status": "open"}),
        ("PATCH", f"{STAFF}/tickets/{ticket['id']}", {"assignee": "x@zumik.example"}),
    ]
    for method, path, payload in attempts:
        response = await api.request(method, path, json=payload, headers=staff.headers)
        assert response.status_code == 409, (payload, response.text)
        assert response.json()["error"]["code"] == "ticket_closed"

    after = await db.tickets.find_one({"_id": ticket["id"]})
    assert before is not None
    assert after is not None
    assert after["messages"] == before["messages"]
    assert after["history"] == before["history"]
    assert (after["status"], after["priority"]) == ("closed", "normal")


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"body": ""},
        {"body": "   "},
        {"body": "x", "status": "archived"},
        {"body": "x", "internal": "maybe"},
        {"body": "x", "author": "customer"},
    ],
)
async def test_invalid_staff_replies_are_400(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser, payload: dict[str, object]
) -> None:
    ticket = await open_ticket(api, project)
    response = await api.post(
        f"{STAFF}/tickets/{ticket['id']}/messages", json=payload, headers=staff.headers
    )
    assert response.status_code == 400, response.text
    assert len((await staff_get(api, staff, ticket["id"]))["messages"]) == 1


# ------------------------------------------------------------------- the customer's side


async def test_customer_sees_support_replies_and_sla_fields(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project, priority="urgent")
    created = parse_time(ticket["created_at"])
    assert parse_time(ticket["first_response_due_at"]) == created + timedelta(hours=4)
    assert ticket["first_responded_at"] is None
    assert ticket["sla_breached"] is False

    await staff_reply(api, staff, ticket["id"], "We are looking at it.")
    seen = await customer_get(api, project, ticket["id"])

    assert [(m["author"], m["body"]) for m in seen["messages"]] == [
        ("customer", ticket["messages"][0]["body"]),
        ("support", "We are looking at it."),
    ]
    assert all("internal" not in m for m in seen["messages"])
    assert parse_time(seen["first_responded_at"]) == parse_time(seen["messages"][1]["created_at"])
    assert seen["sla_breached"] is False
    listed = await api.get("/v2/support/tickets", headers=project.headers)
    item = listed.json()["data"][0]
    assert item["id"] == ticket["id"]
    assert item["message_count"] == 2
    assert item["first_responded_at"] == seen["first_responded_at"]
    assert item["first_response_due_at"] == seen["first_response_due_at"]
    assert item["sla_breached"] is False


async def test_community_tickets_have_no_due_time(
    api: httpx.AsyncClient, make_project: ProjectFactory, staff: StaffUser
) -> None:
    free = await make_project(plan="free", name="Community")
    ticket = await open_ticket(api, free, priority="urgent")
    assert ticket["sla"]["tier"] == "community"
    assert "first_response_due_at" in ticket
    assert ticket["first_response_due_at"] is None
    assert ticket["sla_breached"] is False
    await staff_reply(api, staff, ticket["id"], "Thanks for the report.")
    seen = await customer_get(api, free, ticket["id"])
    assert seen["first_response_due_at"] is None
    assert seen["first_responded_at"] is not None
    assert seen["sla_breached"] is False


@pytest.mark.parametrize("parked", ["pending", "resolved"])
async def test_customer_reply_reopens_a_pending_or_resolved_ticket(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser, parked: str
) -> None:
    ticket = await open_ticket(api, project)
    await staff_reply(api, staff, ticket["id"], "Try again now?", status=parked)
    assert (await customer_get(api, project, ticket["id"]))["status"] == parked

    reopened = await customer_reply(api, project, ticket["id"], "Still broken.")
    assert reopened["status"] == "open"
    history = (await staff_get(api, staff, ticket["id"]))["history"]
    assert (history[-1]["old"], history[-1]["new"], history[-1]["by"]) == (
        parked,
        "open",
        "customer",
    )


async def test_customer_cannot_reply_to_a_ticket_the_team_closed(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project)
    await staff_reply(api, staff, ticket["id"], "Closing as fixed.", status="closed")
    response = await api.post(
        f"/v2/support/tickets/{ticket['id']}/messages",
        json={"body": "wait"},
        headers=project.headers,
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ticket_closed"
    # `closed` is final for the customer too, even when asking for the status it already has.
    response = await api.patch(
        f"/v2/support/tickets/{ticket['id']}", json={"status": "open"}, headers=project.headers
    )
    assert response.status_code == 409
    seen = await customer_get(api, project, ticket["id"])
    assert seen["status"] == "closed"
    assert seen["messages"][-1]["body"] == "Closing as fixed."
