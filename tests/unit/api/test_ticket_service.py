"""The ticket use cases on in-memory fakes of their ports: no store, no broker, no HTTP.

The fakes keep one journal of every write in order, so the tests can check what the service
writes and when: the SLA timer is never later than the ticket's clock (an earlier check is
written before the ticket, a later one after it).
"""

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.errors import TicketClosed, TicketNotFound
from zumik_api.domain.scope import TEAM, ProjectScope
from zumik_api.domain.tickets import RequestKey, Ticket
from zumik_api.service.ports import AlreadyStored, Customer, Direction
from zumik_api.service.tickets import ProjectGone, TeamUpdate, TicketService
from zumik_contracts.staff import QueueFilters
from zumik_contracts.tickets import Plan, TicketStatus

MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # inside mon-fri 09:00-17:00 UTC
AGENT = "agent@zumik.example"
Entry = tuple[str, ...]


@dataclass
class Clock:
    now: datetime = MONDAY_10

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Page:
    items: list[Ticket]
    has_more: bool = False
    next_cursor: str | None = None


class Work:
    def __init__(self, tickets: "Tickets", ticket: Ticket) -> None:
        self._tickets = tickets
        self.ticket = ticket

    async def commit(self) -> None:
        if not self.ticket.changed:
            return
        events = tuple(event.type for event in self.ticket.new_events)
        self._tickets.journal.append(("commit", self.ticket.id, *events))
        self._tickets.committed_events += list(self.ticket.new_events)
        self.ticket.mark_saved()
        self._tickets.stored[self.ticket.id] = copy.deepcopy(self.ticket)


@dataclass
class Tickets:
    """The `Tickets` port: a dict of tickets, each change on a copy until it commits."""

    journal: list[Entry]
    stored: dict[str, Ticket] = field(default_factory=dict)
    committed_events: list[object] = field(default_factory=list)
    changes: int = 0

    async def add(self, ticket: Ticket) -> None:
        if ticket.id in self.stored:
            raise AlreadyStored(ticket.id)
        self.journal.append(("add", ticket.id, *(event.type for event in ticket.new_events)))
        self.committed_events += list(ticket.new_events)
        ticket.mark_saved()
        self.stored[ticket.id] = copy.deepcopy(ticket)

    async def get(self, ticket_id: str) -> Ticket | None:
        found = self.stored.get(ticket_id)
        return None if found is None else copy.deepcopy(found)

    async def remove(self, ticket_id: str) -> None:
        self.journal.append(("remove", ticket_id))
        del self.stored[ticket_id]

    @asynccontextmanager
    async def change(self, ticket_id: str) -> AsyncIterator[Work | None]:
        self.changes += 1
        found = await self.get(ticket_id)
        yield None if found is None else Work(self, found)

    async def page(
        self,
        project_id: str,
        *,
        limit: int,
        status: TicketStatus | None,
        cursor: str | None,
        direction: Direction,
    ) -> Page:
        mine = [t for t in self.stored.values() if t.project_id == project_id]
        return Page([t for t in mine if status is None or t.status == status][:limit])

    async def queue_page(
        self, filters: QueueFilters, *, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        waiting = [t for t in self.stored.values() if t.awaiting_team]
        return Page([t for t in waiting if filters.project_id in (None, t.project_id)][:limit])


@dataclass
class Timers:
    journal: list[Entry]
    due_at: dict[str, datetime] = field(default_factory=dict)

    async def start(self, ticket_id: str, project_id: str, check_at: datetime | None) -> None:
        self.journal.append(("start timer", ticket_id, _at(check_at)))
        if check_at is not None:
            self.due_at[ticket_id] = check_at

    async def set(self, ticket_id: str, project_id: str, check_at: datetime | None) -> None:
        self.journal.append(("set timer", ticket_id, _at(check_at)))
        if check_at is None:
            self.due_at.pop(ticket_id, None)
        else:
            self.due_at[ticket_id] = check_at

    async def drop(self, ticket_id: str) -> None:
        self.journal.append(("drop timer", ticket_id))
        self.due_at.pop(ticket_id, None)

    async def due(self, now: datetime) -> list[str]:
        return sorted(t for t, at in self.due_at.items() if at <= now)


def _at(moment: datetime | None) -> str:
    return "none" if moment is None else moment.isoformat()


@dataclass
class Directory:
    """The `Plans` port: each project's plan; `erased` projects are gone though still cached."""

    plans: dict[str, Plan] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)

    async def plan_of(self, project_id: str) -> Plan | None:
        return self.plans.get(project_id)

    async def still_exists(self, project_id: str) -> bool:
        return project_id in self.plans and project_id not in self.erased


