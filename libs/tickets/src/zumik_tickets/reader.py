"""What the notifier reads of a ticket when it delivers: the live ticket, never more than one
message of it. A ticket that is gone (erased) reads as None, so nothing more is sent about it."""

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.events import preview
from zumik_store.mongo import Document


@dataclass(frozen=True)
class LiveMessage:
    id: str
    author: str
    body: str
    internal: bool
    attachment_names: tuple[str, ...] = ()

    @property
    def preview(self) -> str:
        return preview(self.body)


@dataclass(frozen=True)
class LiveTicket:
    id: str
    subject: str
    contact_email: str | None
    message: LiveMessage | None  # the one asked for, when it is still in the thread


@dataclass(frozen=True)
class CustomerReply:
    contact_email: str
    subject: str
    body: str


class TicketReader:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db.tickets

    async def live(self, ticket_id: str, message_id: str | None = None) -> LiveTicket | None:
        """The ticket as it is now (with message `message_id`), or None once it is gone."""
        projection: Document = {"subject": 1, "contact_email": 1}
        if message_id is not None:
            # The whole thread: FerretDB has no `$elemMatch` projection.
            projection["messages"] = 1
        doc: dict[str, Any] | None = await self._tickets.find_one({"_id": ticket_id}, projection)
        if doc is None:
            return None
        found = next((m for m in doc.get("messages", ()) if m.get("id") == message_id), None)
        message = None
        if found is not None:
            message = LiveMessage(
                id=found["id"],
                author=found["author"],
                body=found["body"],
                internal=bool(found.get("internal")),
                attachment_names=tuple(a["filename"] for a in found.get("attachments", ())),
            )
        return LiveTicket(doc["_id"], doc["subject"], doc.get("contact_email"), message)

    async def team_reply_for_customer(
        self, ticket_id: str, message_id: str
    ) -> CustomerReply | None:
        """The team's public reply `message_id` with the address to send it to; None when the
        ticket is gone (erased), has no contact email, or the message is not a public team
        reply."""
        ticket = await self.live(ticket_id, message_id)
        if ticket is None or not ticket.contact_email or ticket.message is None:
            return None
        if ticket.message.internal or ticket.message.author != "support":
            return None
        return CustomerReply(ticket.contact_email, ticket.subject, ticket.message.body)
