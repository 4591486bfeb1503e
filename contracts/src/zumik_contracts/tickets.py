"""The public support-ticket object, as the API returns it and as events and exports carry it."""

from datetime import datetime
from typing import Literal

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


class TicketMessage(BaseModel):
    """One message of a ticket's thread."""

    object: Literal["support_message"] = "support_message"
    id: str = Field(examples=["spm_01jd6t5x3q8f9k2m4n6p7r8s9t"])
    author: Author
    body: str
    created_at: datetime


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


class SupportTicketList(BaseModel):
    """A Stripe-style page of tickets, newest first."""

    object: Literal["list"] = "list"
    data: list[SupportTicketSummary]
    has_more: bool
