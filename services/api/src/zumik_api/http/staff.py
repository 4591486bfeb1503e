"""`/v2/support/staff/`: the Zumik team's side: the queue, whole tickets, replies and triage."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from zumik_contracts.staff import (
    QueueFilters,
    StaffQueuePage,
    StaffTicket,
    staff_summary,
    staff_ticket,
)
from zumik_contracts.tickets import Priority, SlaTier, TicketStatus

from zumik_api.domain.scope import TEAM
from zumik_api.http.deps import ClockDep, TeamMemberDep, TicketsDep
from zumik_api.http.errors import CHANGE_ERRORS, COMMON_ERRORS, TICKET_ERRORS, ApiError
from zumik_api.http.schemas import StaffReply, StaffTicketUpdate
from zumik_api.service.ports import InvalidCursor
from zumik_api.service.tickets import TeamUpdate

router = APIRouter(prefix="/v2/support/staff", tags=["staff"])
UNASSIGNED = "none"


@router.get(
    "/queue",
    response_model=StaffQueuePage,
    responses=COMMON_ERRORS,
    summary="Tickets awaiting the team",
    operation_id="listStaffQueue",
    description="Open tickets, and pending ones where the customer has the last word. "
    "Priority-queue tickets first, then the earliest first-response due time, then the oldest. "
    f"`assignee` takes a team member's email, or `{UNASSIGNED}` for unassigned tickets.",
)
async def queue(
    tickets: TicketsDep,
    _: TeamMemberDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    status: Annotated[TicketStatus | None, Query()] = None,
    tier: Annotated[SlaTier | None, Query()] = None,
    project_id: Annotated[str | None, Query(max_length=64)] = None,
    breached: Annotated[bool | None, Query()] = None,
    priority: Annotated[Priority | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=254)] = None,
) -> StaffQueuePage:
    filters = QueueFilters(
        status=status,
        tier=tier,
        project_id=project_id,
        breached=breached,
        priority=priority,
        assignee=None if assignee == UNASSIGNED else assignee,
        unassigned=assignee == UNASSIGNED,
    )
    try:
        page = await tickets.queue_page(TEAM, filters, limit=limit, cursor=cursor)
    except InvalidCursor as error:
        raise ApiError(
            400, "invalid_request_error", "parameter_invalid", str(error), "cursor"
        ) from error
    now = clock()
    return StaffQueuePage(
        data=[staff_summary(ticket, now) for ticket in page.items],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


@router.get(
    "/tickets/{ticket_id}",
    response_model=StaffTicket,
    responses=TICKET_ERRORS,
    summary="A whole ticket, internal notes and history included",
    operation_id="getStaffTicket",
)
async def get_ticket(
    ticket_id: str, tickets: TicketsDep, _: TeamMemberDep, clock: ClockDep
) -> StaffTicket:
    return staff_ticket(await tickets.get(TEAM, ticket_id), clock())


@router.post(
    "/tickets/{ticket_id}/messages",
    response_model=StaffTicket,
    responses=CHANGE_ERRORS,
    summary="Reply as the team, or add an internal note",
    operation_id="createStaffTicketMessage",
    description="`internal: true` adds a note the customer never sees. The first public reply "
    "sets `first_responded_at`. `status` changes the status in the same call.",
)
async def reply(
    ticket_id: str,
    payload: StaffReply,
    tickets: TicketsDep,
    member: TeamMemberDep,
    clock: ClockDep,
) -> StaffTicket:
    ticket = await tickets.team_reply(
        TEAM,
        ticket_id,
        payload.body,
        by=member.email,
        internal=payload.internal,
        status=payload.status,
        attachments=payload.attachments,
    )
    return staff_ticket(ticket, clock())


@router.patch(
    "/tickets/{ticket_id}",
    response_model=StaffTicket,
    responses=CHANGE_ERRORS,
    summary="Change priority, status or assignee",
    operation_id="updateStaffTicket",
)
async def update(
    ticket_id: str,
    payload: StaffTicketUpdate,
    tickets: TicketsDep,
    member: TeamMemberDep,
    clock: ClockDep,
) -> StaffTicket:
    fields: dict[str, Any] = payload.model_dump(exclude_unset=True)
    change = TeamUpdate(
        priority=fields.get("priority"),
        status=fields.get("status"),
        assignee=fields.get("assignee"),
        unassign="assignee" in fields and fields["assignee"] is None,
    )
    ticket = await tickets.team_update(TEAM, ticket_id, change, by=member.email)
    return staff_ticket(ticket, clock())
