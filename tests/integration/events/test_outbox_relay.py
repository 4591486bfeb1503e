"""The outbox relay and its ledger on the real store and RabbitMQ: acks, pruning, crash recovery
and the published-through watermark.

The `api` fixture runs the runtime's relay in the background for the whole session (fast path
on every write, a sweep of tickets older than its 30 s grace every few seconds). The tests below
keep out of its way: crash-recovery documents are dated a few seconds back (newer than its grace,
so only an explicit `drain()` finds them, yet above the watermark), and the watermark test runs
on a database of its own that no background relay watches.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.relay import OutboxRelay
from zumik_api.adapters.tickets import ticket_from
from zumik_api.bootstrap import Runtime, calendar_from
from zumik_api.domain.tickets import Ticket
from zumik_api.settings import Settings
from zumik_contracts import ids
from zumik_contracts.events import OutboxEntry, TicketEvent
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_tickets.documents import outbox_entry, outbox_minute
from zumik_tickets.outbox import NEVER, OutboxLedger, PendingOutbox
from zumik_tickets.store import TicketStore

from tests.conftest import ApiProject
from tests.integration.events.conftest import OpsQueue

WAIT_SECONDS = 10.0
# How far back a simulated crash dates its write: older than a drain's zero grace, newer than the
# background relay's 30 s grace, so that only the test's own drain publishes it.
CRASH_AGE = timedelta(seconds=5)
# How long to watch the ops queue for a message that must not come.
QUIET_SECONDS = 1.0


class RecordingPublisher:
    """A broker that confirms every event and remembers it."""

    def __init__(self) -> None:
        self.published: list[OutboxEntry] = []

    async def ping(self) -> bool:
        return True

    async def publish(self, entry: OutboxEntry) -> None:
        self.published.append(entry)


class RefusingPublisher:
    """A broker that is down: every publish raises, after being noted as attempted."""

    def __init__(self) -> None:
        self.attempted: list[OutboxEntry] = []

    async def ping(self) -> bool:
        return False

    async def publish(self, entry: OutboxEntry) -> None:
        self.attempted.append(entry)
        raise ConnectionError("broker down")


def _event_ids(events: list[dict[str, Any]]) -> list[str]:
    """The ids of events as published, or of a stored outbox's entries."""
    return [str(event["event"]["id"] if "event" in event else event["id"]) for event in events]


def _entry_ids(entries: list[OutboxEntry]) -> list[str]:
    return [entry.event.id for entry in entries]


