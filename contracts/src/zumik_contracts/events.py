"""Ticket events published on the `zumik.support` topic exchange (routing key = event type).

Personal data: by default an event carries no free text: ids, status, priority, tiers, counts
and timestamps, with `data.subject` and `data.message.preview` null. (An API started with
`EVENTS_INCLUDE_TEXT=true` fills them in; text that reached a consumer's queue is then beyond the
reach of erasure.) No event carries `contact_email`. Events live in the ticket's outbox until
published, so privacy erasure removes any that are still unpublished.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from zumik_contracts.tickets import Author, Plan, Priority, SlaTier, TicketStatus

SUPPORT_EXCHANGE = "zumik.support"
SCHEMA_VERSION = 2  # 2: subject and message previews became optional (null by default)
SCHEMA_VERSION_HEADER = "x-schema-version"
PREVIEW_LENGTH = 200

EventType = Literal[
    "ticket.created",
    "ticket.message_added",
    "ticket.status_changed",
    "ticket.priority_changed",
    "ticket.sla_warning",
    "ticket.sla_breached",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "ticket.created",
    "ticket.message_added",
    "ticket.status_changed",
    "ticket.priority_changed",
    "ticket.sla_warning",
    "ticket.sla_breached",
)


class AttachmentRef(BaseModel):
    """A file attached to the message: its metadata, never its content (download it from the
    API with the file's id)."""

    id: str
    filename: str | None = Field(
        default=None,
        description="The file's name; null unless the API includes text in events (a name is "
        "free text and may hold personal data).",
    )
    content_type: str
    size: int
    redactions: dict[str, int] | None = Field(
        default=None, description="What scrubbing removed, counted by kind; null when nothing."
    )


class MessageRef(BaseModel):
    id: str
    author: Author
    preview: str | None = Field(
        default=None,
        max_length=PREVIEW_LENGTH,
        description="The first 200 characters; null unless the API includes text in events.",
    )
    attachment_count: int = Field(default=0, description="Files attached to the message.")
    attachments: list[AttachmentRef] = Field(
        default_factory=list, description="The files attached to the message, in order."
    )


class TicketEventData(BaseModel):
    ticket_id: str
    subject: str | None = Field(
        default=None, description="Null unless the API includes text in events."
    )
    status: TicketStatus
    previous_status: TicketStatus | None = None
    priority: Priority
    plan_tier: Plan
    sla_tier: SlaTier
    priority_queue: bool
    message: MessageRef | None = Field(
        default=None, description="Set on ticket.created and ticket.message_added."
    )


class TicketEvent(BaseModel):
    """The body of every message on `zumik.support`; AMQP `message_id` equals `id`."""

    id: str = Field(examples=["evt_01jd6t5x3q8f9k2m4n6p7r8s9t"])
    type: EventType
    schema_version: int = SCHEMA_VERSION
    occurred_at: datetime
    project_id: str
    data: TicketEventData


def without_text(event: TicketEvent) -> TicketEvent:
    """The event with its free text (subject, message preview, attachment names) left out: data
    minimisation."""
    data = event.data
    message = None
    if data.message is not None:
        attachments = [a.model_copy(update={"filename": None}) for a in data.message.attachments]
        message = data.message.model_copy(update={"preview": None, "attachments": attachments})
    return event.model_copy(
        update={"data": data.model_copy(update={"subject": None, "message": message})}
    )


class OutboxEntry(BaseModel):
    """An event waiting in its ticket's outbox: written with the change that caused it, published
    by the API's relay. The body on the wire is `event`; the rest travels as AMQP headers."""

    event: TicketEvent
    traceparent: str | None = Field(
        default=None,
        description="W3C trace context of the request that caused the event, sent as the "
        "`traceparent` header so consumers continue the same trace.",
    )


def preview(body: str) -> str:
    """The short, single-line preview that events and notifications carry instead of the body."""
    flat = " ".join(body.split())
    return flat if len(flat) <= PREVIEW_LENGTH else flat[: PREVIEW_LENGTH - 1] + "…"
