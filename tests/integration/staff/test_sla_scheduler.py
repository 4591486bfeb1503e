"""The SLA scheduler on a clock we move: a warning at 80%, a breach at the due time, each once
per ticket, even with several schedulers; never for a ticket answered in time. No sleeping.

The app's own scheduler runs with the real clock meanwhile; every ticket here is due hours from
now in real time, so it never touches them, and assertions count events per ticket id.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import Runtime
from zumik_api.workers.sla_scheduler import SlaScheduler
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.staff.helpers import (
    EventTap,
    FakeClock,
    StaffUser,
    customer_get,
    open_ticket,
    parse_time,
    service_at,
    staff_reply,
)

WARNING = "ticket.sla_warning"
BREACH = "ticket.sla_breached"


def make_scheduler(runtime: Runtime, clock: FakeClock) -> SlaScheduler:
    return SlaScheduler(service_at(runtime, clock))


async def urgent_ticket(api: httpx.AsyncClient, project: ApiProject) -> tuple[str, datetime]:
    ticket = await open_ticket(api, project, priority="urgent", subject="Production is down")
    created = parse_time(ticket["created_at"])
    assert parse_time(ticket["first_response_due_at"]) == created + timedelta(hours=4)
    return str(ticket["id"]), created


async def flags(db: AsyncDatabase[Document], ticket_id: str) -> tuple[bool, bool]:
    doc = await db.tickets.find_one({"_id": ticket_id})
    assert doc is not None
    return bool(doc["sla_warning_emitted"]), bool(doc["sla_breach_emitted"])


def times(events: list[dict[str, Any]]) -> list[datetime]:
    return [parse_time(e["occurred_at"]) for e in events]


async def test_warning_at_80_percent_then_breach_each_exactly_once(
    api: httpx.AsyncClient,
    runtime: Runtime,
    db: AsyncDatabase[Document],
    project: ApiProject,
    event_tap: EventTap,
) -> None:
    ticket_id, created = await urgent_ticket(api, project)
    clock = FakeClock(created + timedelta(hours=3))  # 75% of the 4 h: too early for a warning
    scheduler = make_scheduler(runtime, clock)

    await scheduler.run_pass()
    assert await flags(db, ticket_id) == (False, False)

    clock.set(created + timedelta(hours=3, minutes=15))  # 81%
    await scheduler.run_pass()
    assert await flags(db, ticket_id) == (True, False)
    await scheduler.run_pass()

    clock.set(created + timedelta(hours=5))
    await scheduler.run_pass()
    assert await flags(db, ticket_id) == (True, True)
    for later in (5, 6):
        clock.set(created + timedelta(hours=later))
        await scheduler.run_pass()

    await event_tap.settle(db, runtime, [ticket_id])
    warnings = event_tap.for_ticket(ticket_id, WARNING)
    breaches = event_tap.for_ticket(ticket_id, BREACH)
    assert times(warnings) == [created + timedelta(hours=3, minutes=15)]
    assert times(breaches) == [created + timedelta(hours=5)]
    assert breaches[0]["project_id"] == project.id
    assert breaches[0]["data"]["sla_tier"] == "enterprise"
    assert breaches[0]["data"]["message"] is None


async def test_concurrent_schedulers_record_one_breach_per_ticket(
    api: httpx.AsyncClient,
    runtime: Runtime,
    db: AsyncDatabase[Document],
    project: ApiProject,
    event_tap: EventTap,
) -> None:
    opened = [await urgent_ticket(api, project) for _ in range(3)]
    ticket_ids = [ticket_id for ticket_id, _ in opened]
    overdue = max(created for _, created in opened) + timedelta(hours=5)
    schedulers = [make_scheduler(runtime, FakeClock(overdue)) for _ in range(3)]

    await asyncio.gather(*(s.run_pass() for s in schedulers))
    await asyncio.gather(*(s.run_pass() for s in schedulers))

    await event_tap.settle(db, runtime, ticket_ids)
    for ticket_id in ticket_ids:
        assert len(event_tap.for_ticket(ticket_id, BREACH)) == 1, ticket_id
        assert len(event_tap.for_ticket(ticket_id, WARNING)) == 1, ticket_id
        assert await flags(db, ticket_id) == (True, True)


async def test_a_ticket_answered_in_time_never_breaches(
    api: httpx.AsyncClient,
    runtime: Runtime,
    db: AsyncDatabase[Document],
    project: ApiProject,
    staff: StaffUser,
    event_tap: EventTap,
) -> None:
    answered_id, created = await urgent_ticket(api, project)
    warned_then_answered_id, created_2 = await urgent_ticket(api, project)
    unanswered_id, _ = await urgent_ticket(api, project)  # the control: this one does breach
    clock = FakeClock(created_2 + timedelta(hours=3, minutes=30))
    scheduler = make_scheduler(runtime, clock)

    await staff_reply(api, staff, answered_id, "Looking at it now.")  # real time: well in time
    await scheduler.run_pass()
    assert await flags(db, warned_then_answered_id) == (True, False)
    await staff_reply(api, staff, warned_then_answered_id, "Fixed the config.")

    for hours in (5, 6):
        clock.set(created + timedelta(hours=hours))
        await scheduler.run_pass()

    await event_tap.settle(db, runtime, [answered_id, warned_then_answered_id, unanswered_id])
    assert event_tap.for_ticket(answered_id, WARNING) == []
    assert event_tap.for_ticket(answered_id, BREACH) == []
    assert len(event_tap.for_ticket(warned_then_answered_id, WARNING)) == 1
    assert event_tap.for_ticket(warned_then_answered_id, BREACH) == []
    assert len(event_tap.for_ticket(unanswered_id, BREACH)) == 1
    for ticket_id in (answered_id, warned_then_answered_id):
        assert (await flags(db, ticket_id))[1] is False
        seen = await customer_get(api, project, ticket_id)
        assert seen["sla_breached"] is False
        assert seen["first_responded_at"] is not None


async def test_a_closed_unanswered_ticket_records_nothing(
    api: httpx.AsyncClient,
    runtime: Runtime,
    db: AsyncDatabase[Document],
    project: ApiProject,
    event_tap: EventTap,
) -> None:
    ticket_id, created = await urgent_ticket(api, project)
    response = await api.patch(
        f"/v2/support/tickets/{ticket_id}", json={"status": "closed"}, headers=project.headers
    )
    assert response.status_code == 200
    scheduler = make_scheduler(runtime, FakeClock(created + timedelta(hours=5)))
    await scheduler.run_pass()
    await event_tap.settle(db, runtime, [ticket_id])
    assert event_tap.for_ticket(ticket_id, WARNING) == []
    assert event_tap.for_ticket(ticket_id, BREACH) == []
    assert await flags(db, ticket_id) == (False, False)
