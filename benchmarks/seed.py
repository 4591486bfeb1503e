"""Seed data written straight with the driver, in documents the repository's own code builds
(`Ticket.open` and the tickets library's document mapping, `zumik_tickets.documents`), so they
have the real shape."""

import asyncio
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_accounts.staff import Staff
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.tickets import Ticket
from zumik_contracts.events import OutboxEntry
from zumik_contracts.tickets import PRIORITIES, Plan
from zumik_store.mongo import Document
from zumik_tickets.documents import ticket_document

CALENDAR = BusinessCalendar()  # the API's default: Mon-Fri 09:00-17:00 UTC
BATCH = 1000
SUBJECT = "Streaming cuts off mid-response"
BODY = (
    "When I set stream:true the response stops after a few chunks, roughly one request in "
    "twenty. It started yesterday on our production project; non-streaming calls are fine. "
    "Request ids are attached below."
)
REPLY = "Here is one more request id that failed the same way: req_8f2b41c0. Thanks for looking."


@dataclass(frozen=True)
class SeedProject:
    id: str
    plan: Plan
    api_key: str | None = None


def open_ticket(
    project: SeedProject, now: datetime, rng: random.Random, *, created_ago: timedelta
) -> Ticket:
    return Ticket.open(
        project_id=project.id,
        plan=project.plan,
        subject=SUBJECT,
        body=BODY,
        priority=rng.choice(PRIORITIES),
        contact_email=f"dev{rng.randrange(1000)}@example.com",
        now=now - created_ago,
        calendar=CALENDAR,
    )


def opening_outbox(ticket: Ticket) -> list[OutboxEntry]:
    """The events of the ticket's opening, as the API's ticket adapter wraps them (no trace)."""
    return [OutboxEntry(event=event, traceparent=None) for event in ticket.new_events]


def stored(ticket: Ticket, *, published: bool = True) -> Document:
    """The document the API inserts for a new ticket; `published` leaves its outbox empty (no
    `outbox_at`), as after the relay sent its events."""
    return ticket_document(ticket, [] if published else opening_outbox(ticket), fence="")


def project_tickets(
    project: SeedProject, count: int, now: datetime, rng: random.Random, *, published: bool = True
) -> Iterator[Document]:
    """`count` tickets of one project, opened over the last hour, oldest first."""
    for i in range(count):
        ago = timedelta(seconds=3600 * (count - i) / count)
        yield stored(open_ticket(project, now, rng, created_ago=ago), published=published)


async def insert_all(collection: AsyncCollection[Document], docs: Iterable[Document]) -> int:
    """insert_many in batches, the next batch built (in a thread) while the store writes the
    last one; the number inserted."""
    iterator = iter(docs)

    def next_batch() -> list[Document]:
        return list(islice(iterator, BATCH))

    inserted = 0
    batch = next_batch()
    while batch:
        writing = asyncio.create_task(collection.insert_many(batch, ordered=False))
        following = await asyncio.to_thread(next_batch)
        await writing
        inserted += len(batch)
        batch = following
    return inserted


async def create_project(db: AsyncDatabase[Document], name: str, plan: Plan) -> SeedProject:
    projects = Projects(db)
    project = await projects.create(name, plan)
    issued = await projects.new_api_key(project.id)
    return SeedProject(project.id, plan, issued.api_key)


async def create_staff_token(db: AsyncDatabase[Document]) -> str:
    issued = await Staff(db).create("bench@zumik.example")
    return issued.token
