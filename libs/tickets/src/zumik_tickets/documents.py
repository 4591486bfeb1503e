"""The ticket document: the one place that knows its field names.

One document per ticket holds its thread, its history and its pending events (`outbox`), so every
change, with the events it causes, is one single-document write: a transactional outbox without
multi-document transactions. Beside the ticket's state it keeps keys that queries need:
`sla_tier`, `awaiting_team`, `queue_class` and `queue_due` (the team queue's order),
`first_response_late`, `message_count`, `last_public_author`, and `fence`, the token of the lease
grant that last wrote it (see `zumik_store.lease`).
"""

from datetime import UTC, datetime
from typing import Any

from zumik_contracts.events import OutboxEntry
from zumik_contracts.staff import TicketChange
from zumik_contracts.tickets import Sla, ThreadMessage
from zumik_store.mongo import Document

from zumik_tickets.records import TicketRecord, TicketState

# Tickets with no first-response target sort after every dated one in the team's queue.
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)
# What list pages and the queue never read.
SUMMARY_PROJECTION = {"messages": 0, "outbox": 0, "history": 0}
_MESSAGE_EXCLUDE = {"object"}


def message_document(message: ThreadMessage) -> Document:
    doc = message.model_dump(exclude=_MESSAGE_EXCLUDE)
    if not doc["attachments"]:
        del doc["attachments"]  # most messages have none
    return doc


def change_document(change: TicketChange) -> Document:
    return change.model_dump()


def outbox_document(entry: OutboxEntry) -> Document:
    return {"event": entry.event.model_dump(mode="json"), "traceparent": entry.traceparent}


def outbox_entry(doc: Document) -> OutboxEntry:
    if "event" not in doc:  # written before events had an envelope
        return OutboxEntry.model_validate({"event": doc})
    return OutboxEntry.model_validate(doc)


def state_fields(ticket: TicketState) -> Document:
    """The fields a change may alter, plus the query keys derived from them."""
    return {
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee": ticket.assignee,
        "updated_at": ticket.updated_at,
        "message_count": ticket.message_count,
        "last_public_author": ticket.last_public_author,
        "first_response_due_at": ticket.first_response_due_at,
        "first_responded_at": ticket.first_responded_at,
        "first_response_late": ticket.first_response_late,
        "sla_warning_at": ticket.sla_warning_at,
        "sla_warning_emitted": ticket.sla_warning_emitted,
        "sla_breach_emitted": ticket.sla_breach_emitted,
        "awaiting_team": ticket.awaiting_team,
        "queue_class": 0 if ticket.sla.priority_queue else 1,
        "queue_due": ticket.first_response_due_at or NO_DUE_DATE,
    }


def outbox_fields(kept: list[OutboxEntry], new: list[OutboxEntry]) -> Document:
    """The outbox after a write: the unpublished entries kept, then the write's own."""
    fields: Document = {"outbox": [outbox_document(e) for e in [*kept, *new]]}
    if new:
        at = max(e.event.occurred_at for e in new)
        fields["outbox_at"] = at
        fields["outbox_minute"] = outbox_minute(at)
    return fields


def outbox_minute(at: datetime) -> str:
    """The minute of `outbox_at` (UTC), which the relay's sweep reads by: an equality, which the
    local store serves from an index where it cannot serve a range of dates."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def ticket_document(ticket: TicketState, outbox: list[OutboxEntry], fence: str) -> Document:
    return {
        "_id": ticket.id,
        "project_id": ticket.project_id,
        "subject": ticket.subject,
        "plan_tier": ticket.plan_tier,
        "sla": ticket.sla.model_dump(),
        "sla_tier": ticket.sla.tier,
        "contact_email": ticket.contact_email,
        "created_at": ticket.created_at,
        **state_fields(ticket),
        "messages": [message_document(m) for m in ticket.messages],
        "history": [change_document(c) for c in ticket.history],
        **outbox_fields([], outbox),
        "fence": fence,
    }


def ticket_record(doc: dict[str, Any]) -> TicketRecord:
    """A record from a stored document (a summary when messages and history were not read)."""
    messages = [ThreadMessage.model_validate(m) for m in doc.get("messages", ())]
    return TicketRecord(
        id=doc["_id"],
        project_id=doc["project_id"],
        subject=doc["subject"],
        priority=doc["priority"],
        status=doc["status"],
        plan_tier=doc["plan_tier"],
        sla=Sla.model_validate(doc["sla"]),
        contact_email=doc["contact_email"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        first_response_due_at=doc.get("first_response_due_at"),
        first_responded_at=doc.get("first_responded_at"),
        sla_warning_at=doc.get("sla_warning_at"),
        sla_warning_emitted=doc.get("sla_warning_emitted", False),
        sla_breach_emitted=doc.get("sla_breach_emitted", False),
        assignee=doc.get("assignee"),
        awaiting_team=doc.get("awaiting_team", False),
        first_response_late=doc.get("first_response_late", False),
        message_count=doc.get("message_count", 0),
        last_public_author=doc.get("last_public_author"),
        messages=messages,
        history=[TicketChange.model_validate(c) for c in doc.get("history", ())],
    )
