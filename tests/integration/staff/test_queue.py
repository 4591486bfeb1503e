"""The team's queue: what awaits the team, in priority-queue / due / age order, with filters
and a keyset cursor."""

import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import Runtime
from zumik_api.domain.tickets import Ticket
from zumik_api.service.ports import Customer
from zumik_api.service.tickets import TicketService
from zumik_store.clock import utc_now
from zumik_store.mongo import Document

from tests.conftest import ApiProject, ProjectFactory
from tests.integration.staff.helpers import (
    QUEUE,
    FakeClock,
    StaffUser,
    customer_get,
    customer_reply,
    customer_set_status,
    next_saturday_10am,
    open_ticket,
    parse_time,
    queue_ids,
    queue_page,
    service_at,
    staff_patch,
    staff_reply,
)


async def open_at(
    service: TicketService, db: AsyncDatabase[Document], project: ApiProject, priority: str
) -> Ticket:
    return await service.open(
        Customer(project.id),
        subject=f"{priority} ticket",
        body="Please help.",
        priority=priority,  # type: ignore[arg-type]
        contact_email=None,
    )


async def test_queue_holds_open_and_customer_last_word_pending_only(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    async def new() -> str:
        return str((await open_ticket(api, project))["id"])

    just_opened = await new()
    team_answered_still_open = await new()
    await staff_reply(api, staff, team_answered_still_open, "Looking into it.")
    pending_no_reply = await new()  # the team parked it without answering: customer's word last
    await staff_patch(api, staff, pending_no_reply, status="pending")
    pending_after_note = await new()  # an internal note is not a public word
    await staff_reply(
        api, staff, pending_after_note, "Asked infra.", internal=True, status="pending"
    )
    pending_customer_set = await new()
    await customer_set_status(api, project, pending_customer_set, "pending")
    waiting_on_customer = await new()
    await staff_reply(api, staff, waiting_on_customer, "Can you send logs?", status="pending")
    customer_answered = await new()
    await staff_reply(api, staff, customer_answered, "Can you send logs?", status="pending")
    await customer_reply(api, project, customer_answered, "Here they are.")
    resolved = await new()
    await staff_reply(api, staff, resolved, "Fixed.", status="resolved")
    resolved_by_customer = await new()
    await customer_set_status(api, project, resolved_by_customer, "resolved")
    closed = await new()
    await staff_patch(api, staff, closed, status="closed")

    page = await queue_page(api, staff, project_id=project.id, limit=100)
    listed = {item["id"]: item for item in page["data"]}

    assert set(listed) == {
        just_opened,
        team_answered_still_open,
        pending_no_reply,
        pending_after_note,
        pending_customer_set,
        customer_answered,
    }
    assert all(item["awaiting_team"] is True for item in listed.values())
    assert all(item["project_id"] == project.id for item in listed.values())
    assert listed[customer_answered]["status"] == "open"
    assert listed[pending_no_reply]["status"] == "pending"

    assert set(await queue_ids(api, staff, project_id=project.id, status="pending")) == {
        pending_no_reply,
        pending_after_note,
        pending_customer_set,
    }
    assert set(await queue_ids(api, staff, project_id=project.id, status="open")) == {
        just_opened,
        team_answered_still_open,
        customer_answered,
    }
    for status in ("resolved", "closed"):
        assert await queue_ids(api, staff, project_id=project.id, status=status) == []


async def test_priority_queue_first_then_earliest_due_then_oldest(
    api: httpx.AsyncClient,
    runtime: Runtime,
    db: AsyncDatabase[Document],
    make_project: ProjectFactory,
    staff: StaffUser,
) -> None:
    # Opened on a Saturday morning (default calendar: Mon-Fri 09:00-17:00 UTC), so every
    # business-hours clock starts on Monday 09:00 while the urgent enterprise one runs 24/7.
    start = next_saturday_10am()
    clock = FakeClock(start)
    service = service_at(runtime, clock)
    pilot = await make_project(plan="pilot", name="Pilot")
    enterprise = await make_project(plan="enterprise", name="Enterprise")
    base = await make_project(plan="base", name="Base")
    free = await make_project(plan="free", name="Free")

    clock.set(start - timedelta(hours=20))  # the Friday before, 14:00
    base_early = await open_at(service, db, base, "low")  # 3 h Friday + 5 h: due Monday 14:00
    clock.set(start)
    pilot_normal = await open_at(service, db, pilot, "normal")  # due Monday 13:00
    clock.set(start + timedelta(minutes=1))
    enterprise_urgent = await open_at(service, db, enterprise, "urgent")  # due Saturday 14:01
    clock.set(start + timedelta(minutes=2))
    enterprise_normal = await open_at(service, db, enterprise, "normal")  # due Monday 13:00
    clock.set(start + timedelta(minutes=3))
    free_urgent = await open_at(service, db, free, "urgent")  # no due time
    clock.set(start + timedelta(minutes=4))
    base_low = await open_at(service, db, base, "low")  # due Monday 17:00
    clock.set(start + timedelta(days=2, hours=1))  # Monday 11:00
    pilot_late = await open_at(service, db, pilot, "high")  # due Monday 15:00

    monday = start + timedelta(days=2)
    assert enterprise_urgent.first_response_due_at == start + timedelta(minutes=1, hours=4)
    assert pilot_normal.first_response_due_at == monday.replace(hour=13)
    assert enterprise_normal.first_response_due_at == monday.replace(hour=13)
    assert pilot_late.first_response_due_at == monday.replace(hour=15)
    assert base_early.first_response_due_at == monday.replace(hour=14)
    assert base_low.first_response_due_at == monday.replace(hour=17)
    assert free_urgent.first_response_due_at is None

    created = [
        base_early,
        pilot_normal,
        enterprise_urgent,
        enterprise_normal,
        free_urgent,
        base_low,
        pilot_late,
    ]
    mine = {t.id for t in created}
    ordered = [ticket_id for ticket_id in await queue_ids(api, staff) if ticket_id in mine]
    assert ordered == [
        enterprise_urgent.id,  # priority queue, earliest due though opened later
        pilot_normal.id,  # priority queue, same due as the next one, but older
        enterprise_normal.id,
        pilot_late.id,  # priority queue: before base_early although due later
        base_early.id,  # standard queue, earliest due
        base_low.id,  # a due time sorts before none, though newer
        free_urgent.id,  # community: no target, last despite `urgent`
    ]
    assert await queue_ids(api, staff, project_id=enterprise.id) == [
        enterprise_urgent.id,
        enterprise_normal.id,
    ]


async def test_filters_by_tier_and_project(
    api: httpx.AsyncClient, make_project: ProjectFactory, staff: StaffUser
) -> None:
    pilot = await make_project(plan="pilot", name="Pilot tier")
    free = await make_project(plan="free", name="Free tier")
    pilot_ticket = await open_ticket(api, pilot)
    free_ticket = await open_ticket(api, free)

    priority_tier = await queue_ids(api, staff, tier="priority")
    assert pilot_ticket["id"] in priority_tier
    assert free_ticket["id"] not in priority_tier
    community_tier = await queue_ids(api, staff, tier="community")
    assert free_ticket["id"] in community_tier
    assert pilot_ticket["id"] not in community_tier
    assert await queue_ids(api, staff, tier="priority", project_id=pilot.id) == [pilot_ticket["id"]]
    assert await queue_ids(api, staff, tier="enterprise", project_id=pilot.id) == []
    page = await queue_page(api, staff, tier="community", project_id=free.id)
    assert [item["sla"]["tier"] for item in page["data"]] == ["community"]
    assert page["data"][0]["first_response_due_at"] is None


async def test_breached_filter(
    api: httpx.AsyncClient,
    runtime: Runtime,
    db: AsyncDatabase[Document],
    project: ApiProject,
    staff: StaffUser,
) -> None:
    on_time = await open_ticket(api, project, subject="On time")
    overdue = await open_ticket(api, project, subject="Overdue")
    # A real overdue ticket would take hours to make. Its due time lives twice in the document:
    # `first_response_due_at` (what the ticket says) and `queue_due` (the queue's index key, kept
    # equal to it by every write), so both are moved an hour into the past.
    past = utc_now() - timedelta(hours=1)
    await db.tickets.update_one(
        {"_id": overdue["id"]}, {"$set": {"first_response_due_at": past, "queue_due": past}}
    )
    # Answered, but late: opened 5 h ago as urgent enterprise (due 4 h later, an hour ago).
    late_clock = FakeClock(utc_now() - timedelta(hours=5))
    answered_late = await open_at(service_at(runtime, late_clock), db, project, "urgent")
    await staff_reply(api, staff, answered_late.id, "Sorry for the wait.")

    assert set(await queue_ids(api, staff, project_id=project.id, breached=True)) == {
        overdue["id"],
        answered_late.id,
    }
    assert await queue_ids(api, staff, project_id=project.id, breached=False) == [on_time["id"]]
    page = await queue_page(api, staff, project_id=project.id)
    flags = {item["id"]: item["sla_breached"] for item in page["data"]}
    assert flags == {on_time["id"]: False, overdue["id"]: True, answered_late.id: True}
    assert (await customer_get(api, project, overdue["id"]))["sla_breached"] is True
    assert (await customer_get(api, project, on_time["id"]))["sla_breached"] is False
    late = await customer_get(api, project, answered_late.id)
    assert late["sla_breached"] is True
    assert parse_time(late["first_responded_at"]) > parse_time(late["first_response_due_at"])


async def test_cursor_pagination_returns_each_ticket_once_in_order(
    api: httpx.AsyncClient,
    runtime: Runtime,
    db: AsyncDatabase[Document],
    project: ApiProject,
    staff: StaffUser,
) -> None:
    # All opened at one instant: the four business-hours ones tie on due time and age, so the
    # cursor must also resume correctly on the last key (the id).
    service = service_at(runtime, FakeClock(next_saturday_10am()))
    tickets = [
        await open_at(service, db, project, priority)
        for priority in ("normal", "high", "urgent", "low", "normal")
    ]
    urgent = tickets[2]
    others = sorted(t.id for t in tickets if t is not urgent)
    expected = [urgent.id, *others]

    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int | bool] = {"project_id": project.id, "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await queue_page(api, staff, **params)
        pages.append(page)
        seen.extend(item["id"] for item in page["data"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
        assert cursor is not None
    assert seen == expected
    assert [len(p["data"]) for p in pages] == [2, 2, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert pages[-1]["next_cursor"] is None
    whole = await queue_page(api, staff, project_id=project.id, limit=100)
    assert [item["id"] for item in whole["data"]] == expected


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "abc",
        b64("{not json"),
        b64(json.dumps([0, "2026-01-01T00:00:00+00:00"])),
        b64(json.dumps(["x", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "spt_1"])),
        b64(json.dumps([0, "yesterday", "2026-01-01T00:00:00+00:00", "spt_1"])),
        b64(json.dumps(7)),
        b64('[1e400, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "spt_1"]'),
        b64(json.dumps([10**30, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "x"])),
    ],
    ids=[
        "not-base64",
        "short",
        "not-json",
        "too-few-keys",
        "class-not-int",
        "bad-date",
        "not-a-list",
        "infinite-class",
        "class-too-large",
    ],
)
async def test_invalid_cursor_is_400(api: httpx.AsyncClient, staff: StaffUser, cursor: str) -> None:
    response = await api.get(QUEUE, params={"cursor": cursor}, headers=staff.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "cursor"


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "101"}, {"status": "archived"}, {"tier": "gold"}, {"breached": "x"}],
)
async def test_invalid_queue_parameters_are_400(
    api: httpx.AsyncClient, staff: StaffUser, params: dict[str, str]
) -> None:
    response = await api.get(QUEUE, params=params, headers=staff.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == next(iter(params))
