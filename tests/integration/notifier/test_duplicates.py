"""At-least-once delivery upstream, exactly one notification downstream: the same event arriving
twice at once, and again after it was delivered, sends one webhook and one email."""

import asyncio

from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.notifier.conftest import (
    NotifierEnv,
    delivered,
    event_of_stored_ticket,
    for_ticket,
)


def _working_queues(notifier: NotifierEnv) -> list[str]:
    dead = notifier.topology.dead_letters.queue
    return [q.name for q in notifier.topology.queues if q is not dead]


async def test_a_redelivered_event_is_notified_once(
    project: ApiProject, notifier: NotifierEnv, db: AsyncDatabase[Document]
) -> None:
    event = await event_of_stored_ticket(
        db, project.id, "ticket.message_added", subject="Invoices are duplicated"
    )
    body = event.model_dump_json().encode()
    ticket_id = event.data.ticket_id

    # Two copies at once (a relay replica published it twice) ...
    await asyncio.gather(
        notifier.publish_raw(body, content_type="application/json", message_id=event.id),
        notifier.publish_raw(body, content_type="application/json", message_id=event.id),
    )
    await notifier.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await notifier.resend.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    # ... and a third one after both channels succeeded.
    await notifier.publish_raw(body, content_type="application/json", message_id=event.id)

    async with asyncio.timeout(15):  # every copy handled: nothing left in any of its queues
        while True:
            if not any([await notifier.queue_depth(q) for q in _working_queues(notifier)]):
                break
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)

    assert len(for_ticket(notifier.webhook.requests, ticket_id)) == 1
    assert len(for_ticket(notifier.resend.requests, ticket_id)) == 1
    entries = await db.notification_deliveries.find({"event_id": event.id}).to_list(None)
    assert sorted((e["channel"], e["state"], e["attempts"]) for e in entries) == [
        ("email", "delivered", 1),
        ("webhook", "delivered", 1),
    ]


async def test_an_erased_tickets_event_sends_nothing(
    project: ApiProject, notifier: NotifierEnv, db: AsyncDatabase[Document]
) -> None:
    """Events carry no text, and the team's channels read the live ticket when they deliver:
    a ticket erased before delivery sends neither a webhook nor an email."""
    event = await event_of_stored_ticket(db, project.id, "ticket.created", subject="Erase me")
    await db.tickets.delete_one({"_id": event.data.ticket_id})  # erased meanwhile
    body = event.model_dump_json().encode()
    await notifier.publish_raw(body, content_type="application/json", message_id=event.id)

    async with asyncio.timeout(15):
        while True:
            found = await db.notification_deliveries.count_documents({"event_id": event.id})
            if found == 2:
                break
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert for_ticket(notifier.webhook.requests, event.data.ticket_id) == []
    assert for_ticket(notifier.resend.requests, event.data.ticket_id) == []
    entries = await db.notification_deliveries.find({"event_id": event.id}).to_list(None)
    assert {(e["channel"], e["state"], e["last_status"]) for e in entries} == {
        ("email", "delivered", None),
        ("webhook", "delivered", None),
    }
