"""Request dependencies: one per use case, and the caller a credential stands for.

The use cases are built once by the composition root (`zumik_api.bootstrap`) and kept on the
app's state; routes receive them through these `Annotated` dependencies. Every dependency here is
`async`: FastAPI runs a synchronous one on its thread pool, a thread hop per request.

A caller is a Bearer credential (an API key for the customer API, a staff token for the team's)
or the console's session cookie of the same kind. A change made with the cookie also needs the
session's CSRF token in `X-CSRF-Token`, so another site cannot make the browser send one.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Cookie, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from zumik_contracts.console import CSRF_HEADER, SESSION_COOKIE

from zumik_api.http.errors import ApiError
from zumik_api.http.ratelimit import enforce
from zumik_api.http.throttle import ClientThrottle, FailureThrottle
from zumik_api.service.access import Access
from zumik_api.service.console import ConsoleSignIn, customer_of, team_member_of
from zumik_api.service.idempotency import IdempotentRequests
from zumik_api.service.ports import Customer, SessionRecord, TeamMember
from zumik_api.service.quotas import Quotas
from zumik_api.service.tickets import TicketService

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

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


async def _console(request: Request) -> ConsoleSignIn:
    console: ConsoleSignIn = request.app.state.console
    return console


async def _quotas(request: Request) -> Quotas | None:
    """The plans' rate limits; None when they are off (`RATE_LIMITS_ENABLED=false`)."""
    quotas: Quotas | None = request.app.state.quotas
    return quotas


async def _clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


async def _client(request: Request) -> ClientThrottle:
    throttle: FailureThrottle = request.app.state.auth_failures
    return throttle.for_client(request.client.host if request.client else "unknown")


TicketsDep = Annotated[TicketService, Depends(_tickets)]
AccessDep = Annotated[Access, Depends(_access)]
IdempotentDep = Annotated[IdempotentRequests, Depends(_idempotent)]
ConsoleDep = Annotated[ConsoleSignIn, Depends(_console)]
ClockDep = Annotated[Callable[[], datetime], Depends(_clock)]
QuotasDep = Annotated[Quotas | None, Depends(_quotas)]
ClientDep = Annotated[ClientThrottle, Depends(_client)]
SessionCookie = Annotated[str | None, Cookie(alias=SESSION_COOKIE, include_in_schema=False)]


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(
        401,
        "authentication_error",
        code,
        message,
        headers={"WWW-Authenticate": "Bearer"},
    )


def session_missing(token: str | None) -> ApiError:
    if token is None:
        return unauthorized("not_signed_in", "Not signed in to the console.")
    return unauthorized("session_expired", "Your console session ended. Sign in again.")


def csrf_refused() -> ApiError:
    return ApiError(
        403,
        "invalid_request_error",
        "csrf_token_invalid",
        f"A change made with the console's session needs its CSRF token in `{CSRF_HEADER}`.",
        CSRF_HEADER,
    )


async def console_session(
    request: Request, console: ConsoleSignIn, client: ClientThrottle, token: str
) -> SessionRecord:
    """The live session of the cookie, CSRF-checked for a change."""
    client.check_not_throttled()
    record = await console.session(token)
    if record is None:
        client.failed()
        raise session_missing(token)
    if request.method not in SAFE_METHODS and not record.csrf_matches(
        request.headers.get(CSRF_HEADER)
    ):
        raise csrf_refused()
    return record


async def _customer(
    request: Request,
    access: AccessDep,
    console: ConsoleDep,
    client: ClientDep,
    quotas: QuotasDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_customer_bearer)],
    session: SessionCookie = None,
) -> Customer:
    """The calling project, within its plan's rate limits (when they are on)."""
    customer = await _authenticated_customer(request, access, console, client, credentials, session)
    if quotas is not None:
        enforce(request, await quotas.admit(customer, write=request.method not in SAFE_METHODS))
    return customer


async def _authenticated_customer(
    request: Request,
    access: Access,
    console: ConsoleSignIn,
    client: ClientThrottle,
    credentials: HTTPAuthorizationCredentials | None,
    session: str | None,
) -> Customer:
    if credentials is None and session is not None:
        record = await console_session(request, console, client, session)
        customer = customer_of(record)
        if customer is None:
            raise unauthorized("wrong_session", "This endpoint is for customers' sessions.")
        return customer
    if credentials is None:
        raise unauthorized(
            "missing_api_key",
            "No API key provided. Send it as `Authorization: Bearer <api key>`.",
        )
    if not access.key_is_well_formed(credentials.credentials):
        raise unauthorized("malformed_api_key", "The API key is malformed.")
    client.check_not_throttled()
    found = await access.customer(credentials.credentials)
    if found is None:
        client.failed()
        raise unauthorized("invalid_api_key", "The API key is not valid.")
    access.used(found)
    return found


async def _team_member(
    request: Request,
    access: AccessDep,
    console: ConsoleDep,
    client: ClientDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_staff_bearer)],
    session: SessionCookie = None,
) -> TeamMember:
    if credentials is None and session is not None:
        record = await console_session(request, console, client, session)
        member = team_member_of(record)
        if member is None:
            raise unauthorized("wrong_session", "This endpoint is for the Zumik team's sessions.")
        return member
    if credentials is None:
        raise unauthorized("missing_staff_token", "No staff token provided.")
    client.check_not_throttled()
    found = await access.team_member(credentials.credentials)
    if found is None:
        client.failed()
        raise unauthorized("invalid_staff_token", "The staff token is not valid.")
    access.used(found)
    return found


CustomerDep = Annotated[Customer, Depends(_customer)]
TeamMemberDep = Annotated[TeamMember, Depends(_team_member)]
