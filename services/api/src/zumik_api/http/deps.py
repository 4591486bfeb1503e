"""Request dependencies: one per use case, and the caller a credential stands for.

The use cases are built once by the composition root (`zumik_api.bootstrap`) and kept on the
app's state; routes receive them through these `Annotated` dependencies. Every dependency here is
`async`: FastAPI runs a synchronous one on its thread pool, a thread hop per request.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zumik_api.http.errors import ApiError
from zumik_api.service.access import Access
from zumik_api.service.idempotency import IdempotentRequests
from zumik_api.service.ports import Customer, TeamMember
from zumik_api.service.tickets import TicketService

_customer_bearer = HTTPBearer(auto_error=False, description="A project API key: `zsk_...`.")
_staff_bearer = HTTPBearer(
    auto_error=False, scheme_name="StaffToken", description="A Zumik team token: `zst_...`."
)


async def _tickets(request: Request) -> TicketService:
    service: TicketService = request.app.state.tickets
    return service


async def _access(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


async def _idempotent(request: Request) -> IdempotentRequests:
    idempotent: IdempotentRequests = request.app.state.idempotent
    return idempotent


async def _clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


TicketsDep = Annotated[TicketService, Depends(_tickets)]
AccessDep = Annotated[Access, Depends(_access)]
IdempotentDep = Annotated[IdempotentRequests, Depends(_idempotent)]
ClockDep = Annotated[Callable[[], datetime], Depends(_clock)]


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(
        401,
        "authentication_error",
        code,
        message,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _customer(
    access: AccessDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_customer_bearer)],
) -> Customer:
    if credentials is None:
        raise unauthorized(
            "missing_api_key",
            "No API key provided. Send it as `Authorization: Bearer <api key>`.",
        )
    if not access.key_is_well_formed(credentials.credentials):
        raise unauthorized("malformed_api_key", "The API key is malformed.")
    customer = await access.customer(credentials.credentials)
    if customer is None:
        raise unauthorized("invalid_api_key", "The API key is not valid.")
    return customer


async def _team_member(
    access: AccessDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_staff_bearer)],
) -> TeamMember:
    if credentials is None:
        raise unauthorized("missing_staff_token", "No staff token provided.")
    member = await access.team_member(credentials.credentials)
    if member is None:
        raise unauthorized("invalid_staff_token", "The staff token is not valid.")
    return member


CustomerDep = Annotated[Customer, Depends(_customer)]
TeamMemberDep = Annotated[TeamMember, Depends(_team_member)]
