"""Seed data written straight with the driver, in documents the repository's own code builds
(`Ticket.open` and the ticket adapter's document mapping), so they have the real shape."""

import asyncio
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.mongo import Document
from zumik_api.adapters.projects import ProjectRepository
from zumik_api.adapters.staff import StaffRepository
from zumik_api.adapters.tickets import _ticket_doc
from zumik_api.clock import utc_now
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.plans import sla_for
from zumik_api.domain.tickets import Ticket
from zumik_contracts.tickets import PRIORITIES, Plan

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
        plan_tier=project.plan,
        sla=sla_for(project.plan),
        subject=SUBJECT,
        body=BODY,
        priority=rng.choice(PRIORITIES),
        contact_email=f"dev{rng.randrange(1000)}@example.com",
        now=now - created_ago,
        calendar=CALENDAR,
    )


def stored(ticket: Ticket, *, published: bool = True) -> Document:
    """The ticket's document; `published` drops its outbox, as after the relay sent its events."""
    doc = _ticket_doc(ticket)
    if published:
        doc["outbox"] = []
        doc.pop("outbox_at", None)
    return doc


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
    projects = ProjectRepository(db)
    project = await projects.create(name, plan, utc_now())
    return SeedProject(project.id, plan, await projects.new_api_key(project.id, utc_now()))


async def create_staff_token(db: AsyncDatabase[Document]) -> str:
    _, token = await StaffRepository(db).create("bench@zumik.example", utc_now())
    return token
