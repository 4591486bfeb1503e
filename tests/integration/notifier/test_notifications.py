"""Ticket activity reaches the team: a signed ops webhook and a Resend email, each exactly once,
with retries through the broker when Resend fails. Real RabbitMQ, real store, real HTTP."""

import asyncio
import json
import logging
import time

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.staff import Staff
from zumik_contracts.events import TicketEvent
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.notifier.conftest import (
    CONTACT_EMAIL,
    FROM_EMAIL,
    RESEND_KEY,
    TEAM_EMAIL,
    WEBHOOK_SECRET,
    NotifierEnv,
    OpsQueue,
    delivered,
    expected_signature,
    for_ticket,
    open_ticket,
)
from tests.integration.notifier.http_stub import Answer

# After the expected deliveries, wait this long for any that should not come (a duplicate would
# come within a retry delay, and the test delays are at most 1 s).
QUIET_PERIOD = 1.5


async def test_created_ticket_reaches_ops_queue_webhook_and_email(
    api: httpx.AsyncClient,
    project: ApiProject,
    notifier: NotifierEnv,
    ops_queue: OpsQueue,
    db: AsyncDatabase[Document],
) -> None:
    ticket = await open_ticket(api, project)
    ticket_id = ticket["id"]

    published = await ops_queue.event_for(ticket_id)
    event = TicketEvent.model_validate_json(published.body)
    assert event.type == "ticket.created"
    assert published.routing_key == "ticket.created"

    await notifier.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await notifier.resend.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await asyncio.sleep(QUIET_PERIOD)

    [hook] = for_ticket(notifier.webhook.requests, ticket_id)
    assert hook.method == "POST"
    assert hook.path == "/hooks/zumik?token=not-for-logs"
    # The event, with the text the queue never carried filled in from the live ticket.
    posted = TicketEvent.model_validate_json(hook.body)
    assert event.data.subject is None
    assert posted.data.subject == ticket["subject"]
    assert posted.data.message is not None
    assert posted.data.message.preview == ticket["messages"][0]["body"]
    assert posted.model_copy(update={"data": event.data}) == event
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers["webhook-id"] == event.id
    assert abs(int(hook.headers["webhook-timestamp"]) - time.time()) < 300
    assert hook.headers["webhook-signature"] == expected_signature(hook)
    assert WEBHOOK_SECRET not in json.dumps(hook.headers)

    [email] = for_ticket(notifier.resend.requests, ticket_id)
    assert email.method == "POST"
    assert email.path == "/emails"
    assert email.headers["authorization"] == f"Bearer {RESEND_KEY}"
    assert email.headers["idempotency-key"] == event.id
    sent = email.json()
    assert sent["from"] == FROM_EMAIL
    assert sent["to"] == [TEAM_EMAIL]
    assert "Test project" in sent["subject"]
    assert "Streaming cuts off" in sent["subject"]
    for expected in (ticket_id, project.id, "high", "enterprise", "Priority queue: yes"):
        assert expected in sent["text"]
    assert "The stream stops after ~30 s." in sent["text"]
    assert CONTACT_EMAIL not in email.body.decode()

    log_entries = await db.notification_deliveries.find({"event_id": event.id}).to_list(None)
    assert {(e["channel"], e["state"], e["attempts"], e["last_status"]) for e in log_entries} == {
        ("email", "delivered", 1, 200),
        ("webhook", "delivered", 1, 200),
    }
    for entry in log_entries:
        assert entry["_id"] == f"{event.id}:{entry['channel']}"
        assert (entry["project_id"], entry["ticket_id"]) == (project.id, ticket_id)
        stored = json.dumps(entry, default=str)
        assert "@" not in stored, "no email addresses in the delivery log"
        assert "Streaming" not in stored, "no subjects or bodies in the delivery log"


