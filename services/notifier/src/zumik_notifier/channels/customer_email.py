"""Email to the customer when the Zumik team replies, through Resend's HTTP API.

Events never carry the contact email, so it is read from the ticket document at send time (an
erased ticket or one without a contact email means there is nothing to send). The email quotes
the team's reply in full; it can never be an internal note, because notes make no event and the
message found in the ticket must be a public one.
"""

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.events import TicketEvent

from zumik_notifier.channels.resend import ResendClient
from zumik_notifier.channels.result import AttemptResult
from zumik_notifier.store import Document

SUBJECT_MAX_LENGTH = 160


@dataclass(frozen=True)
class CustomerReply:
    contact_email: str
    subject: str
    body: str


class TicketReader:
    """The contact email and the reply's text, read from the API's `tickets` collection."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db.tickets

    async def reply_for(self, event: TicketEvent) -> CustomerReply | None:
        if event.data.message is None:
            return None
        doc: dict[str, Any] | None = await self._tickets.find_one(
            {"_id": event.data.ticket_id}, {"contact_email": 1, "subject": 1, "messages": 1}
        )
        if doc is None or not doc.get("contact_email"):
            return None
        message = next(
            (m for m in doc.get("messages", []) if m["id"] == event.data.message.id), None
        )
        if message is None or message.get("internal") or message["author"] != "support":
            return None
        return CustomerReply(doc["contact_email"], doc["subject"], message["body"])


def render_customer_email(event: TicketEvent, reply: CustomerReply) -> tuple[str, str]:
    subject = " ".join(f"Re: {reply.subject} [{event.data.ticket_id}]".split())
    if len(subject) > SUBJECT_MAX_LENGTH:
        subject = subject[: SUBJECT_MAX_LENGTH - 1] + "…"
    text = (
        f"{reply.body}\n\n"
        f"-- \nThe Zumik support team replied to your ticket {event.data.ticket_id} "
        f"(status: {event.data.status}). Answer it in the Support tab of the Zumik console.\n"
    )
    return subject, text


class CustomerEmailChannel:
    def __init__(self, resend: ResendClient, tickets: TicketReader) -> None:
        self._resend = resend
        self._tickets = tickets

    async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
        try:
            reply = await self._tickets.reply_for(event)
        except Exception as error:  # a store outage is a failed attempt, retried like any other
            return AttemptResult.from_error(error)
        if reply is None:
            return AttemptResult.nothing_to_send()
        subject, text = render_customer_email(event, reply)
        return await self._resend.send(
            to=reply.contact_email,
            subject=subject,
            text=text,
            # Not the bare event id: that is the team email's key for the same event.
            idempotency_key=f"{event.id}:customer",
        )
