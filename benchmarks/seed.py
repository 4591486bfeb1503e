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
from zumik_contracts.tickets import PLANS, PRIORITIES, Plan
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
ANSWER = (
    "Thanks for the request ids: a proxy cut long-lived streams, and we shipped a fix this "
    "morning. Streaming should be stable again; reply here if you see it once more."
)
BACKLOG_SHARE = 0.10


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


# -- realistic queues and histories ---------------------------------------------------------


def settle_sla(ticket: Ticket, now: datetime) -> None:
    """What earlier scheduler passes left: every warning or breach already due is recorded."""
    if ticket.sla_warning_at is not None and ticket.sla_warning_at <= now:
        ticket.sla_warning_emitted = True
    if ticket.first_response_due_at is not None and ticket.first_response_due_at <= now:
        ticket.sla_breach_emitted = True


def make_due(ticket: Ticket, now: datetime, *, breach: bool) -> None:
    """Just became due: for a warning (80% used), or for a breach (and its warning)."""
    if breach:
        ticket.first_response_due_at = now - timedelta(minutes=1)
        ticket.sla_warning_at = now - timedelta(hours=1)
    else:
        ticket.first_response_due_at = now + timedelta(minutes=30)
        ticket.sla_warning_at = now - timedelta(minutes=1)


def mixed_tickets(
    projects: list[SeedProject], per_project: int, due: dict[int, bool], now: datetime
) -> Iterator[Ticket]:
    rng = random.Random(6)
    for index in range(len(projects) * per_project):
        project = projects[index % len(projects)]
        backlog = rng.random() < BACKLOG_SHARE
        ago = timedelta(days=rng.uniform(1, 10)) if backlog else timedelta(hours=rng.uniform(0, 2))
        ticket = open_ticket(project, now, rng, created_ago=ago)
        if index in due:
            make_due(ticket, now, breach=due[index])
        else:
            settle_sla(ticket, now)
        yield ticket


def sla_timer(ticket: Ticket) -> Document | None:
    """The ticket's entry in the scheduler's work list, as the ticket service keeps it."""
    check_at = ticket.next_sla_check
    if check_at is None:
        return None
    return {"_id": ticket.id, "project_id": ticket.project_id, "check_at": check_at}


async def create_projects(db: AsyncDatabase[Document], count: int) -> list[SeedProject]:
    repository = Projects(db)
    projects: list[SeedProject] = []
    for start in range(0, count, 50):
        made = await asyncio.gather(
            *(
                repository.create(f"bench project {i}", PLANS[i % len(PLANS)])
                for i in range(start, min(count, start + 50))
            )
        )
        projects += [SeedProject(p.id, p.plan) for p in made]
    return projects


def closed_ticket(project: SeedProject, now: datetime, rng: random.Random) -> Ticket:
    """A ticket of the history: opened 3 to 365 days ago, answered by the team two hours later,
    and closed a day after it opened (no longer awaiting the team, no SLA timer)."""
    ago = timedelta(days=rng.uniform(3, 365))
    ticket = open_ticket(project, now, rng, created_ago=ago)
    opened = now - ago
    ticket.reply("support", ANSWER, opened + timedelta(hours=2))
    ticket.set_status("closed", opened + timedelta(days=1), by="support")
    return ticket
