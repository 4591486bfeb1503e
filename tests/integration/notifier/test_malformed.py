"""A message on the notifier's queue that is not a TicketEvent is dead-lettered at once, with a
reason, and the events behind it are still delivered."""

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.events import TicketEvent
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.notifier.conftest import NotifierEnv, delivered, event_of_stored_ticket


async def test_malformed_messages_are_dead_lettered_and_do_not_block_the_queue(
    project: ApiProject, notifier: NotifierEnv, db: AsyncDatabase[Document]
) -> None:
    bad_json = b'{"id": "evt_broken", "type": "ticket.created", '
    not_an_event = b'{"id": "evt_not_an_event", "type": "ticket.created", "hello": "world"}'
    good = await event_of_stored_ticket(db, project.id, "ticket.created")
    good_body = good.model_dump_json().encode()

    await notifier.publish_raw(bad_json, content_type="application/json", message_id="bad-json")
    await notifier.publish_raw(not_an_event, content_type="application/json", message_id="bad-evt")
    await notifier.publish_raw(good_body, content_type="application/json", message_id=good.id)

    [hook] = delivered(
        await notifier.webhook.wait_for(lambda rs: len(delivered(rs, good.data.ticket_id)) >= 1),
        good.data.ticket_id,
    )
    assert TicketEvent.model_validate_json(hook.body).id == good.id
    [email] = delivered(
        await notifier.resend.wait_for(lambda rs: len(delivered(rs, good.data.ticket_id)) >= 1),
        good.data.ticket_id,
    )
    assert project.id in email.json()["text"]

    dead = {m.message_id: m for m in await notifier.dead_letters(2, containing=b"evt_")}
    assert set(dead) == {"bad-json", "bad-evt"}
    assert dead["bad-json"].body == bad_json, "dead letters keep the original body"
    assert dead["bad-json"].headers["x-zumik-failure-kind"] == "malformed"
    assert dead["bad-json"].headers["x-zumik-failure-reason"] == (
        "malformed: body is not valid JSON"
    )
    reason = str(dead["bad-evt"].headers["x-zumik-failure-reason"])
    assert reason.startswith("malformed: not a TicketEvent (")
    assert "occurred_at: missing" in reason
    assert "world" not in reason, "reasons never quote the message"
    assert await notifier.queue_depth(notifier.topology.events_queue.name) == 0
