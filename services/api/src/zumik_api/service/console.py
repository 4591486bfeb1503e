"""Signing in to the console: a credential is exchanged for a session, once.

The browser never keeps the credential: it gets an opaque session token (an HttpOnly cookie the
page cannot read) and a CSRF token for its changes. The session then stands for the same caller
as the credential did, on the same endpoints.
"""

from dataclasses import dataclass
from datetime import timedelta

from zumik_contracts.console import ConsoleSession

from zumik_api.service.ports import (
    Customer,
    Directory,
    SessionRecord,
    SessionStore,
    TeamMember,
)


class SignInRefused(Exception):
    """The credential is unknown, revoked, expired or used already."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SignedIn:
    token: str  # for the cookie
    session: ConsoleSession


class ConsoleSignIn:
    def __init__(
        self, directory: Directory, sessions: SessionStore, *, idle_timeout: timedelta
    ) -> None:
        self._directory = directory
        self._sessions = sessions
        self._idle_timeout = idle_timeout

    async def with_api_key(self, api_key: str, email: str) -> SignedIn:
        customer = await self._directory.customer_for_key(api_key)
        if customer is None:
            raise SignInRefused("invalid_api_key", "The API key is not valid.")
        token, record = await self._sessions.open(
            kind="customer",
            email=email,
            credential=customer.credential,
            project_id=customer.project_id,
        )
        return SignedIn(token, await self.describe(record))

    async def with_staff_token(self, staff_token: str) -> SignedIn:
        member = await self._directory.member_for_token(staff_token)
        if member is None:
            raise SignInRefused("invalid_staff_token", "The staff token is not valid.")
        token, record = await self._sessions.open(
            kind="staff", email=member.email, credential=member.credential, staff_id=member.id
        )
        return SignedIn(token, await self.describe(record))

    async def with_link(self, link_token: str) -> SignedIn:
        link = await self._sessions.use_link(link_token)
        if link is None or await self._directory.plan_of(link.project_id) is None:
            raise SignInRefused(
                "invalid_sign_in_link",
                "This sign-in link is not valid: it expired, or it was used already. "
                "Ask for a new one.",
            )
        token, record = await self._sessions.open(
            kind="customer",
            email=link.email,
            credential=link.credential,
            project_id=link.project_id,
        )
        return SignedIn(token, await self.describe(record))

    async def session(self, token: str) -> SessionRecord | None:
        return await self._sessions.find(token)

    async def describe(self, record: SessionRecord) -> ConsoleSession:
        project_id = record.project_id
        name = plan = None
        if project_id is not None:
            name = await self._directory.project_name(project_id)
            plan = await self._directory.plan_of(project_id)
        return ConsoleSession(
            kind=record.kind,
            project_id=project_id,
            project_name=name,
            plan=plan,
            email=record.email,
            csrf_token=record.csrf_token,
            expires_at=record.expires_at,
            idle_timeout_seconds=round(self._idle_timeout.total_seconds()),
        )

    async def sign_out(self, token: str) -> None:
        await self._sessions.end(token)


def customer_of(record: SessionRecord) -> Customer | None:
    if record.kind != "customer" or record.project_id is None:
        return None
    return Customer(record.project_id, record.credential)


def team_member_of(record: SessionRecord) -> TeamMember | None:
    if record.kind != "staff" or record.staff_id is None:
        return None
    return TeamMember(record.staff_id, record.email, record.credential)