@dataclass
class World:
    service: TicketService
    tickets: Tickets
    timers: Timers
    directory: Directory
    clock: Clock
    journal: list[Entry]

    async def open(
        self, project: str = "prj_a", priority: str = "normal", request: RequestKey | None = None
    ) -> Ticket:
        return await self.service.open(
            Customer(project),
            subject="Streaming cuts off",
            body="It stops after 30 s.",
            priority=priority,  # type: ignore[arg-type]
            contact_email="dev@example.com",
            request=request,
        )

    def entries(self, ticket_id: str) -> list[Entry]:
        return [entry for entry in self.journal if entry[1] == ticket_id]


@pytest.fixture
def world() -> World:
    journal: list[Entry] = []
    tickets, timers = Tickets(journal), Timers(journal)
    directory = Directory({"prj_a": "enterprise", "prj_b": "pilot", "prj_free": "free"})
    clock = Clock()
    service = TicketService(tickets, timers, directory, BusinessCalendar(), clock)
    return World(service, tickets, timers, directory, clock, journal)


# --------------------------------------------------------------------------- open


async def test_open_snapshots_the_plan_and_starts_the_timer_before_the_ticket(
    world: World,
) -> None:
    ticket = await world.open()
    assert ticket.plan_tier == "enterprise"
    assert ticket.sla.tier == "enterprise"
    assert ticket.first_response_due_at == MONDAY_10 + timedelta(hours=4)
    warning = MONDAY_10 + timedelta(hours=3, minutes=12)
    assert world.entries(ticket.id) == [
        ("start timer", ticket.id, warning.isoformat()),
        ("add", ticket.id, "ticket.created"),
    ]

    world.directory.plans["prj_a"] = "free"  # a later plan change never alters it
    stored = await world.service.get(ProjectScope("prj_a"), ticket.id)
    assert stored.sla.tier == "enterprise"


async def test_a_community_ticket_has_no_clock(world: World) -> None:
    ticket = await world.open("prj_free")
    assert ticket.first_response_due_at is None
    assert world.entries(ticket.id) == [
        ("start timer", ticket.id, "none"),
        ("add", ticket.id, "ticket.created"),
    ]
    assert world.timers.due_at == {}


async def test_a_project_erased_under_a_cached_key_opens_nothing(world: World) -> None:
    with pytest.raises(ProjectGone):
        await world.open("prj_gone")
    assert world.journal == []


async def test_a_ticket_opened_while_its_project_is_erased_does_not_stay(world: World) -> None:
    """The cache still knew the plan, but the project was erased meanwhile: the ticket that an
    erasure's sweep may have missed is removed again."""
    world.directory.erased.add("prj_a")
    with pytest.raises(ProjectGone):
        await world.open("prj_a")
    assert world.tickets.stored == {}
    assert world.journal[-1][0] == "remove"


async def test_the_same_request_opens_one_ticket_however_often_it_runs(world: World) -> None:
    """A retry of a request whose first run committed (its response was lost) finds that
    ticket instead of opening a second one."""
    request = RequestKey("prj_a:key-1", MONDAY_10)
    first = await world.open(request=request)
    world.clock.now = MONDAY_10 + timedelta(seconds=40)  # the retry comes later
    again = await world.open(request=request)
    assert again.id == first.id
    assert len(world.tickets.stored) == 1
    assert [m.id for m in again.messages] == [m.id for m in first.messages]