async def test_team_hears_customer_messages_and_the_customer_hears_team_replies(
    api: httpx.AsyncClient,
    project: ApiProject,
    notifier: NotifierEnv,
    db: AsyncDatabase[Document],
) -> None:
    staff_token = (await Staff(db).create("agent@zumik.test")).token
    staff = {"Authorization": f"Bearer {staff_token}"}
    ticket = await open_ticket(api, project)
    ticket_id = ticket["id"]
    path = f"/v2/support/staff/tickets/{ticket_id}/messages"

    note = await api.post(
        path, json={"body": "Internal: proxy idle timeout.", "internal": True}, headers=staff
    )
    assert note.status_code == 200, note.text
    team_reply = await api.post(path, json={"body": "We are looking into it."}, headers=staff)
    assert team_reply.status_code == 200, team_reply.text
    customer = await api.post(
        f"/v2/support/tickets/{ticket_id}/messages",
        json={"body": "Thanks, it happened again just now."},
        headers=project.headers,
    )
    assert customer.status_code == 200, customer.text

    await notifier.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 2)
    await notifier.resend.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 3)
    await asyncio.sleep(QUIET_PERIOD)
    events = [json.loads(r.body) for r in for_ticket(notifier.webhook.requests, ticket_id)]
    assert [(e["type"], (e["data"]["message"] or {}).get("author")) for e in events] == [
        ("ticket.created", "customer"),
        ("ticket.message_added", "customer"),
    ]
    emails = for_ticket(notifier.resend.requests, ticket_id)
    to_team = [e for e in emails if e.json()["to"] == [TEAM_EMAIL]]
    to_customer = [e for e in emails if e.json()["to"] == [CONTACT_EMAIL]]
    assert len(to_team) == 2
    assert "Customer replied" in to_team[1].json()["subject"]
    assert "Thanks, it happened again just now." in to_team[1].json()["text"]
    [reply_email] = to_customer
    assert reply_email.json()["text"].startswith("We are looking into it.")
    assert reply_email.json()["subject"] == f"Re: Streaming cuts off [{ticket_id}]"
    assert reply_email.headers["idempotency-key"].endswith(":customer")
    assert all("proxy idle timeout" not in e.body.decode() for e in emails)


async def test_team_reply_to_a_ticket_without_contact_email_sends_no_email(
    api: httpx.AsyncClient,
    project: ApiProject,
    notifier: NotifierEnv,
    db: AsyncDatabase[Document],
) -> None:
    staff_token = (await Staff(db).create("agent@zumik.test")).token
    created = await api.post(
        "/v2/support/tickets",
        json={"subject": "No contact", "body": "Please look at this."},
        headers=project.headers,
    )
    ticket_id = created.json()["id"]
    reply = await api.post(
        f"/v2/support/staff/tickets/{ticket_id}/messages",
        json={"body": "On it."},
        headers={"Authorization": f"Bearer {staff_token}"},
    )
    assert reply.status_code == 200, reply.text

    await notifier.resend.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await asyncio.sleep(QUIET_PERIOD)
    emails = for_ticket(notifier.resend.requests, ticket_id)
    assert [e.json()["to"] for e in emails] == [[TEAM_EMAIL]], "only the new-ticket email"
    logged = await db.notification_deliveries.find_one(
        {"ticket_id": ticket_id, "channel": "customer_email"}
    )
    assert logged is not None
    assert logged["state"] == "delivered"


async def test_resend_failing_does_not_fail_requests_or_the_webhook(
    api: httpx.AsyncClient, project: ApiProject, notifier: NotifierEnv
) -> None:
    notifier.resend.answer_for(project.id, Answer(500), Answer(503))

    ticket = await open_ticket(api, project)  # 201, whatever Resend does
    ticket_id = ticket["id"]

    await notifier.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await notifier.resend.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await asyncio.sleep(QUIET_PERIOD)

    assert len(for_ticket(notifier.webhook.requests, ticket_id)) == 1
    emails = for_ticket(notifier.resend.requests, ticket_id)
    assert [r.status for r in emails] == [500, 503, 200]
    assert len({r.headers["idempotency-key"] for r in emails}) == 1
    # Backoff through the delay queues: 0.2 s, then 0.5 s.
    assert emails[1].received_at - emails[0].received_at >= 0.15
    assert emails[2].received_at - emails[1].received_at >= 0.45


