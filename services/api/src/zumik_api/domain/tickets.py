"""The ticket aggregate: its thread, its status machine and the events each change records.

Status transitions (customer and team alike; `closed` is final):

| from \\ action     | customer reply | set status X                 |
|-------------------|----------------|------------------------------|
| open              | stays open     | X                            |
| pending           | -> open        | X                            |
| resolved          | -> open        | X                            |
| closed            | 409            | 409                          |

Setting the status a ticket already has changes nothing and records no event.
"""

from dataclasses import dataclass, field
from datetime import datetime

from zumik_contracts import ids
from zumik_contracts.events import EventType, MessageRef, TicketEvent, TicketEventData, preview
from zumik_contracts.tickets import Author, Plan, Priority, Sla, TicketStatus

from zumik_api.domain.errors import ThreadTooLong, TicketClosed

# A thread lives in its ticket's document (one atomic write per change), so it is bounded well
# below MongoDB's 16 MB document limit: 500 messages of at most 20,000 characters.
MAX_MESSAGES = 500
REOPENED_BY_CUSTOMER_REPLY: frozenset[TicketStatus] = frozenset({"pending", "resolved"})


def sla_breached(due_at: datetime | None, answered_at: datetime | None, now: datetime) -> bool:
    """Breached when the first response came, or still has not come, after the due time."""
    return due_at is not None and (answered_at or now) > due_at


@dataclass
class Message:
    id: str
    author: Author
    body: str
    created_at: datetime


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
    messages: list[Message]
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    # What this unit of work changed, for the repository to write in one document update.
    new_messages: list[Message] = field(default_factory=list)
    new_events: list[TicketEvent] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        *,
        project_id: str,
        plan_tier: Plan,
        sla: Sla,
        subject: str,
        body: str,
        priority: Priority,
        contact_email: str | None,
        now: datetime,
        first_response_due_at: datetime | None = None,
    ) -> "Ticket":
        ticket = cls(
            id=ids.new_id(ids.TICKET),
            project_id=project_id,
            subject=subject,
            priority=priority,
            status="open",
            plan_tier=plan_tier,
            sla=sla,
            contact_email=contact_email,
            messages=[],
            created_at=now,
            updated_at=now,
            first_response_due_at=first_response_due_at,
        )
        message = ticket._append("customer", body, now)
        ticket._record("ticket.created", now, message=message)
        return ticket

    def reply(self, author: Author, body: str, now: datetime) -> Message:
        self._ensure_open_to_change()
        if len(self.messages) >= MAX_MESSAGES:
            raise ThreadTooLong(MAX_MESSAGES)
        message = self._append(author, body, now)
        self._record("ticket.message_added", now, message=message)
        if author == "customer" and self.status in REOPENED_BY_CUSTOMER_REPLY:
            self._change_status("open", now)
        return message

    def set_status(self, status: TicketStatus, now: datetime) -> None:
        self._ensure_open_to_change()
        if status != self.status:
            self._change_status(status, now)

    def sla_breached(self, now: datetime) -> bool:
        return sla_breached(self.first_response_due_at, self.first_responded_at, now)

    @property
    def changed(self) -> bool:
        return bool(self.new_events)

    def _ensure_open_to_change(self) -> None:
        if self.status == "closed":
            raise TicketClosed

    def _append(self, author: Author, body: str, now: datetime) -> Message:
        message = Message(id=ids.new_id(ids.MESSAGE), author=author, body=body, created_at=now)
        self.messages.append(message)
        self.new_messages.append(message)
        self.updated_at = now
        return message

    def _change_status(self, status: TicketStatus, now: datetime) -> None:
        previous = self.status
        self.status = status
        self.updated_at = now
        self._record("ticket.status_changed", now, previous_status=previous)

    def _record(
        self,
        event_type: EventType,
        now: datetime,
        *,
        message: Message | None = None,
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
            message=None
            if message is None
            else MessageRef(id=message.id, author=message.author, preview=preview(message.body)),
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