async def test_the_same_reply_request_adds_one_message(world: World) -> None:
    ticket = await world.open()
    scope = ProjectScope("prj_a")
    request = RequestKey("prj_a:key-2", MONDAY_10)
    await world.service.reply(scope, ticket.id, "Any news?", request)
    replied = await world.service.reply(scope, ticket.id, "Any news?", request)
    assert [m.body for m in replied.messages] == ["It stops after 30 s.", "Any news?"]


# --------------------------------------------------------------------------- reply, status


async def test_a_customer_reply_reopens_a_resolved_ticket(world: World) -> None:
    ticket = await world.open()
    scope = ProjectScope("prj_a")
    await world.service.set_status(scope, ticket.id, "resolved")
    replied = await world.service.reply(scope, ticket.id, "Still broken.")

    assert replied.status == "open"
    assert [m.body for m in replied.messages] == ["It stops after 30 s.", "Still broken."]
    assert world.entries(ticket.id)[-2:] == [
        ("commit", ticket.id, "ticket.status_changed"),
        ("commit", ticket.id, "ticket.message_added", "ticket.status_changed"),
    ]
    assert (await world.service.get(scope, ticket.id)).status == "open"


async def test_another_projects_ticket_is_not_found_before_any_lease(world: World) -> None:
    ticket = await world.open("prj_a")
    changes_before = world.tickets.changes
    with pytest.raises(TicketNotFound):
        await world.service.reply(ProjectScope("prj_b"), ticket.id, "Let me in.")
    with pytest.raises(TicketNotFound):
        await world.service.get(ProjectScope("prj_b"), ticket.id)
    assert world.tickets.changes == changes_before
    assert world.entries(ticket.id)[-1][0] == "add"


async def test_a_missing_ticket_is_not_found(world: World) -> None:
    with pytest.raises(TicketNotFound):
        await world.service.team_reply(
            TEAM, "spt_missing", "Hello", by=AGENT, internal=False, status=None
        )


async def test_a_closed_ticket_is_final_and_nothing_is_written(world: World) -> None:
    ticket = await world.open()
    scope = ProjectScope("prj_a")
    await world.service.set_status(scope, ticket.id, "closed")
    written = list(world.journal)
    assert world.timers.due_at == {}  # a closed ticket's clock has nothing left to say

    with pytest.raises(TicketClosed):
        await world.service.reply(scope, ticket.id, "One more thing")
    with pytest.raises(TicketClosed):
        await world.service.team_update(TEAM, ticket.id, TeamUpdate(assignee=AGENT), by=AGENT)
    assert world.journal == written


async def test_setting_the_same_status_writes_nothing(world: World) -> None:
    ticket = await world.open()
    written = list(world.journal)
    await world.service.set_status(ProjectScope("prj_a"), ticket.id, "open")
    assert world.journal == written


# --------------------------------------------------------------------------- the team's side


async def test_the_first_public_team_reply_stops_the_clock_after_the_write(
    world: World,
) -> None:
    ticket = await world.open()
    world.clock.now = MONDAY_10 + timedelta(minutes=30)
    answered = await world.service.team_reply(
        TEAM, ticket.id, "We can reproduce it.", by=AGENT, internal=False, status="pending"
    )
    assert answered.first_responded_at == world.clock.now
    assert answered.status == "pending"
    assert world.entries(ticket.id)[-2:] == [
        ("commit", ticket.id, "ticket.message_added", "ticket.status_changed"),
        ("set timer", ticket.id, "none"),  # a later (no) check goes after the ticket
    ]
    assert world.timers.due_at == {}


async def test_an_internal_note_is_no_response_and_records_no_event(world: World) -> None:
    ticket = await world.open()
    noted = await world.service.team_reply(
        TEAM, ticket.id, "Root cause: proxy timeout.", by=AGENT, internal=True, status=None
    )
    assert noted.first_responded_at is None
    assert noted.messages[-1].internal
    assert world.entries(ticket.id)[-1] == ("commit", ticket.id)  # no event, no timer write
    customer_view = await world.service.get(ProjectScope("prj_a"), ticket.id)
    assert customer_view.message_count == 1


