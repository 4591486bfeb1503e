"""What the Zumik team sees: the whole ticket (internal notes, history) and the support queue."""

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from zumik_contracts.tickets import (
    Priority,
    SlaTier,
    SupportTicketSummary,
    ThreadMessage,
    TicketStatus,
    TicketSummaryView,
    summary_fields,
)


class TicketChange(BaseModel):
    """One entry of a ticket's history: a status, priority or assignee change."""

    model_config = ConfigDict(frozen=True)

    field: Literal["status", "priority", "assignee"]
    old: str | None
    new: str | None
    by: str = Field(description="`customer`, or the team member's email.")
    at: datetime


class StaffTicketSummary(SupportTicketSummary):
    project_id: str
    assignee: str | None
    awaiting_team: bool


class StaffTicket(StaffTicketSummary):
    messages: list[ThreadMessage]
    history: list[TicketChange]


class StaffSummaryView(TicketSummaryView, Protocol):
    @property
    def project_id(self) -> str: ...
    @property
    def assignee(self) -> str | None: ...
    @property
    def awaiting_team(self) -> bool: ...


class StaffTicketView(StaffSummaryView, Protocol):
    @property
    def messages(self) -> Sequence[ThreadMessage]: ...
    @property
    def history(self) -> Sequence[TicketChange]: ...


def _staff_fields(ticket: StaffSummaryView, now: datetime) -> dict[str, object]:
    return {
        **summary_fields(ticket, now),
        "project_id": ticket.project_id,
        "assignee": ticket.assignee,
        "awaiting_team": ticket.awaiting_team,
    }


def staff_summary(ticket: StaffSummaryView, now: datetime) -> StaffTicketSummary:
    return StaffTicketSummary.model_validate(_staff_fields(ticket, now))


def staff_ticket(ticket: StaffTicketView, now: datetime) -> StaffTicket:
    """The team's view: the whole thread, internal notes and history included."""
    fields = _staff_fields(ticket, now)
    fields["messages"] = list(ticket.messages)
    fields["history"] = list(ticket.history)
    return StaffTicket.model_validate(fields)


class QueueFilters(BaseModel):
    """Which tickets awaiting the team a queue page shows (every filter given must match)."""

    model_config = ConfigDict(frozen=True)

    status: TicketStatus | None = None
    tier: SlaTier | None = None
    project_id: str | None = None
    breached: bool | None = None
    priority: Priority | None = None
    assignee: str | None = Field(default=None, description="A team member's email.")
    unassigned: bool = Field(default=False, description="Only tickets nobody is assigned to.")


class StaffQueuePage(BaseModel):
    """Tickets awaiting the team: priority-queue first, then earliest due, then oldest."""

    object: Literal["list"] = "list"
    data: list[StaffTicketSummary]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
