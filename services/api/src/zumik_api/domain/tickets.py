"""The ticket aggregate: its thread, its status machine, its SLA clock, and the events it records.

Status transitions, for the customer and the team alike (`closed` is final):

| from      | customer reply | support reply        | set status X |
|-----------|----------------|----------------------|--------------|
| open      | stays open     | stays, or the status | X            |
|           |                | sent with the reply  |              |
| pending   | -> open        | as above             | X            |
| resolved  | -> open        | as above             | X            |
| closed    | 409            | 409                  | 409          |

Setting the status a ticket already has changes nothing and records no event. Internal notes
(`internal=True`, team only) never change the status, never count as a response, and record no
event, so they never reach the customer or the ops channels.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from zumik_contracts import ids
from zumik_contracts.events import (
    AttachmentRef,
    EventType,
    MessageRef,
    TicketEvent,
    TicketEventData,
    preview,
)
from zumik_contracts.staff import TicketChange
from zumik_contracts.tickets import (
    Attachment,
    Author,
    Plan,
    Priority,
    Sla,
    ThreadMessage,
    TicketStatus,
    sla_breached,
)

from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.errors import ThreadTooLong, TicketClosed, TicketTooLarge
from zumik_api.domain.sla import first_response_clock, sla_for

# A thread lives in its ticket's document (one atomic write per change), so it is bounded well
# below MongoDB's 16 MB document limit, by count and by bytes. The customer stops at the lower
# limits; the team keeps some room above them, to answer and close a full ticket.
MAX_MESSAGES = 500
MAX_THREAD_BYTES = 8 * 1024 * 1024
TEAM_EXTRA_MESSAGES = 50
TEAM_EXTRA_BYTES = 2 * 1024 * 1024
# The most recent status, priority and assignee changes kept in `history`.
MAX_HISTORY = 200
REOPENED_BY_CUSTOMER_REPLY: frozenset[TicketStatus] = frozenset({"pending", "resolved"})
ChangedField = Literal["status", "priority", "assignee"]


@dataclass(frozen=True)
class RequestKey:
    """Names one request across its retries (an idempotency key's claim): what it creates gets
    the same ids each time it runs."""

    seed: str
    at: datetime


@dataclass
class Ticket:
    id: str
    project_id: str
    subject: str
    priority: Priority
    status: TicketStatus
    plan_tier: Plan
    sla: Sla
    contact_email: str | None
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    sla_warning_at: datetime | None = None
    sla_warning_emitted: bool = False
    sla_breach_emitted: bool = False
    assignee: str | None = None
    messages: list[ThreadMessage] = field(default_factory=list)
    history: list[TicketChange] = field(default_factory=list)
    # What this unit of work changed, for the repository to write in one document update.
    new_messages: list[ThreadMessage] = field(default_factory=list, init=False, repr=False)
    new_history: list[TicketChange] = field(default_factory=list, init=False, repr=False)
    new_events: list[TicketEvent] = field(default_factory=list, init=False, repr=False)
    dirty: bool = field(default=False, init=False, repr=False)
    history_trimmed: bool = field(default=False, init=False, repr=False)
    _thread_bytes: int | None = field(default=None, init=False, repr=False)

    @classmethod
    def open(
        cls,
        *,
        project_id: str,
        plan: Plan,
        subject: str,
        body: str,
        priority: Priority,
        contact_email: str | None,
        now: datetime,
        calendar: BusinessCalendar,
        request: RequestKey | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> "Ticket":
        """A new ticket, with the SLA the project's plan buys today snapshotted onto it.
        `request` names the request that opens it: a retry of that request makes the same ids.
        `attachments`: the files on its first message."""
        ticket = cls(
            id=_new_id(ids.TICKET, request),
            project_id=project_id,
            subject=subject,
            priority=priority,
            status="open",
            plan_tier=plan,
            sla=sla_for(plan),
            contact_email=contact_email,
            created_at=now,
            updated_at=now,
        )
        ticket._schedule_first_response(calendar)
        message = ticket._append(
            "customer",
            body,
            now,
            internal=False,
            message_id=_new_id(ids.MESSAGE, request),
            attachments=attachments,
        )
        ticket._record("ticket.created", now, message=message)
        return ticket

    # -- what the customer and the team do ---------------------------------------------------

    def reply(
        self,
        author: Author,
        body: str,
        now: datetime,
        *,
        internal: bool = False,
        request: RequestKey | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> ThreadMessage:
        """Add a message (with the files `attachments`). `request` names the request that adds
        it: a retry of a request whose message is already in the thread changes nothing and
        returns that message."""
        message_id = None if request is None else _new_id(ids.MESSAGE, request)
        done = next((m for m in self.messages if m.id == message_id), None)
        if done is not None:
            return done
        self._ensure_open_to_change()
        self._ensure_room(author, body)
        message = self._append(
            author, body, now, internal=internal, message_id=message_id, attachments=attachments
        )
        if internal:
            return message
        self._record("ticket.message_added", now, message=message)
        if author == "customer" and self.status in REOPENED_BY_CUSTOMER_REPLY:
            self._change_status("open", now, by="customer")
        if author == "support" and self.first_responded_at is None:
            self.first_responded_at = now
        return message

    def set_status(self, status: TicketStatus, now: datetime, *, by: str = "customer") -> None:
        self._ensure_open_to_change()
        if status != self.status:
            self._change_status(status, now, by=by)

    def set_priority(
        self, priority: Priority, now: datetime, *, by: str, calendar: BusinessCalendar
    ) -> None:
        """Re-prioritise; an unanswered ticket's clock follows (urgent enterprise runs 24/7)."""
        self._ensure_open_to_change()
        if priority == self.priority:
            return
        self._note_change("priority", self.priority, priority, by, now)
        self.priority = priority
        if self.first_responded_at is None:
            self._schedule_first_response(calendar)
        self._record("ticket.priority_changed", now)

    def assign(self, assignee: str | None, now: datetime, *, by: str) -> None:
        self._ensure_open_to_change()
        if assignee != self.assignee:
            self._note_change("assignee", self.assignee, assignee, by, now)
            self.assignee = assignee

    # -- what the thread and the queue show ----------------------------------------------------

    @property
    def message_count(self) -> int:
        """Public messages: what the customer's thread has."""
        return sum(1 for m in self.messages if not m.internal)

    @property
    def thread_bytes(self) -> int:
        """The UTF-8 bytes of the thread's messages: what bounds the ticket's document."""
        if self._thread_bytes is None:
            self._thread_bytes = sum(len(m.body.encode()) for m in self.messages)
        return self._thread_bytes

    @property
    def last_public_author(self) -> Author | None:
        return next((m.author for m in reversed(self.messages) if not m.internal), None)

    @property
    def awaiting_team(self) -> bool:
        """Open, or pending with the customer having the last public word."""
        if self.status == "open":
            return True
        return self.status == "pending" and self.last_public_author == "customer"

    # -- the SLA clock -------------------------------------------------------------------------

    def sla_breached(self, now: datetime) -> bool:
        return sla_breached(self.first_response_due_at, self.first_responded_at, now)

    @property
    def first_response_late(self) -> bool:
        """The first response came, after the due time."""
        return self.first_responded_at is not None and self.sla_breached(self.first_responded_at)

    def emit_due_sla_events(self, now: datetime) -> None:
        """Record `ticket.sla_warning` and `ticket.sla_breached`, each at most once per ticket."""
        if self.first_responded_at is not None or self.first_response_due_at is None:
            return
        if self.status == "closed":
            return
        if not self.sla_warning_emitted and self.sla_warning_at and self.sla_warning_at <= now:
            self.sla_warning_emitted = True
            self._record("ticket.sla_warning", now)
        if not self.sla_breach_emitted and self.first_response_due_at <= now:
            self.sla_breach_emitted = True
            self._record("ticket.sla_breached", now)

    @property
    def next_sla_check(self) -> datetime | None:
        """When the next SLA event falls due, or None once the clock has nothing left to say."""
        if self.first_responded_at is not None or self.first_response_due_at is None:
            return None
        if self.status == "closed":
            return None
        if not self.sla_warning_emitted and self.sla_warning_at is not None:
            return self.sla_warning_at
        return None if self.sla_breach_emitted else self.first_response_due_at

    @property
    def changed(self) -> bool:
        return self.dirty or bool(self.new_events or self.new_messages or self.new_history)

    def mark_saved(self) -> None:
        self.new_messages.clear()
        self.new_history.clear()
        self.new_events.clear()
        self.dirty = False
        self.history_trimmed = False

    # -- internals -----------------------------------------------------------------------------

    def _schedule_first_response(self, calendar: BusinessCalendar) -> None:
        clock = first_response_clock(self.sla.tier, self.priority, self.created_at, calendar)
        self.first_response_due_at = None if clock is None else clock.due_at
        self.sla_warning_at = None if clock is None else clock.warning_at
        self.dirty = True

    def _ensure_open_to_change(self) -> None:
        if self.status == "closed":
            raise TicketClosed

    def _ensure_room(self, author: Author, body: str) -> None:
        extra = author == "support"
        max_messages = MAX_MESSAGES + (TEAM_EXTRA_MESSAGES if extra else 0)
        max_bytes = MAX_THREAD_BYTES + (TEAM_EXTRA_BYTES if extra else 0)
        if len(self.messages) >= max_messages:
            raise ThreadTooLong(max_messages)
        if self.thread_bytes + len(body.encode()) > max_bytes:
            raise TicketTooLarge(max_bytes)

    def _append(
        self,
        author: Author,
        body: str,
        now: datetime,
        *,
        internal: bool,
        message_id: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> ThreadMessage:
        message = ThreadMessage(
            id=message_id or ids.new_id(ids.MESSAGE),
            author=author,
            body=body,
            created_at=now,
            internal=internal,
            attachments=list(attachments),
        )
        size = self.thread_bytes
        self.messages.append(message)
        self.new_messages.append(message)
        self._thread_bytes = size + len(body.encode())
        self.updated_at = now
        return message

    def _change_status(self, status: TicketStatus, now: datetime, *, by: str) -> None:
        previous = self.status
        self._note_change("status", previous, status, by, now)
        self.status = status
        self.updated_at = now
        self._record("ticket.status_changed", now, previous_status=previous)

    def _note_change(
        self, name: ChangedField, old: str | None, new: str | None, by: str, now: datetime
    ) -> None:
        change = TicketChange(field=name, old=old, new=new, by=by, at=now)
        self.history.append(change)
        self.new_history.append(change)
        if len(self.history) > MAX_HISTORY:
            del self.history[: len(self.history) - MAX_HISTORY]
            self.history_trimmed = True  # written whole, not appended
        self.updated_at = now

    def _record(
        self,
        event_type: EventType,
        now: datetime,
        *,
        message: ThreadMessage | None = None,
        previous_status: TicketStatus | None = None,
    ) -> None:
        data = TicketEventData(
            ticket_id=self.id,
            subject=self.subject,
            status=self.status,
            previous_status=previous_status,
            priority=self.priority,
            plan_tier=self.plan_tier,
            sla_tier=self.sla.tier,
            priority_queue=self.sla.priority_queue,
            message=None if message is None else _message_ref(message),
        )
        self.new_events.append(
            TicketEvent(
                id=ids.new_id(ids.EVENT),
                type=event_type,
                occurred_at=now,
                project_id=self.project_id,
                data=data,
            )
        )


def _message_ref(message: ThreadMessage) -> MessageRef:
    """What an event says of a message: a preview, and its files' metadata (never content)."""
    return MessageRef(
        id=message.id,
        author=message.author,
        preview=preview(message.body),
        attachment_count=len(message.attachments),
        attachments=[
            AttachmentRef(
                id=a.id,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                redactions=a.redactions,
            )
            for a in message.attachments
        ],
    )


def _new_id(prefix: str, request: RequestKey | None) -> str:
    if request is None:
        return ids.new_id(prefix)
    return ids.derived_id(prefix, request.at, request.seed)
