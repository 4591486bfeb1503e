"""Leases with fencing on the real store: a holder that stalled past its lease cannot write over
the change of the holder that took the ticket over after it."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.tickets import ticket_from
from zumik_api.bootstrap import calendar_from
from zumik_api.domain.tickets import Ticket
from zumik_api.settings import Settings
from zumik_contracts.events import OutboxEntry
from zumik_store.clock import utc_now
from zumik_store.lease import LeaseLost, Leases
from zumik_store.mongo import Document
from zumik_tickets.outbox import OutboxLedger
from zumik_tickets.store import StaleWrite, TicketStore, TicketWrite

from tests.conftest import ApiProject

STALL = timedelta(milliseconds=300)


async def _stored_ticket(db: AsyncDatabase[Document], settings: Settings) -> str:
    ticket = Ticket.open(
        project_id="prj_fencing",
        plan="enterprise",
        subject="Timeouts",
        body="Every request times out.",
        priority="normal",
        contact_email=None,
        now=utc_now(),
        calendar=calendar_from(settings),
    )
    await TicketStore(db, OutboxLedger(db)).insert(ticket, [])
    return ticket.id


async def _save(write: TicketWrite, ticket: Ticket) -> list[OutboxEntry]:
    return await write.save(
        ticket,
        new_messages=ticket.new_messages,
        new_history=ticket.new_history,
        new_events=[OutboxEntry(event=e) for e in ticket.new_events],
    )


@pytest.mark.parametrize("confirm_leases", [False, True], ids=["fence", "fence+recheck"])
async def test_a_stalled_holders_late_write_is_refused_after_a_newer_holder_committed(
    own_db: AsyncDatabase[Document], settings: Settings, confirm_leases: bool
) -> None:
    """The stalled holder read the ticket before the team answered it; its write would restore
    `first_responded_at=None` and drop the team reply's events. The fence refuses it (on
    FerretDB the re-check refuses it first; without the re-check the fence alone does)."""
    ticket_id = await _stored_ticket(own_db, settings)
    ledger = OutboxLedger(own_db)
    stalling = TicketStore(own_db, ledger, lease_ttl=STALL, confirm_leases=confirm_leases)
    newer = TicketStore(own_db, ledger, confirm_leases=confirm_leases)

    async with stalling.change(ticket_id) as late:
        assert late is not None
        stale = ticket_from(late.stored.record)
        await asyncio.sleep(STALL.total_seconds() * 2)  # the lease runs out meanwhile

        async with newer.change(ticket_id) as current:  # takes the expired lease over
            assert current is not None
            answered = ticket_from(current.stored.record)
            answered.reply("support", "We are on it.", utc_now())
            written = await _save(current, answered)

        stale.reply("customer", "Anyone there?", utc_now())
        with pytest.raises(LeaseLost) as refused:
            await _save(late, stale)
        if not confirm_leases:
            assert isinstance(refused.value, StaleWrite)

    doc = await own_db.tickets.find_one({"_id": ticket_id})
    assert doc is not None
    assert [m["body"] for m in doc["messages"]] == ["Every request times out.", "We are on it."]
    assert doc["first_responded_at"] is not None
    assert [e["event"]["id"] for e in doc["outbox"]] == [e.event.id for e in written]


async def test_a_holder_within_its_lease_writes_and_moves_the_fence(
    own_db: AsyncDatabase[Document], settings: Settings
) -> None:
    ticket_id = await _stored_ticket(own_db, settings)
    store = TicketStore(own_db, OutboxLedger(own_db), confirm_leases=True)
    for body in ("First.", "Second."):
        async with store.change(ticket_id) as write:
            assert write is not None
            ticket = ticket_from(write.stored.record)
            ticket.reply("customer", body, utc_now())
            await _save(write, ticket)
    doc = await own_db.tickets.find_one({"_id": ticket_id})
    assert doc is not None
    assert [m["body"] for m in doc["messages"]][-2:] == ["First.", "Second."]
    assert await own_db.ticket_locks.count_documents({"_id": ticket_id}) == 0


async def test_a_ticket_held_too_long_by_another_writer_answers_409_ticket_busy(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject, settings: Settings
) -> None:
    response = await api.post(
        "/v2/support/tickets",
        json={"subject": "Busy", "body": "Hello"},
        headers=project.headers,
    )
    ticket_id = response.json()["id"]
    other_writer = Leases(db.ticket_locks, ttl=timedelta(seconds=30))
    grant = await other_writer.take(ticket_id, wait_seconds=1)
    try:
        reply = await api.post(
            f"/v2/support/tickets/{ticket_id}/messages",
            json={"body": "Me too"},
            headers=project.headers,
        )
    finally:
        await other_writer.release(grant)
    assert reply.status_code == 409, reply.text
    assert reply.json()["error"]["code"] == "ticket_busy"
    assert reply.headers["Retry-After"] == "1"
