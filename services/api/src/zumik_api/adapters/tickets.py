"""The ticket repository: one document per ticket, holding its thread and its event outbox.

Each change is one single-document write (`insert_one` or `update_one` by `_id`), made under the
ticket's lease, and it carries the events it caused in `outbox`: a transactional outbox without
multi-document transactions. The relay publishes them and then removes them.
"""

from dataclasses import dataclass
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.tickets import Sla, TicketStatus

from zumik_api.adapters.mongo import Document
from zumik_api.domain.tickets import Message, Ticket

_SUMMARY_PROJECTION = {"messages": 0, "outbox": 0}


def _message_doc(message: Message) -> Document:
    return {
        "id": message.id,
        "author": message.author,
        "body": message.body,
        "created_at": message.created_at,
    }


def _ticket_doc(ticket: Ticket) -> Document:
    return {
        "_id": ticket.id,
        "project_id": ticket.project_id,
        "subject": ticket.subject,
        "priority": ticket.priority,
        "status": ticket.status,
        "plan_tier": ticket.plan_tier,
        "sla": ticket.sla.model_dump(),
        "contact_email": ticket.contact_email,
        "messages": [_message_doc(m) for m in ticket.messages],
        "message_count": len(ticket.messages),
        "first_response_due_at": ticket.first_response_due_at,
        "first_responded_at": ticket.first_responded_at,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "outbox": [e.model_dump(mode="json") for e in ticket.new_events],
        "outbox_pending": bool(ticket.new_events),
    }


def ticket_from_doc(doc: dict[str, Any]) -> Ticket:
    return Ticket(
        id=doc["_id"],
        project_id=doc["project_id"],
        subject=doc["subject"],
        priority=doc["priority"],
        status=doc["status"],
        plan_tier=doc["plan_tier"],
        sla=Sla.model_validate(doc["sla"]),
        contact_email=doc["contact_email"],
        messages=[Message(**m) for m in doc.get("messages", [])],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        first_response_due_at=doc.get("first_response_due_at"),
        first_responded_at=doc.get("first_responded_at"),
    )


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    has_more: bool


class TicketRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db.tickets

    async def add(self, ticket: Ticket) -> None:
        await self._tickets.insert_one(_ticket_doc(ticket))
        ticket.new_messages.clear()
        ticket.new_events.clear()

    async def get(self, project_id: str, ticket_id: str) -> Ticket | None:
        doc = await self._tickets.find_one({"_id": ticket_id})
        # Filtered here, not in the query: FerretDB only uses an index for a lone `_id` filter.
        if doc is None or doc["project_id"] != project_id:
            return None
        return ticket_from_doc(doc)

    async def save(self, ticket: Ticket) -> None:
        """Write what the unit of work changed. The caller holds the ticket's lease."""
        if not ticket.changed:
            return
        await self._tickets.update_one(
            {"_id": ticket.id},
            {
                "$set": {
                    "status": ticket.status,
                    "priority": ticket.priority,
                    "updated_at": ticket.updated_at,
                    "first_responded_at": ticket.first_responded_at,
                    "message_count": len(ticket.messages),
                    "outbox_pending": True,
                },
                "$push": {
                    "messages": {"$each": [_message_doc(m) for m in ticket.new_messages]},
                    "outbox": {"$each": [e.model_dump(mode="json") for e in ticket.new_events]},
                },
            },
        )
        ticket.new_messages.clear()
        ticket.new_events.clear()

    async def page(
        self,
        project_id: str,
        *,
        limit: int,
        status: TicketStatus | None,
        cursor: str | None,
        direction: Literal["older", "newer"],
    ) -> Page:
        """A page of ticket summaries, newest first, by an index-backed range on `_id`.

        Ticket ids start with their creation time, so `_id` order is creation order.
        """
        query: dict[str, Any] = {"project_id": project_id}
        if status is not None:
            query["status"] = status
        if cursor is not None:
            query["_id"] = {"$lt" if direction == "older" else "$gt": cursor}
        order = DESCENDING if direction == "older" else ASCENDING
        found = (
            await self._tickets.find(query, _SUMMARY_PROJECTION)
            .sort("_id", order)
            .limit(limit + 1)
            .to_list(None)
        )
        items = found[:limit]
        if direction == "newer":
            items.reverse()
        return Page(items=items, has_more=len(found) > limit)