async def test_resend_rejecting_an_email_is_not_retried(
    api: httpx.AsyncClient, project: ApiProject, notifier: NotifierEnv
) -> None:
    notifier.resend.answer_for(project.id, Answer(422, body=b'{"name":"validation_error"}'))

    ticket = await open_ticket(api, project)
    ticket_id = ticket["id"]

    [dead] = await notifier.dead_letters(1, containing=ticket_id.encode())
    await notifier.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await asyncio.sleep(QUIET_PERIOD)

    assert [r.status for r in for_ticket(notifier.resend.requests, ticket_id)] == [422]
    assert len(for_ticket(notifier.webhook.requests, ticket_id)) == 1
    assert dead.headers["x-zumik-failure-kind"] == "rejected"
    assert dead.headers["x-zumik-channel"] == "email"
    assert dead.headers["x-zumik-attempts"] == 1
    reason = str(dead.headers["x-zumik-failure-reason"])
    assert "channel=email" in reason
    assert "HTTP 422" in reason
    event = TicketEvent.model_validate_json(dead.body)
    assert dead.message_id == event.id


async def test_resend_rate_limit_honours_retry_after(
    api: httpx.AsyncClient, project: ApiProject, notifier: NotifierEnv
) -> None:
    notifier.resend.answer_for(project.id, Answer(429, headers={"retry-after": "1"}))

    ticket = await open_ticket(api, project)
    ticket_id = ticket["id"]

    await notifier.resend.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    emails = for_ticket(notifier.resend.requests, ticket_id)
    assert [r.status for r in emails] == [429, 200]
    # The first backoff level is 0.2 s; Retry-After: 1 picks the 1 s level instead.
    assert emails[1].received_at - emails[0].received_at >= 0.95


async def test_email_given_up_after_max_attempts_goes_to_dead_letter_queue(
    api: httpx.AsyncClient, project: ApiProject, notifier: NotifierEnv
) -> None:
    attempts = notifier.settings.notifier_max_attempts
    notifier.resend.answer_for(project.id, *[Answer(503)] * attempts)

    ticket = await open_ticket(api, project)
    ticket_id = ticket["id"]

    [dead] = await notifier.dead_letters(1, containing=ticket_id.encode())
    await asyncio.sleep(QUIET_PERIOD)

    assert [r.status for r in for_ticket(notifier.resend.requests, ticket_id)] == [503] * attempts
    assert dead.headers["x-zumik-failure-kind"] == "exhausted"
    assert dead.headers["x-zumik-attempts"] == attempts
    assert dead.headers["x-zumik-last-status"] == "HTTP 503"
    assert len(delivered(notifier.webhook.requests, ticket_id)) == 1


class LogLine(logging.Handler):
    """Sets `seen` once a record containing `text` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_every_event_type_reaches_the_notifier_which_drops_what_nobody_hears_about(
    api: httpx.AsyncClient,
    project: ApiProject,
    notifier: NotifierEnv,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bound with `#`: an event type the team is not notified of still routes (so the relay
    never holds a ticket back for want of a queue), and is taken without a notification."""
    caplog.set_level(logging.DEBUG, logger="zumik_notifier")
    ticket_id = (await open_ticket(api, project))["id"]
    await notifier.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)

    # Listening before the change: the relay may publish before the PATCH returns.
    dropped = LogLine(f"ticket.status_changed ticket={ticket_id}: nothing to notify")
    logging.getLogger("zumik_notifier").addHandler(dropped)
    try:
        response = await api.patch(
            f"/v2/support/tickets/{ticket_id}", json={"status": "pending"}, headers=project.headers
        )
        assert response.status_code == 200, response.text
        async with asyncio.timeout(15):
            await dropped.seen.wait()
    finally:
        logging.getLogger("zumik_notifier").removeHandler(dropped)
    await asyncio.sleep(QUIET_PERIOD)
    assert len(for_ticket(notifier.webhook.requests, ticket_id)) == 1  # ticket.created only
