"""What the notifier reads of a ticket when it delivers: never more than one message needs."""

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document


@dataclass(frozen=True)
class CustomerReply:
    contact_email: str
    subject: str
    body: str


class TicketReader:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db.tickets

    async def team_reply_for_customer(
        self, ticket_id: str, message_id: str
    ) -> CustomerReply | None:
        """The team's public reply `message_id` with the address to send it to; None when the
        ticket is gone (erased), has no contact email, or the message is not a public team
        reply."""
        doc: dict[str, Any] | None = await self._tickets.find_one(
            {"_id": ticket_id}, {"contact_email": 1, "subject": 1, "messages": 1}
        )
        if doc is None or not doc.get("contact_email"):
            return None
        message = next((m for m in doc.get("messages", []) if m["id"] == message_id), None)
        if message is None or message.get("internal") or message["author"] != "support":
            return None
        return CustomerReply(doc["contact_email"], doc["subject"], message["body"])
