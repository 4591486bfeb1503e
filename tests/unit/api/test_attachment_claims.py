"""Claims on attached files around the ticket write, on in-memory fakes of the ports: confirmed
once the write committed, given back only when the message is known not to be in the stored
ticket (a write can fail after it landed), and otherwise settled later from the ticket."""

import copy
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

import pytest
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.scope import ProjectScope
from zumik_api.domain.tickets import Ticket
from zumik_api.service.attachments import SETTLE_AFTER, Attachments
from zumik_api.service.ports import Customer, NewUpload, Side
from zumik_api.service.tickets import TicketService

from tests.unit.api.test_ticket_service import MONDAY_10, Clock, Directory, Tickets, Timers, Work

PROJECT = "prj_a"
Outcome = Literal["landed", "lost"]


@dataclass(frozen=True)
class File:
    id: str
    project_id: str = PROJECT
    filename: str = "checkout.har"
    content_type: str = "application/har+json"
    size: int = 100
    sha256: str = "0" * 64
    created_at: datetime = MONDAY_10
    redactions: dict[str, int] = field(default_factory=dict)
    uploaded_by: Side = "customer"
    ticket_id: str | None = None


@dataclass(frozen=True)
class Claim:
    file_id: str
    ticket_id: str | None
    message_id: str | None
    internal: bool
    claimed_at: datetime
    fresh: bool = False
    confirmed: bool = False


@dataclass
class Files:
    """The `Files` port: files and claims in dicts. While `down`, confirming and releasing
    raise, as in a store outage."""

    clock: Clock
    files: dict[str, File] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    down: bool = False

    def add(self, file_id: str) -> File:
        self.files[file_id] = File(file_id)
        return self.files[file_id]

    async def upload(self, upload: NewUpload, content: AsyncIterable[bytes]) -> File:
        raise NotImplementedError

    async def get(self, file_id: str) -> File | None:
        return self.files.get(file_id)

    def content(self, file: object) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def claim_of(self, file_id: str) -> Claim | None:
        return self.claims.get(file_id)

    async def claim(
        self, file: object, *, ticket_id: str, message_id: str, internal: bool
    ) -> Claim:
        assert isinstance(file, File)
        held = self.claims.get(file.id)
        if held is not None:
            return held
        self.claims[file.id] = Claim(file.id, ticket_id, message_id, internal, self.clock())
        return replace(self.claims[file.id], fresh=True)

    async def take_over(
        self, holder: object, *, ticket_id: str, message_id: str, internal: bool
    ) -> Claim:
        raise NotImplementedError

    async def release(self, file_id: str, message_id: str) -> None:
        self._answer()
        held = self.claims.get(file_id)
        if held is not None and held.message_id == message_id:
            del self.claims[file_id]

    async def confirm(self, file_id: str, message_id: str) -> None:
        self._answer()
        held = self.claims.get(file_id)
        if held is not None and held.message_id == message_id:
            self.claims[file_id] = replace(held, confirmed=True)

    async def unconfirmed_claims(self, claimed_before: datetime) -> list[Claim]:
        return [
            c
            for c in self.claims.values()
            if c.message_id is not None and not c.confirmed and c.claimed_at < claimed_before
        ]

    async def delete(self, file_id: str) -> None:
        self.files.pop(file_id, None)
        self.claims.pop(file_id, None)

    def _answer(self) -> None:
        if self.down:
            raise ConnectionError("the store is down")


@dataclass
class FlakyTickets(Tickets):
    """Tickets whose next write fails: after it was applied (`landed`: the answer was lost) or
    before (`lost`). With `then_unreadable`, the failure starts an outage: reads fail too."""

    failing: Outcome | None = None
    then_unreadable: bool = False
    unreadable: bool = False

    async def add(self, ticket: Ticket) -> None:
        add = super().add
        await self._write(lambda: add(ticket))

    async def get(self, ticket_id: str) -> Ticket | None:
        if self.unreadable:
            raise TimeoutError("no answer from the store")
        return await super().get(ticket_id)

    @asynccontextmanager
    async def change(self, ticket_id: str) -> AsyncIterator[Work | None]:
        found = self.stored.get(ticket_id)
        yield None if found is None else FlakyWork(self, copy.deepcopy(found))

    async def _write(self, write: Callable[[], Awaitable[None]]) -> None:
        failing, self.failing = self.failing, None
        if failing != "lost":
            await write()
        if failing is not None:
            self.unreadable = self.then_unreadable
            raise TimeoutError("no answer from the store")


class FlakyWork(Work):
    def __init__(self, tickets: FlakyTickets, ticket: Ticket) -> None:
        super().__init__(tickets, ticket)
        self._flaky = tickets

    async def commit(self) -> None:
        await self._flaky._write(super().commit)


@dataclass
class World:
    service: TicketService
    tickets: FlakyTickets
    files: Files
    clock: Clock

    async def open(self, attachments: Sequence[str] = ()) -> Ticket:
        return await self.service.open(
            Customer(PROJECT),
            subject="Exports are empty",
            body="See the capture.",
            priority="normal",
            contact_email=None,
            attachments=attachments,
        )

    async def reply(self, ticket_id: str, attachments: Sequence[str]) -> Ticket:
        scope = ProjectScope(PROJECT)
        return await self.service.reply(scope, ticket_id, "Here it is.", attachments=attachments)

    async def attach(self, ticket_id: str | None, file_id: str) -> None:
        """Attach the file to a new ticket (`ticket_id` None) or to a reply."""
        if ticket_id is None:
            await self.open([file_id])
        else:
            await self.reply(ticket_id, [file_id])

    def stored_message(self, ticket_id: str) -> tuple[str, list[str]]:
        """The last stored message of the ticket: its id and its files."""
        message = self.tickets.stored[ticket_id].messages[-1]
        return message.id, [a.id for a in message.attachments]


