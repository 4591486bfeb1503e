"""What the store keeps of a ticket, as the rest of the code sees it (never as documents).

`TicketState` is what a writer hands over: the API's domain ticket has exactly these attributes.
`TicketRecord` is what a reader gets back; it has the same attributes, so it presents itself as a
public ticket through `zumik_contracts` the same way the domain ticket does.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from zumik_contracts.events import OutboxEntry
from zumik_contracts.staff import StaffTicketView, TicketChange
from zumik_contracts.tickets import Author, Plan, Priority, Sla, ThreadMessage, TicketStatus


class TicketState(StaffTicketView, Protocol):
    """A ticket's state as it is written: what the team sees of it, plus the SLA clock's state
    and the keys queries need (the domain ticket satisfies it)."""

    @property
    def sla_warning_at(self) -> datetime | None: ...
    @property
    def sla_warning_emitted(self) -> bool: ...
    @property
    def sla_breach_emitted(self) -> bool: ...
    @property
    def first_response_late(self) -> bool: ...
    @property
    def last_public_author(self) -> Author | None: ...


@dataclass
class TicketRecord:
    """A stored ticket. In list pages `messages` and `history` are left empty (not read)."""

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
    awaiting_team: bool = False
    first_response_late: bool = False
    message_count: int = 0
    last_public_author: Author | None = None
    messages: list[ThreadMessage] = field(default_factory=list)
    history: list[TicketChange] = field(default_factory=list)


@dataclass(frozen=True)
class StoredTicket:
    """A ticket read for a change: its record, its outbox, and the fence its write must match."""

    record: TicketRecord
    outbox: list[OutboxEntry]
    outbox_at: datetime | None
    fence: str | None


@dataclass(frozen=True)
class Page:
    items: list[TicketRecord]
    has_more: bool
    next_cursor: str | None = None
