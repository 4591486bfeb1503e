"""The relay while RabbitMQ is unreachable (issue 15): it pauses instead of storming.

With a publisher that fails every publish while it is "down" and answers `ping` accordingly, as
the real one does while its connection is away: no publish is attempted between the failure that
paused the relay and the connection coming back, however many tickets are committed meanwhile; it
logs one line when it pauses and one, with the counts, when it resumes; what it held then goes out
at once. And a commit never re-attempts other tickets.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.events import UnroutableEvent
from zumik_api.adapters.relay import OutboxRelay
from zumik_api.bootstrap import calendar_from
from zumik_api.domain.tickets import Ticket
from zumik_api.settings import Settings
from zumik_contracts import ids
from zumik_contracts.events import OutboxEntry
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_tickets.outbox import OutboxLedger
from zumik_tickets.store import TicketStore

WAIT_SECONDS = 10.0


class SwitchablePublisher:
    """A broker that is up or down; every attempt is noted."""

    def __init__(self) -> None:
        self.up = True
        self.attempted: list[OutboxEntry] = []
        self.published: list[OutboxEntry] = []
        self.unroutable: set[str] = set()  # ticket ids whose events come back

    async def ping(self) -> bool:
        return self.up

    async def publish(self, entry: OutboxEntry) -> None:
        self.attempted.append(entry)
        if not self.up:
            raise ConnectionError("broker down")
        if entry.event.data.ticket_id in self.unroutable:
            raise UnroutableEvent(entry.event.type)
        self.published.append(entry)


async def _stored(db: AsyncDatabase[Document], settings: Settings) -> tuple[str, list[OutboxEntry]]:
    """A ticket written as the API writes it, with its outbox unpublished."""
    ticket = Ticket.open(
        project_id=ids.new_id(ids.PROJECT),
        plan="enterprise",
        subject="Timeouts",
        body="Requests time out after 30 s.",
        priority="normal",
        contact_email=None,
        now=utc_now(),
        calendar=calendar_from(settings),
    )
    outbox = [OutboxEntry(event=event) for event in ticket.new_events]
    await TicketStore(db, OutboxLedger(db)).insert(ticket, outbox)
    return ticket.id, outbox


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_SECONDS} s")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    task = asyncio.create_task(relay.run())
    try:
        await _until(lambda: relay.broker_connected and not relay.paused, "relay running")
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _relay(
    db: AsyncDatabase[Document], publisher: SwitchablePublisher, retry_every: float
) -> OutboxRelay:
    # No sweep during the test: only what the test hands over is relayed.
    return OutboxRelay(
        publisher,
        OutboxLedger(db),
        utc_now,
        retry_every=retry_every,
        sweep_every=3600,
        sweep_grace=timedelta(hours=1),
    )


def _relay_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "zumik_api.relay" and r.levelno >= logging.WARNING
    ]


async def test_an_outage_pauses_the_relay_until_the_connection_is_back(
    own_db: AsyncDatabase[Document], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = SwitchablePublisher()
    caplog.set_level(logging.INFO, logger="zumik_api.relay")
    async with running(_relay(own_db, publisher, retry_every=0.05)) as relay:
        first, first_outbox = await _stored(own_db, settings)
        relay.notify(first, first_outbox)
        await _until(lambda: len(publisher.published) == 1, "the first event published")

        publisher.up = False  # RabbitMQ goes away
        held = [await _stored(own_db, settings) for _ in range(10)]
        for ticket_id, outbox in held:
            relay.notify(ticket_id, outbox)
            await asyncio.sleep(0.02)  # commits keep coming, over many retry periods
        await asyncio.sleep(0.5)
        assert relay.paused
        assert not relay.broker_connected
        assert len(publisher.attempted) == 2  # the first event, then one failure: no storm
        assert relay.pending_tickets == 10
        assert relay.oldest_pending_seconds() >= 0.5
        assert relay.outages == 1

        publisher.up = True  # back (on another node, say)
        await _until(lambda: len(publisher.published) == 11, "the held events published")
        await _until(lambda: relay.pending_tickets == 0, "nothing left pending")

    assert sorted(e.event.id for e in publisher.published[1:]) == sorted(
        outbox[0].event.id for _, outbox in held
    )
    assert len(publisher.attempted) == 12
    assert relay.publish_failures == 1
    assert relay.last_outage_seconds is not None
    warnings = _relay_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("relay paused: RabbitMQ unreachable (ConnectionError)")
    assert warnings[1].startswith("relay resumed: RabbitMQ reachable again after ")
    assert "10 tickets' events held, 1 publishes failed" in warnings[1]


async def test_a_commit_never_reattempts_other_tickets(
    own_db: AsyncDatabase[Document], settings: Settings
) -> None:
    """A ticket whose event keeps coming back (no queue bound) is retried on the relay's own
    schedule, not once per commit of another ticket."""
    publisher = SwitchablePublisher()
    async with running(_relay(own_db, publisher, retry_every=30.0)) as relay:
        # A sweep requeues the retries when it ends (what it read is as recent): the one at start
        # must be over before the stuck ticket fails.
        await _until(lambda: relay._next_sweep > 0, "the first sweep over")
        stuck, stuck_outbox = await _stored(own_db, settings)
        publisher.unroutable.add(stuck)
        relay.notify(stuck, stuck_outbox)
        await _until(lambda: len(publisher.attempted) == 1, "the stuck ticket attempted")
        others = [await _stored(own_db, settings) for _ in range(20)]
        for ticket_id, outbox in others:
            relay.notify(ticket_id, outbox)
        await _until(lambda: len(publisher.published) == 20, "the other tickets published")
        assert not relay.paused  # a returned event is its ticket's problem, not an outage
    assert [e.event.data.ticket_id for e in publisher.attempted].count(stuck) == 1
