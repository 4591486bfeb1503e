"""What the Zumik team sees: the whole ticket (internal notes, history) and the support queue."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from zumik_contracts.tickets import SupportTicketSummary, TicketMessage


class StaffTicketMessage(TicketMessage):
    internal: bool = Field(description="An internal note: never shown to the customer.")


class TicketChange(BaseModel):
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
    messages: list[StaffTicketMessage]
    history: list[TicketChange]


class StaffQueuePage(BaseModel):
    """Tickets awaiting the team: priority-queue first, then earliest due, then oldest."""

    object: Literal["list"] = "list"
    data: list[StaffTicketSummary]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
