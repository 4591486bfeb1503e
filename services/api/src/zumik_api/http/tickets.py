"""`/v2/support/tickets`: the customer's side of the support thread."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import StringConstraints
from zumik_contracts.tickets import (
    SupportTicket,
    SupportTicketList,
    TicketStatus,
    public_summary,
    public_ticket,
)

from zumik_api.domain.scope import ProjectScope
from zumik_api.domain.tickets import RequestKey
from zumik_api.http.deps import ClockDep, CustomerDep, IdempotentDep, TicketsDep
from zumik_api.http.errors import (
    CHANGE_ERRORS,
    COMMON_ERRORS,
    CREATE_ERRORS,
    TICKET_ERRORS,
    ApiError,
)
from zumik_api.http.idempotent import idempotent
from zumik_api.http.schemas import CreateTicket, Reply, UpdateTicket

router = APIRouter(prefix="/v2/support/tickets", tags=["tickets"])

TicketId = Annotated[str, StringConstraints(pattern=r"^spt_[0-9a-z]{26}$")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retries with the same key and body within 24 h replay the first response.",
        examples=["5d1c7a0e-streaming-cutoff"],
    ),
]


@router.post(
    "",
    status_code=201,
    response_model=SupportTicket,
    responses=CREATE_ERRORS,
    summary="Open a ticket",
    operation_id="createTicket",
)
async def open_ticket(
    payload: CreateTicket,
    request: Request,
    tickets: TicketsDep,
    idempotent_requests: IdempotentDep,
    customer: CustomerDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def handler(request_key: RequestKey | None) -> tuple[int, SupportTicket, str]:
        ticket = await tickets.open(
            customer,
            subject=payload.subject,
            body=payload.body,
            priority=payload.priority,
            contact_email=payload.contact_email,
            request=request_key,
            attachments=payload.attachments,
        )
        return 201, public_ticket(ticket, clock()), ticket.id

    return await idempotent(
        request, idempotent_requests, customer.project_id, idempotency_key, handler
    )


@router.get(
    "",
    response_model=SupportTicketList,
    responses=COMMON_ERRORS,
    summary="List tickets, newest first",
    operation_id="listTickets",
    description="List items carry no thread (`messages`); get a ticket for its messages.",
)
async def list_tickets(
    tickets: TicketsDep,
    customer: CustomerDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: Annotated[TicketId | None, Query()] = None,
    ending_before: Annotated[TicketId | None, Query()] = None,
    status: Annotated[TicketStatus | None, Query()] = None,
) -> SupportTicketList:
    if starting_after is not None and ending_before is not None:
        raise ApiError(
            400,
            "invalid_request_error",
            "parameter_invalid",
            "starting_after and ending_before cannot be combined.",
            "ending_before",
        )
    page = await tickets.page(
        ProjectScope(customer.project_id),
        limit=limit,
        status=status,
        cursor=ending_before or starting_after,
        direction="newer" if ending_before else "older",
    )
    now = clock()
    return SupportTicketList(
        data=[public_summary(ticket, now) for ticket in page.items], has_more=page.has_more
    )


@router.get(
    "/{ticket_id}",
    response_model=SupportTicket,
    responses=TICKET_ERRORS,
    summary="Get a ticket",
    operation_id="getTicket",
)
async def get_ticket(
    ticket_id: str, tickets: TicketsDep, customer: CustomerDep, clock: ClockDep
) -> SupportTicket:
    ticket = await tickets.get(ProjectScope(customer.project_id), ticket_id)
    return public_ticket(ticket, clock())


@router.post(
    "/{ticket_id}/messages",
    response_model=SupportTicket,
    responses=CHANGE_ERRORS,
    summary="Reply to a ticket",
    operation_id="createTicketMessage",
    description="Appends a customer message. A pending or resolved ticket reopens.",
)
async def reply(
    ticket_id: str,
    payload: Reply,
    request: Request,
    tickets: TicketsDep,
    idempotent_requests: IdempotentDep,
    customer: CustomerDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def handler(request_key: RequestKey | None) -> tuple[int, SupportTicket, str]:
        ticket = await tickets.reply(
            ProjectScope(customer.project_id),
            ticket_id,
            payload.body,
            request_key,
            attachments=payload.attachments,
        )
        return 200, public_ticket(ticket, clock()), ticket.id

    return await idempotent(
        request, idempotent_requests, customer.project_id, idempotency_key, handler
    )


@router.patch(
    "/{ticket_id}",
    response_model=SupportTicket,
    responses=CHANGE_ERRORS,
    summary="Change a ticket's status",
    operation_id="updateTicket",
)
async def update_ticket(
    ticket_id: str,
    payload: UpdateTicket,
    tickets: TicketsDep,
    customer: CustomerDep,
    clock: ClockDep,
) -> SupportTicket:
    ticket = await tickets.set_status(ProjectScope(customer.project_id), ticket_id, payload.status)
    return public_ticket(ticket, clock())