async def _open(api: httpx.AsyncClient, project: ApiProject) -> str:
    response = await api.post(
        "/v2/support/tickets",
        json={"subject": "Webhooks arrive twice", "body": "Since Monday.", "priority": "normal"},
        headers=project.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _ack_of(db: AsyncDatabase[Document], event_id: str) -> Document:
    """The event's ack, waiting for it: it is written just after RabbitMQ's confirm."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            ack = await db.outbox_acks.find_one({"_id": event_id})
            if ack is not None:
                return ack
            await asyncio.sleep(0.02)


async def _ticket(db: AsyncDatabase[Document], ticket_id: str) -> Document:
    doc = await db.tickets.find_one({"_id": ticket_id})
    assert doc is not None
    return doc


async def _published(
    ops_queue: OpsQueue, db: AsyncDatabase[Document], ticket_id: str, count: int
) -> list[dict[str, Any]]:
    """The ticket's next `count` events off the ops queue, once each is also acknowledged."""
    events = await ops_queue.events_for(ticket_id, count, WAIT_SECONDS)
    for event in events:
        await _ack_of(db, event["id"])
    return events


async def _more_for(ops_queue: OpsQueue, ticket_id: str) -> list[dict[str, Any]]:
    """Whatever else arrives about the ticket within QUIET_SECONDS (expected: nothing)."""
    try:
        return await ops_queue.events_for(ticket_id, 1, QUIET_SECONDS)
    except TimeoutError:
        return []


def _crashed_copy(source: Document, at: datetime) -> Document:
    """`source` as another ticket whose write committed and whose replica died before publishing:
    one event in its outbox, with no ack anywhere."""
    ticket_id = ids.new_id(ids.TICKET)
    [event] = [e["event"] for e in source["outbox"] if e["event"]["type"] == "ticket.created"]
    event = {
        **event,
        "id": ids.new_id(ids.EVENT),
        "occurred_at": at.isoformat(),
        "data": {**event["data"], "ticket_id": ticket_id},
    }
    outbox = [{"event": event, "traceparent": None}]
    return {
        **source,
        "_id": ticket_id,
        "outbox": outbox,
        "outbox_at": at,
        "outbox_minute": outbox_minute(at),
    }


# --------------------------------------------------------------------------- acks and pruning


async def test_a_published_event_is_acked_and_stays_in_the_outbox(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject, ops_queue: OpsQueue
) -> None:
    """Publishing records an ack rather than rewriting the ticket under someone else's lease."""
    ticket_id = await _open(api, project)
    [created] = await ops_queue.events_for(ticket_id, 1, WAIT_SECONDS)
    assert created["type"] == "ticket.created"

    ack = await _ack_of(db, created["id"])
    assert ack == {
        "_id": created["id"],
        "ticket_id": ticket_id,
        "project_id": project.id,
        "occurred_at": datetime.fromisoformat(created["occurred_at"]),
    }
    assert await _more_for(ops_queue, ticket_id) == []  # and, meanwhile, nothing rewrites it
    doc = await _ticket(db, ticket_id)
    assert _event_ids(doc["outbox"]) == [created["id"]]
    assert doc["outbox_at"] == datetime.fromisoformat(created["occurred_at"])


async def test_the_next_change_drops_published_events_and_none_is_sent_twice(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    runtime: Runtime,
    project: ApiProject,
    ops_queue: OpsQueue,
) -> None:
    """A ticket's outbox must not grow with its history, nor re-send what went out already."""
    ticket_id = await _open(api, project)
    path = f"/v2/support/tickets/{ticket_id}"
    [created] = await _published(ops_queue, db, ticket_id, 1)

    response = await api.patch(path, json={"status": "resolved"}, headers=project.headers)
    assert response.status_code == 200, response.text
    resolved_outbox = (await _ticket(db, ticket_id))["outbox"]
    assert [e["event"]["type"] for e in resolved_outbox] == ["ticket.status_changed"]
    [resolved] = await _published(ops_queue, db, ticket_id, 1)
    assert resolved["id"] == resolved_outbox[0]["event"]["id"]

    response = await api.post(
        f"{path}/messages", json={"body": "Still broken."}, headers=project.headers
    )
    assert response.status_code == 200, response.text
    reply_outbox = (await _ticket(db, ticket_id))["outbox"]
    # A customer reply to a resolved ticket adds the message and reopens it.
    assert [e["event"]["type"] for e in reply_outbox] == [
        "ticket.message_added",
        "ticket.status_changed",
    ]
    assert not {created["id"], resolved["id"]} & set(_event_ids(reply_outbox))
    replied = await _published(ops_queue, db, ticket_id, 2)
    assert _event_ids(replied) == _event_ids(reply_outbox)

    async with asyncio.timeout(WAIT_SECONDS):
        await runtime.relay.drain()
    assert await _more_for(ops_queue, ticket_id) == []
    sent = [created, resolved, *replied]
    assert len(set(_event_ids(sent))) == 4


# --------------------------------------------------------------------------- crash recovery


async def test_a_sweep_publishes_a_crashed_write_once_and_another_replica_not_again(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    runtime: Runtime,
    project: ApiProject,
    ops_queue: OpsQueue,
) -> None:
    """Events a dead replica left behind go out once, and the ack (not a replica's memory) is
    what keeps any replica from sending them again."""
    source_id = await _open(api, project)
    await _published(ops_queue, db, source_id, 1)
    source = await _ticket(db, source_id)
    crashed = _crashed_copy(source, utc_now() - CRASH_AGE)
    [event] = [entry["event"] for entry in crashed["outbox"]]
    assert await runtime.ledger.load_watermark() < crashed["outbox_at"]
    await db.tickets.insert_one(crashed)
    control: Document | None = None
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await runtime.relay.drain()
        [delivered] = await ops_queue.events_for(crashed["_id"], 1, WAIT_SECONDS)
        assert TicketEvent.model_validate(delivered) == TicketEvent.model_validate(event)
        ack = await _ack_of(db, event["id"])
        assert ack["ticket_id"] == crashed["_id"]

        async with asyncio.timeout(WAIT_SECONDS):
            await runtime.relay.drain()
        assert await _more_for(ops_queue, crashed["_id"]) == []

        # Another replica: its own client, ledger and relay, nothing published in its memory.
        # Its broker refuses everything, so it can only attempt, never ack, other tests' events.
        control = _crashed_copy(source, utc_now() - CRASH_AGE)
        await db.tickets.insert_one(control)
        broker = RefusingPublisher()
        ledger = OutboxLedger(db)
        replica = OutboxRelay(broker, ledger, utc_now)
        async with asyncio.timeout(WAIT_SECONDS):
            await replica.drain()
        attempted = set(_entry_ids(broker.attempted))
        assert control["outbox"][0]["event"]["id"] in attempted  # its sweep covered these
        assert event["id"] not in attempted
        crashed_outbox = [outbox_entry(e) for e in crashed["outbox"]]
        assert await ledger.unpublished_of({crashed["_id"]: crashed_outbox}) == {crashed["_id"]: []}
    finally:
        await db.tickets.delete_many(
            {"_id": {"$in": [crashed["_id"], *([control["_id"]] if control else [])]}}
        )


# --------------------------------------------------------------------------- the watermark


async def _stored_ticket(
    db: AsyncDatabase[Document], settings: Settings, at: datetime
) -> tuple[str, list[OutboxEntry], datetime]:
    """A ticket opened at `at`, written as the API writes it, with its outbox unpublished."""
    ticket = Ticket.open(
        project_id=ids.new_id(ids.PROJECT),
        plan="enterprise",
        subject="Rate limits",
        body="429 at 10 requests per minute.",
        priority="normal",
        contact_email=None,
        now=at,
        calendar=calendar_from(settings),
    )
    outbox = [OutboxEntry(event=event) for event in ticket.new_events]
    await TicketStore(db, OutboxLedger(db)).insert(ticket, outbox)
    outbox_at: datetime = (await _ticket(db, ticket.id))["outbox_at"]
    return ticket.id, outbox, outbox_at


async def _stored_watermark(db: AsyncDatabase[Document]) -> datetime:
    """The watermark as another replica would read it."""
    return await OutboxLedger(db).load_watermark()


async def test_the_watermark_stops_below_unpublished_tickets_and_then_vouches_for_them(
    own_db: AsyncDatabase[Document], settings: Settings
) -> None:
    """The watermark lets a ticket's events be pruned (and their acks purged) unread, so it must
    never pass a ticket with an event still to publish."""
    now = utc_now()
    grace = timedelta(seconds=10)
    _, acked_outbox, acked_at = await _stored_ticket(own_db, settings, now - timedelta(seconds=30))
    _, pending_outbox, pending_at = await _stored_ticket(
        own_db, settings, now - timedelta(seconds=20)
    )
    ledger = OutboxLedger(own_db)
    await ledger.record(acked_outbox)  # the older ticket was published before

    # RabbitMQ is down: the sweep finds the newer ticket, the relay fails to publish it.
    down = RefusingPublisher()
    relay = OutboxRelay(down, ledger, lambda: now)
    async with asyncio.timeout(WAIT_SECONDS):
        assert await relay._sweep(grace, raise_watermark=True) == 1  # tickets it found
        await relay.drain()
        assert await relay._sweep(grace, raise_watermark=True) == 1
    assert _entry_ids(down.attempted) == _entry_ids(pending_outbox)
    watermark = await _stored_watermark(own_db)
    assert acked_at <= watermark < pending_at
    assert ledger.published_through < pending_at
    assert await ledger.unpublished(pending_outbox, pending_at) == pending_outbox

    # RabbitMQ is back: the events go out, are acked, and the next sweep moves past the ticket.
    up = RecordingPublisher()
    async with asyncio.timeout(WAIT_SECONDS):
        await OutboxRelay(up, ledger, lambda: now).drain()
        for entry in pending_outbox:
            await _ack_of(own_db, entry.event.id)
    assert _entry_ids(up.published) == _entry_ids(pending_outbox)
    # A replica that published nothing itself, so only the stored acks tell it.
    replica_ledger = OutboxLedger(own_db)
    replica = OutboxRelay(RecordingPublisher(), replica_ledger, lambda: now)
    async with asyncio.timeout(WAIT_SECONDS):
        assert await replica._sweep(grace, raise_watermark=True) == 0
    watermark = await _stored_watermark(own_db)
    assert watermark >= pending_at
    assert replica_ledger.published_through == watermark

    # At or below the watermark an outbox counts as published without looking for acks: an
    # event that has none (a fresh id) is not returned there, and is just above it.
    renamed = pending_outbox[0].event.model_copy(update={"id": ids.new_id(ids.EVENT)})
    never_acked = [OutboxEntry(event=renamed)]
    fresh = OutboxLedger(own_db)
    assert fresh.published_through == NEVER
    assert await fresh.load_watermark() == watermark
    assert await fresh.unpublished(never_acked, pending_at) == []
    assert await fresh.unpublished(never_acked, watermark) == []
    assert await fresh.unpublished(never_acked, watermark + timedelta(milliseconds=1)) == (
        never_acked
    )


class FlakyPublisher(RecordingPublisher):
    """A broker that is down until `down` is cleared."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def publish(self, entry: OutboxEntry) -> None:
        if self.down:
            raise ConnectionError("broker down")
        await super().publish(entry)


async def test_a_ticket_changed_twice_during_an_outage_is_sent_whole_when_it_ends(
    own_db: AsyncDatabase[Document], settings: Settings
) -> None:
    """Each failed relay remembers the ticket's latest outbox, not its first: once the broker is
    back, one drain sends the creation and the reply, in order."""
    ledger = OutboxLedger(own_db)
    publisher = FlakyPublisher()
    relay = OutboxRelay(publisher, ledger, utc_now)
    store = TicketStore(own_db, ledger)
    ticket_id, created, _ = await _stored_ticket(own_db, settings, utc_now())
    relay.notify(ticket_id, created)
    await relay.flush()  # fails: the broker is down

    async with store.change(ticket_id) as write:
        assert write is not None
        ticket = ticket_from(write.stored.record)
        ticket.reply("customer", "Still failing.", utc_now())
        outbox = await write.save(
            ticket,
            new_messages=ticket.new_messages,
            new_history=ticket.new_history,
            new_events=[OutboxEntry(event=e) for e in ticket.new_events],
        )
    relay.notify(ticket_id, outbox)
    await relay.flush()  # fails again
    assert publisher.published == []

    publisher.down = False
    async with asyncio.timeout(WAIT_SECONDS):
        await relay.drain()

    assert [e.event.type for e in publisher.published] == [
        "ticket.created",
        "ticket.message_added",
    ]
    doc = await _ticket(own_db, ticket_id)
    stored = [outbox_entry(e) for e in doc["outbox"]]
    assert await OutboxLedger(own_db).unpublished(stored, doc["outbox_at"]) == []


async def test_a_sweep_reads_minute_by_minute_and_tickets_without_minutes_once(
    own_db: AsyncDatabase[Document], settings: Settings
) -> None:
    """The sweep reads minute by minute (an equality the local store serves from an index): across
    minute boundaries and page by page it finds every ticket of the window in order, except those
    written before `outbox_minute` existed, which the legacy pass finds (once per store)."""
    now = utc_now()
    written = [
        await _stored_ticket(own_db, settings, now - timedelta(seconds=seconds))
        for seconds in (200, 130, 125, 61, 59, 30, 5)
    ]
    legacy_id, _, legacy_at = written[2]
    await own_db.tickets.update_one({"_id": legacy_id}, {"$unset": {"outbox_minute": ""}})
    ledger = OutboxLedger(own_db)
    floor, cutoff = written[0][2], now - timedelta(seconds=10)  # the first and last left out

    def ids_of(page: list[PendingOutbox]) -> list[str]:
        return [p.ticket_id for p in page]

    in_window = [t for t, _, _ in written[1:6] if t != legacy_id]
    page, through = await ledger.pending_page(floor, cutoff, limit=0)
    assert (ids_of(page), through) == (in_window, cutoff)
    for limit in (1, 2, 3):
        assert (
            ids_of((await ledger.pending_page(floor, cutoff, limit=limit))[0])
            == (in_window[:limit])
        )
    assert ids_of(await ledger.legacy_page(floor, None, limit=10)) == [legacy_id]

    # The relay: the legacy ticket's events hold the watermark below it until they are out.
    down = RefusingPublisher()
    relay = OutboxRelay(down, ledger, lambda: now)
    async with asyncio.timeout(WAIT_SECONDS):
        assert await relay._sweep(timedelta(seconds=10), raise_watermark=True) == 6
    assert await _stored_watermark(own_db) < legacy_at
    assert not await ledger.legacy_read()
    for _, outbox, _ in written:
        await ledger.record(outbox)  # everything published meanwhile
    relay = OutboxRelay(RecordingPublisher(), OutboxLedger(own_db), lambda: now)
    async with asyncio.timeout(WAIT_SECONDS):
        assert await relay._sweep(timedelta(seconds=10), raise_watermark=True) == 0
    assert await ledger.legacy_read()
    assert await _stored_watermark(own_db) >= written[5][2]


async def test_a_long_window_is_walked_a_day_at_a_time_from_its_oldest_ticket(
    own_db: AsyncDatabase[Document], settings: Settings
) -> None:
    now = utc_now()
    old_id, _, old_at = await _stored_ticket(own_db, settings, now - timedelta(days=3))
    new_id, _, _ = await _stored_ticket(own_db, settings, now - timedelta(minutes=5))
    ledger = OutboxLedger(own_db)
    page, through = await ledger.pending_page(NEVER, now, limit=0)
    assert [p.ticket_id for p in page] == [old_id]
    assert old_at < through < old_at + timedelta(days=1)
    page, through = await ledger.pending_page(through, now, limit=0)
    assert ([p.ticket_id for p in page], through) == ([new_id], now)