@pytest.fixture
def world() -> World:
    journal: list[tuple[str, ...]] = []
    clock = Clock()
    tickets, files = FlakyTickets(journal), Files(clock)
    service = TicketService(
        tickets,
        Timers(journal),
        Directory({PROJECT: "enterprise"}),
        BusinessCalendar(),
        clock,
        attachments=Attachments(files, tickets, clock),
    )
    return World(service, tickets, files, clock)


async def test_a_committed_write_confirms_its_claims(world: World) -> None:
    first, second = world.files.add("file_1"), world.files.add("file_2")
    ticket = await world.open([first.id])
    await world.reply(ticket.id, [second.id])

    claims = world.files.claims
    assert claims[first.id].message_id == ticket.messages[0].id
    assert claims[second.id].message_id == world.stored_message(ticket.id)[0]
    assert claims[first.id].confirmed
    assert claims[second.id].confirmed


@pytest.mark.parametrize("path", ["open", "reply"])
async def test_a_write_that_landed_before_it_failed_keeps_its_claims(
    world: World, path: str
) -> None:
    """A timeout can come after the store applied the write: the message then lists the file,
    so the claim stays (the erasure finds the file through it; no other message may take it)."""
    file = world.files.add("file_landed")
    ticket_id = None if path == "open" else (await world.open()).id
    world.tickets.failing = "landed"

    with pytest.raises(TimeoutError):
        await world.attach(ticket_id, file.id)

    [ticket_id] = world.tickets.stored
    message_id, files = world.stored_message(ticket_id)
    assert files == [file.id]
    claim = world.files.claims[file.id]
    assert (claim.message_id, claim.confirmed) == (message_id, True)


@pytest.mark.parametrize("path", ["open", "reply"])
async def test_a_write_that_did_not_land_gives_its_files_back(world: World, path: str) -> None:
    file = world.files.add("file_lost")
    ticket_id = None if path == "open" else (await world.open()).id
    world.tickets.failing = "lost"

    with pytest.raises(TimeoutError):
        await world.attach(ticket_id, file.id)

    assert world.files.claims == {}
    retried = await world.open([file.id])
    assert world.files.claims[file.id].message_id == retried.messages[0].id


async def test_when_the_ticket_cannot_be_read_the_claim_waits_to_be_settled(
    world: World,
) -> None:
    ticket = await world.open()
    file = world.files.add("file_unknown")
    world.tickets.failing, world.tickets.then_unreadable = "landed", True

    with pytest.raises(TimeoutError):  # the write's error, not the read's
        await world.reply(ticket.id, [file.id])

    message_id, _ = world.stored_message(ticket.id)
    claim = world.files.claims[file.id]
    assert (claim.message_id, claim.confirmed) == (message_id, False)
    world.tickets.unreadable = False
    world.clock.now += SETTLE_AFTER - timedelta(seconds=1)
    assert await world.service.settle_attachment_claims() == 0
    assert not world.files.claims[file.id].confirmed  # too recent to settle
    world.clock.now += timedelta(seconds=2)
    assert await world.service.settle_attachment_claims() == 0
    assert world.files.claims[file.id].confirmed  # its message is in the ticket


async def test_a_claim_whose_message_was_never_written_is_released_when_settled(
    world: World,
) -> None:
    """The write failed before landing and the release failed too (the same outage): the
    claim stays until settled, then the file is free again (and purged if nobody takes it)."""
    ticket = await world.open()
    file = world.files.add("file_stuck")
    world.tickets.failing, world.files.down = "lost", True

    with pytest.raises(TimeoutError):
        await world.reply(ticket.id, [file.id])

    assert not world.files.claims[file.id].confirmed
    world.files.down = False
    world.clock.now += SETTLE_AFTER + timedelta(seconds=1)
    assert await world.service.settle_attachment_claims() == 1
    assert world.files.claims == {}


async def test_a_claim_whose_ticket_is_gone_is_released_when_settled(world: World) -> None:
    ticket = await world.open()
    file = world.files.add("file_orphan")
    await world.files.claim(file, ticket_id=ticket.id, message_id="msg_never", internal=False)
    await world.tickets.remove(ticket.id)

    world.clock.now += SETTLE_AFTER + timedelta(seconds=1)

    assert await world.service.settle_attachment_claims() == 1
    assert world.files.claims == {}


async def test_a_confirmation_that_fails_fails_no_request(world: World) -> None:
    ticket = await world.open()
    file = world.files.add("file_unconfirmed")
    world.files.down = True

    replied = await world.reply(ticket.id, [file.id])

    assert replied.messages[-1].attachments[0].id == file.id
    assert not world.files.claims[file.id].confirmed
    world.files.down = False
    world.clock.now += SETTLE_AFTER + timedelta(seconds=1)
    await world.service.settle_attachment_claims()
    assert world.files.claims[file.id].confirmed
