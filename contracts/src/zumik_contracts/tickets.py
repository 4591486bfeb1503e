"""The public support-ticket object, as the API returns it and as events and exports carry it.

Public tickets are built in one place: `public_summary` and `public_ticket` read any object
shaped like a ticket (`TicketSummaryView`, `TicketView`): the API's domain ticket, or a
stored ticket record, which privacy exports present the same way.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["low", "normal", "high", "urgent"]
TicketStatus = Literal["open", "pending", "resolved", "closed"]
Author = Literal["customer", "support"]
Plan = Literal["free", "base", "pilot", "enterprise"]
SlaTier = Literal["community", "standard", "priority", "enterprise"]

PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")
STATUSES: tuple[TicketStatus, ...] = ("open", "pending", "resolved", "closed")
PLANS: tuple[Plan, ...] = ("free", "base", "pilot", "enterprise")


class Sla(BaseModel):
    """The first-response SLA, snapshotted from the project's plan when the ticket is opened."""

    model_config = ConfigDict(frozen=True)

    tier: SlaTier
    first_response_target: str = Field(examples=["4 hours, 24/7 for urgent issues"])
    priority_queue: bool


class Attachment(BaseModel):
    """A file attached to a message: what the thread shows of it (its content is downloaded
    from `/v2/support/files/{id}/content`)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(examples=["file_01jd6t5x3q8f9k2m4n6p7r8s9t"])
    filename: str
    size: int = Field(description="Bytes, after any scrubbing.")
    content_type: str
    redactions: dict[str, int] | None = Field(
        default=None,
        description="What scrubbing removed, counted by kind (never the values); null when "
        "nothing was removed.",
    )


class TicketMessage(BaseModel):
    """One message of a ticket's thread."""

    object: Literal["support_message"] = "support_message"
    id: str = Field(examples=["spm_01jd6t5x3q8f9k2m4n6p7r8s9t"])
    author: Author
    body: str
    created_at: datetime
    attachments: list[Attachment] = Field(default_factory=list)


class ThreadMessage(TicketMessage):
    """A message as the ticket keeps it and the team sees it: internal notes included."""

    internal: bool = Field(
        default=False, description="An internal note: never shown to the customer."
    )

    def public(self) -> TicketMessage:
        return TicketMessage(
            id=self.id,
            author=self.author,
            body=self.body,
            created_at=self.created_at,
            attachments=self.attachments,
        )


def sla_breached(due_at: datetime | None, answered_at: datetime | None, now: datetime) -> bool:
    """Breached when the first response came, or still has not come, after the due time."""
    return due_at is not None and (answered_at or now) > due_at


class TicketSummaryView(Protocol):
    """What a ticket list item is built from."""

    @property
    def id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def priority(self) -> Priority: ...
    @property
    def status(self) -> TicketStatus: ...
    @property
    def plan_tier(self) -> Plan: ...
    @property
    def sla(self) -> Sla: ...
    @property
    def contact_email(self) -> str | None: ...
    @property
    def message_count(self) -> int: ...
    @property
    def first_response_due_at(self) -> datetime | None: ...
    @property
    def first_responded_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class TicketView(TicketSummaryView, Protocol):
    """What a whole ticket is built from: the summary's fields and the thread."""

    @property
    def messages(self) -> Sequence[ThreadMessage]: ...


class SupportTicketSummary(BaseModel):
    """A ticket without its thread: what list pages carry (GET the ticket for its messages)."""

    object: Literal["support_ticket"] = "support_ticket"
    id: str = Field(examples=["spt_01jd6t5x3q8f9k2m4n6p7r8s9t"])
    subject: str
    priority: Priority
    status: TicketStatus
    plan_tier: Plan
    sla: Sla
    contact_email: str | None
    message_count: int
    first_response_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    sla_breached: bool = False
    created_at: datetime
    updated_at: datetime


class SupportTicket(SupportTicketSummary):
    """The full ticket, with its whole public thread, oldest message first."""

    messages: list[TicketMessage]


def public_summary(ticket: TicketSummaryView, now: datetime) -> SupportTicketSummary:
    return SupportTicketSummary.model_validate(summary_fields(ticket, now))


def public_ticket(ticket: TicketView, now: datetime) -> SupportTicket:
    """What the customer sees: internal notes are left out."""
    fields = summary_fields(ticket, now)
    fields["messages"] = [m.public() for m in ticket.messages if not m.internal]
    return SupportTicket.model_validate(fields)


def summary_fields(ticket: TicketSummaryView, now: datetime) -> dict[str, object]:
    """The summary's fields, for the staff views that extend it."""
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "priority": ticket.priority,
        "status": ticket.status,
        "plan_tier": ticket.plan_tier,
        "sla": ticket.sla,
        "contact_email": ticket.contact_email,
        "message_count": ticket.message_count,
        "first_response_due_at": ticket.first_response_due_at,
        "first_responded_at": ticket.first_responded_at,
        "sla_breached": sla_breached(ticket.first_response_due_at, ticket.first_responded_at, now),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


class SupportTicketList(BaseModel):
    """A Stripe-style page of tickets, newest first."""

    object: Literal["list"] = "list"
    data: list[SupportTicketSummary]
    has_more: bool
