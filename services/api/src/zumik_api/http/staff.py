"""`/v2/support/staff/`: the Zumik team's side: the queue, whole tickets, replies and triage."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from zumik_contracts.staff import StaffQueuePage, StaffTicket
from zumik_contracts.tickets import SlaTier, TicketStatus

from zumik_api.adapters.queue import InvalidCursor, QueueFilters
from zumik_api.adapters.staff import StaffMember
from zumik_api.http.deps import ContainerDep, unauthorized
from zumik_api.http.errors import CHANGE_ERRORS, COMMON_ERRORS, TICKET_ERRORS, ApiError
from zumik_api.http.schemas import StaffReply, StaffTicketUpdate
from zumik_api.presenters import staff_summary, staff_ticket
from zumik_api.service.tickets import StaffUpdate

_bearer = HTTPBearer(
    auto_error=False, scheme_name="StaffToken", description="A Zumik team token: `zst_...`."
)


async def staff_member(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StaffMember:
    if credentials is None:
        raise unauthorized("missing_staff_token", "No staff token provided.")
    member = await container.staff.member_for_token(credentials.credentials)
    if member is None:
        raise unauthorized("invalid_staff_token", "The staff token is not valid.")
    return member


StaffDep = Annotated[StaffMember, Depends(staff_member)]
router = APIRouter(prefix="/v2/support/staff", tags=["staff"])


@router.get(
    "/queue",
    response_model=StaffQueuePage,
    responses=COMMON_ERRORS,
    summary="Tickets awaiting the team",
    description="Open tickets, and pending ones where the customer has the last word. "
    "Priority-queue tickets first, then the earliest first-response due time, then the oldest.",
)
async def queue(
    container: ContainerDep,
    _: StaffDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    status: Annotated[TicketStatus | None, Query()] = None,
    tier: Annotated[SlaTier | None, Query()] = None,
    project_id: Annotated[str | None, Query(max_length=64)] = None,
    breached: Annotated[bool | None, Query()] = None,
) -> StaffQueuePage:
    filters = QueueFilters(status=status, tier=tier, project_id=project_id, breached=breached)
    now = container.clock()
    try:
        page = await container.queue.page(filters, limit=limit, cursor=cursor, now=now)
    except InvalidCursor as error:
        raise ApiError(
            400, "invalid_request_error", "parameter_invalid", str(error), "cursor"
        ) from error
    return StaffQueuePage(
        data=[staff_summary(doc, now) for doc in page.items],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


@router.get(
    "/tickets/{ticket_id}",
    response_model=StaffTicket,
    responses=TICKET_ERRORS,
    summary="A whole ticket, internal notes and history included",
)
async def get_ticket(ticket_id: str, container: ContainerDep, _: StaffDep) -> StaffTicket:
    ticket = await container.tickets.get(ticket_id, None)
    return staff_ticket(ticket, container.clock())


@router.post(
    "/tickets/{ticket_id}/messages",
    response_model=StaffTicket,
    responses=CHANGE_ERRORS,
    summary="Reply as the team, or add an internal note",
    description="`internal: true` adds a note the customer never sees. The first public reply "
    "sets `first_responded_at`. `status` changes the status in the same call.",
)
async def reply(
    ticket_id: str, payload: StaffReply, container: ContainerDep, member: StaffDep
) -> StaffTicket:
    ticket = await container.tickets.support_reply(
        ticket_id, payload.body, by=member.email, internal=payload.internal, status=payload.status
    )
    return staff_ticket(ticket, container.clock())


@router.patch(
    "/tickets/{ticket_id}",
    response_model=StaffTicket,
    responses=CHANGE_ERRORS,
    summary="Change priority, status or assignee",
)
async def update(
    ticket_id: str, payload: StaffTicketUpdate, container: ContainerDep, member: StaffDep
) -> StaffTicket:
    fields: dict[str, Any] = payload.model_dump(exclude_unset=True)
    change = StaffUpdate(
        priority=fields.get("priority"),
        status=fields.get("status"),
        assignee=fields.get("assignee"),
        unassign="assignee" in fields and fields["assignee"] is None,
    )
    ticket = await container.tickets.staff_update(ticket_id, change, by=member.email)
    return staff_ticket(ticket, container.clock())
