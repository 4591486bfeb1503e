"""Shared helpers for the Zumik team's side: staff users, ticket calls, a fake clock, events."""

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aio_pika.abc import AbstractQueue
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import Runtime, ticket_service
from zumik_api.service.tickets import TicketService
from zumik_store.mongo import Document

from tests.conftest import ApiProject

TICKETS = "/v2/support/tickets"
STAFF = "/v2/support/staff"
QUEUE = f"{STAFF}/queue"


@dataclass(frozen=True)
class StaffUser:
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def service_at(runtime: Runtime, clock: "FakeClock") -> TicketService:
    """The app's ticket use cases on a clock we set, so creation instants are exact; their
    events go to the app's relay."""
    return ticket_service(
        runtime.store, runtime.directory, runtime.settings, clock, runtime.relay.notify
    )


class FakeClock:
    """A controllable `Clock`: returns `now` until moved; never sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


def parse_time(value: object) -> datetime:
    assert isinstance(value, str), value
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def next_saturday_10am() -> datetime:
    """A Saturday 10:00 UTC at least a week ahead: outside the default business hours, and in
    the real future so the app's own SLA scheduler (real clock) never touches these tickets."""
    day = datetime.now(UTC).date() + timedelta(days=7)
    while day.weekday() != 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


async def open_ticket(
    api: httpx.AsyncClient,
    project: ApiProject,
    *,
    subject: str = "Streaming cuts off",
    body: str = "When I set stream:true the response stops.",
    priority: str = "normal",
    contact_email: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"subject": subject, "body": body, "priority": priority}
    if contact_email is not None:
        payload["contact_email"] = contact_email
    response = await api.post(TICKETS, json=payload, headers=project.headers)
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def customer_get(
    api: httpx.AsyncClient, project: ApiProject, ticket_id: str
) -> dict[str, Any]:
    response = await api.get(f"{TICKETS}/{ticket_id}", headers=project.headers)
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def customer_reply(
    api: httpx.AsyncClient, project: ApiProject, ticket_id: str, body: str
) -> dict[str, Any]:
    response = await api.post(
        f"{TICKETS}/{ticket_id}/messages", json={"body": body}, headers=project.headers
    )
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def customer_set_status(
    api: httpx.AsyncClient, project: ApiProject, ticket_id: str, status: str
) -> dict[str, Any]:
    response = await api.patch(
        f"{TICKETS}/{ticket_id}", json={"status": status}, headers=project.headers
    )
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def staff_get(api: httpx.AsyncClient, staff: StaffUser, ticket_id: str) -> dict[str, Any]:
    response = await api.get(f"{STAFF}/tickets/{ticket_id}", headers=staff.headers)
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def staff_reply(
    api: httpx.AsyncClient,
    staff: StaffUser,
    ticket_id: str,
    body: str,
    *,
    internal: bool | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body}
    if internal is not None:
        payload["internal"] = internal
    if status is not None:
        payload["status"] = status
    response = await api.post(
        f"{STAFF}/tickets/{ticket_id}/messages", json=payload, headers=staff.headers
    )
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def staff_patch(
    api: httpx.AsyncClient, staff: StaffUser, ticket_id: str, **fields: Any
) -> dict[str, Any]:
    response = await api.patch(f"{STAFF}/tickets/{ticket_id}", json=fields, headers=staff.headers)
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def queue_page(
    api: httpx.AsyncClient, staff: StaffUser, **params: str | int | bool
) -> dict[str, Any]:
    query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
    response = await api.get(QUEUE, params=query, headers=staff.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def queue_ids(
    api: httpx.AsyncClient, staff: StaffUser, **params: str | int | bool
) -> list[str]:
    """Every ticket id of the (filtered) queue, in queue order, following the cursor."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        extra: dict[str, str | int | bool] = {"limit": 100, **params}
        if cursor is not None:
            extra["cursor"] = cursor
        page = await queue_page(api, staff, **extra)
        ids.extend(item["id"] for item in page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return ids
        cursor = page["next_cursor"]


class EventTap:
    """An exclusive queue bound to `zumik.support` with `#`; keeps every event it has read.

    RabbitMQ is shared with other test sessions, so events are always looked up by ticket id.
    """

    def __init__(self, queue: AbstractQueue) -> None:
        self.queue = queue
        self.events: list[dict[str, Any]] = []

    async def settle(
        self,
        db: AsyncDatabase[Document],
        runtime: Runtime,
        ticket_ids: list[str],
        wait_seconds: float = 15.0,
    ) -> None:
        """Publish every pending outbox event of these tickets, then read all that arrived.

        An event is acknowledged only once RabbitMQ confirmed it (it is then in our queue), so
        once none of the tickets has an unacknowledged event, reading the queue until it is
        empty sees every event they ever recorded.
        """
        async with asyncio.timeout(wait_seconds):
            while True:
                await runtime.relay.drain()
                if await runtime.ledger.count_unpublished(ticket_ids=ticket_ids) == 0:
                    break
                await asyncio.sleep(0.05)
            empty_reads = 0
            while empty_reads < 3:
                message = await self.queue.get(fail=False, no_ack=True)
                if message is None:
                    empty_reads += 1
                    await asyncio.sleep(0.05)
                    continue
                empty_reads = 0
                self.events.append(json.loads(message.body))

    def for_ticket(self, ticket_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """Distinct events (by event id; delivery is at-least-once) of one ticket."""
        seen: dict[str, dict[str, Any]] = {}
        for event in self.events:
            if event["data"]["ticket_id"] != ticket_id:
                continue
            if event_type is None or event["type"] == event_type:
                seen.setdefault(event["id"], event)
        return list(seen.values())
