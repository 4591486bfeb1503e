"""The scheduler's work list follows each ticket's SLA clock: armed when a ticket opens, moved when
its clock moves, dropped once the clock has nothing left to say."""

from datetime import datetime, timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document

from tests.conftest import ApiProject, ProjectFactory
from tests.integration.staff.helpers import StaffUser, open_ticket, staff_patch, staff_reply


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _timer(db: AsyncDatabase[Document], ticket_id: str) -> dict[str, Any] | None:
    return await db.sla_timers.find_one({"_id": ticket_id})


async def test_a_new_ticket_is_armed_for_its_warning(
    api: httpx.AsyncClient, project: ApiProject, db: AsyncDatabase[Document]
) -> None:
    ticket = await open_ticket(api, project, priority="urgent")
    timer = await _timer(db, ticket["id"])
    assert timer is not None
    assert timer["project_id"] == project.id
    created, due = _at(ticket["created_at"]), _at(ticket["first_response_due_at"])
    # 24/7 clock: the warning is at 80 % of the 4 hours.
    assert timer["check_at"] == created + (due - created) * 0.8


async def test_raising_to_urgent_moves_the_timer_earlier(
    api: httpx.AsyncClient, project: ApiProject, db: AsyncDatabase[Document], staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project, priority="low")
    before = await _timer(db, ticket["id"])
    assert before is not None
    raised = await staff_patch(api, staff, ticket["id"], priority="urgent")
    after = await _timer(db, ticket["id"])
    assert after is not None
    created = _at(raised["created_at"])
    assert after["check_at"] == created + timedelta(hours=4) * 0.8
    assert after["check_at"] <= before["check_at"]


async def test_the_first_public_reply_disarms_it_and_a_note_does_not(
    api: httpx.AsyncClient, project: ApiProject, db: AsyncDatabase[Document], staff: StaffUser
) -> None:
    ticket = await open_ticket(api, project)
    await staff_reply(api, staff, ticket["id"], "Looking", internal=True)
    assert await _timer(db, ticket["id"]) is not None
    await staff_reply(api, staff, ticket["id"], "We are on it.")
    assert await _timer(db, ticket["id"]) is None


async def test_closing_disarms_it_and_community_tickets_have_none(
    api: httpx.AsyncClient,
    project: ApiProject,
    make_project: ProjectFactory,
    db: AsyncDatabase[Document],
) -> None:
    ticket = await open_ticket(api, project)
    closed = await api.patch(
        f"/v2/support/tickets/{ticket['id']}", json={"status": "closed"}, headers=project.headers
    )
    assert closed.status_code == 200
    assert await _timer(db, ticket["id"]) is None
    free = await make_project(plan="free")
    community = await open_ticket(api, free)
    assert await _timer(db, community["id"]) is None
