"""The public ticket objects (defined once, in contracts) built from the domain's ticket."""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from zumik_contracts.staff import (
    StaffTicket,
    StaffTicketMessage,
    StaffTicketSummary,
    TicketChange,
)
from zumik_contracts.tickets import SupportTicket, SupportTicketSummary, TicketMessage

from zumik_api.domain.tickets import Ticket, sla_breached


def public_ticket(ticket: Ticket, now: datetime) -> SupportTicket:
    """What the customer sees: internal notes are left out."""
    public_messages = [m for m in ticket.messages if not m.internal]
    return SupportTicket(
        id=ticket.id,
        subject=ticket.subject,
        priority=ticket.priority,
        status=ticket.status,
        plan_tier=ticket.plan_tier,
        sla=ticket.sla,
        contact_email=ticket.contact_email,
        message_count=len(public_messages),
        first_response_due_at=ticket.first_response_due_at,
        first_responded_at=ticket.first_responded_at,
        sla_breached=ticket.sla_breached(now),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        messages=[
            TicketMessage(id=m.id, author=m.author, body=m.body, created_at=m.created_at)
            for m in public_messages
        ],
    )


def public_summary(doc: dict[str, Any], now: datetime) -> SupportTicketSummary:
    """A list item, straight from a stored document without its thread."""
    due_at: datetime | None = doc.get("first_response_due_at")
    answered_at: datetime | None = doc.get("first_responded_at")
    return SupportTicketSummary(
        id=doc["_id"],
        subject=doc["subject"],
        priority=doc["priority"],
        status=doc["status"],
        plan_tier=doc["plan_tier"],
        sla=doc["sla"],
        contact_email=doc["contact_email"],
        message_count=doc["message_count"],
        first_response_due_at=due_at,
        first_responded_at=answered_at,
        sla_breached=sla_breached(due_at, answered_at, now),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def staff_ticket(ticket: Ticket, now: datetime) -> StaffTicket:
    """The team's view: the whole thread, internal notes and history included."""
    public = public_ticket(ticket, now)
    return StaffTicket(
        **public.model_dump(exclude={"messages"}),
        project_id=ticket.project_id,
        assignee=ticket.assignee,
        awaiting_team=ticket.awaiting_team,
        messages=[
            StaffTicketMessage(
                id=m.id, author=m.author, body=m.body, created_at=m.created_at, internal=m.internal
            )
            for m in ticket.messages
        ],
        history=[TicketChange.model_validate(asdict(c)) for c in ticket.history],
    )


def staff_summary(doc: dict[str, Any], now: datetime) -> StaffTicketSummary:
    return StaffTicketSummary(
        **public_summary(doc, now).model_dump(),
        project_id=doc["project_id"],
        assignee=doc.get("assignee"),
        awaiting_team=doc["awaiting_team"],
    )
