"""The ticket repository: one document per ticket, holding its thread and its event outbox.

Each change is one single-document write (`insert_one`, or `update_one` by `_id`), made under the
ticket's lease, and it carries the events it caused in `outbox`: a transactional outbox without
multi-document transactions. The relay publishes them; the ticket's next change drops the
published ones (see `adapters.outbox`).
"""

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.tickets import Sla, TicketStatus
from zumik_store.batching import InsertBatcher

from zumik_api.adapters.mongo import Document
from zumik_api.adapters.outbox import Outbox
from zumik_api.domain.tickets import Change, Message, Ticket

_SUMMARY_PROJECTION = {"messages": 0, "outbox": 0, "history": 0}
# Tickets with no first-response target sort after every dated one in the team's queue.
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)


_MESSAGE_FIELDS = tuple(f.name for f in fields(Message))
_CHANGE_FIELDS = tuple(f.name for f in fields(Change))


def _message_doc(message: Message) -> Document:
    # Not dataclasses.asdict, which deep-copies every value: its fields are flat.
    return {name: getattr(message, name) for name in _MESSAGE_FIELDS}


def _change_doc(change: Change) -> Document:
    return {name: getattr(change, name) for name in _CHANGE_FIELDS}


def _state(ticket: Ticket) -> Document:
    """The fields a change may alter, plus the queue keys derived from them."""
    public = [m for m in ticket.messages if not m.internal]
    return {
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee": ticket.assignee,
        "updated_at": ticket.updated_at,
        "message_count": len(public),
        "last_public_author": ticket.last_public_author,
        "first_response_due_at": ticket.first_response_due_at,
        "first_responded_at": ticket.first_responded_at,
        "first_response_late": ticket.first_responded_at is not None
        and ticket.sla_breached(ticket.first_responded_at),
        "sla_warning_at": ticket.sla_warning_at,
        "sla_warning_emitted": ticket.sla_warning_emitted,
        "sla_breach_emitted": ticket.sla_breach_emitted,
        "awaiting_team": ticket.awaiting_team,
        "queue_class": 0 if ticket.sla.priority_queue else 1,
        "queue_due": ticket.first_response_due_at or NO_DUE_DATE,
    }


def _ticket_doc(ticket: Ticket) -> Document:
    return {
        "_id": ticket.id,
        "project_id": ticket.project_id,
        "subject": ticket.subject,
        "plan_tier": ticket.plan_tier,
        "sla": ticket.sla.model_dump(),
        "sla_tier": ticket.sla.tier,
        "contact_email": ticket.contact_email,
        "created_at": ticket.created_at,
        **_state(ticket),
        "messages": [_message_doc(m) for m in ticket.messages],
        "history": [_change_doc(c) for c in ticket.history],
        **_outbox_fields(ticket, []),
    }


def _outbox_fields(ticket: Ticket, kept: Outbox) -> Document:
    """The outbox after a write: the unpublished events kept, then the write's own."""
    fields: Document = {"outbox": kept + [e.model_dump(mode="json") for e in ticket.new_events]}
    if ticket.new_events:
        fields["outbox_at"] = max(e.occurred_at for e in ticket.new_events)
    return fields


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
        sla_warning_at=doc.get("sla_warning_at"),
        sla_warning_emitted=doc.get("sla_warning_emitted", False),
        sla_breach_emitted=doc.get("sla_breach_emitted", False),
        assignee=doc.get("assignee"),
        history=[Change(**c) for c in doc.get("history", [])],
    )


@dataclass(frozen=True)
class StoredOutbox:
    events: Outbox
    at: datetime | None  # when the latest of them happened


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    has_more: bool


class TicketRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db.tickets
        self._inserts = InsertBatcher(db.tickets)

    async def add(self, ticket: Ticket) -> Outbox:
        """Insert a new ticket; the events written to its outbox (the whole outbox)."""
        doc = _ticket_doc(ticket)
        await self._inserts.insert(doc)
        _mark_saved(ticket)
        outbox: Outbox = doc["outbox"]
        return outbox

    async def get(self, ticket_id: str, project_id: str | None = None) -> Ticket | None:
        """The ticket, if it exists and (when `project_id` is given) belongs to that project."""
        found = await self.get_for_change(ticket_id, project_id)
        return None if found is None else found[0]

    async def get_for_change(
        self, ticket_id: str, project_id: str | None = None
    ) -> tuple[Ticket, StoredOutbox] | None:
        """The ticket (as `get`) and its outbox, which the change's write rewrites."""
        doc = await self._tickets.find_one({"_id": ticket_id})
        # Filtered here, not in the query: FerretDB only pushes a lone `_id` filter down.
        if doc is None or (project_id is not None and doc["project_id"] != project_id):
            return None
        return ticket_from_doc(doc), StoredOutbox(doc.get("outbox", []), doc.get("outbox_at"))

    async def save(self, ticket: Ticket, kept: Outbox) -> Outbox:
        """Write what the unit of work changed, with `kept` (the stored outbox's unpublished
        events) ahead of its new events; the outbox written. The caller holds the lease."""
        if not ticket.changed:
            return kept
        outbox = _outbox_fields(ticket, kept)
        update: dict[str, Any] = {"$set": {**_state(ticket), **outbox}}
        pushes = {
            "messages": [_message_doc(m) for m in ticket.new_messages],
            "history": [_change_doc(c) for c in ticket.new_history],
        }
        if any(pushes.values()):
            update["$push"] = {name: {"$each": items} for name, items in pushes.items() if items}
        await self._tickets.update_one({"_id": ticket.id}, update)
        _mark_saved(ticket)
        written: Outbox = outbox["outbox"]
        return written

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


def _mark_saved(ticket: Ticket) -> None:
    ticket.new_messages.clear()
    ticket.new_history.clear()
    ticket.new_events.clear()
    ticket.dirty = False