async def test_assign_is_kept_in_the_history_without_an_event(world: World) -> None:
    ticket = await world.open()
    assigned = await world.service.team_update(
        TEAM, ticket.id, TeamUpdate(assignee=AGENT), by=AGENT
    )
    assert assigned.assignee == AGENT
    assert [(c.field, c.old, c.new, c.by) for c in assigned.history] == [
        ("assignee", None, AGENT, AGENT)
    ]
    assert world.entries(ticket.id)[-1] == ("commit", ticket.id)

    unassigned = await world.service.team_update(
        TEAM, ticket.id, TeamUpdate(unassign=True), by=AGENT
    )
    assert unassigned.assignee is None


async def test_raising_to_urgent_moves_the_timer_earlier_before_the_write(
    world: World,
) -> None:
    friday_16 = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    world.clock.now = friday_16
    ticket = await world.open(priority="high")  # 4 business hours: due Monday 12:00
    assert ticket.first_response_due_at == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)

    urgent = await world.service.team_update(
        TEAM, ticket.id, TeamUpdate(priority="urgent"), by=AGENT
    )
    assert urgent.first_response_due_at == friday_16 + timedelta(hours=4)  # 24/7 now
    warning = friday_16 + timedelta(hours=3, minutes=12)
    assert world.entries(ticket.id)[-2:] == [
        ("set timer", ticket.id, warning.isoformat()),  # earlier: before the ticket
        ("commit", ticket.id, "ticket.priority_changed"),
    ]


async def test_the_queue_and_the_list_are_scoped(world: World) -> None:
    mine = await world.open("prj_a")
    theirs = await world.open("prj_b")
    page = await world.service.page(
        ProjectScope("prj_a"), limit=10, status=None, cursor=None, direction="older"
    )
    assert [t.id for t in page.items] == [mine.id]
    queue = await world.service.queue_page(TEAM, QueueFilters(), limit=10, cursor=None)
    assert {t.id for t in queue.items} == {mine.id, theirs.id}


# --------------------------------------------------------------------------- the SLA timer


async def test_sla_events_fire_once_each_and_the_timer_follows_the_clock(world: World) -> None:
    ticket = await world.open(priority="urgent")  # enterprise urgent: 4 h, 24/7
    warning = MONDAY_10 + timedelta(hours=3, minutes=12)
    due = MONDAY_10 + timedelta(hours=4)
    assert await world.service.due_sla_checks() == []

    world.clock.now = warning
    assert await world.service.due_sla_checks() == [ticket.id]
    assert await world.service.emit_due_sla_events(TEAM, ticket.id) is True
    assert world.entries(ticket.id)[-2:] == [
        ("commit", ticket.id, "ticket.sla_warning"),
        ("set timer", ticket.id, due.isoformat()),
    ]
    assert await world.service.emit_due_sla_events(TEAM, ticket.id) is False  # nothing due yet

    world.clock.now = due + timedelta(minutes=1)
    assert await world.service.emit_due_sla_events(TEAM, ticket.id) is True
    assert world.entries(ticket.id)[-2:] == [
        ("commit", ticket.id, "ticket.sla_breached"),
        ("set timer", ticket.id, "none"),
    ]
    assert await world.service.emit_due_sla_events(TEAM, ticket.id) is False
    events = [
        e for e in world.tickets.committed_events if getattr(e, "type", "").startswith("ticket.sla")
    ]
    assert [getattr(e, "type", None) for e in events] == [
        "ticket.sla_warning",
        "ticket.sla_breached",
    ]


async def test_a_timer_whose_ticket_is_gone_is_dropped(world: World) -> None:
    await world.timers.start("spt_gone", "prj_a", MONDAY_10)
    with pytest.raises(TicketNotFound):
        await world.service.emit_due_sla_events(TEAM, "spt_gone")
    assert world.journal[-1] == ("drop timer", "spt_gone")
    assert world.timers.due_at == {}
