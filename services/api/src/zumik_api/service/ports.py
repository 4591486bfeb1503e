"""The ports the service layer owns: what it needs from storage, identity and time.

Adapters implement them (`zumik_api.adapters`, on the owner libraries); the unit tests implement
them in memory. Nothing here knows MongoDB or RabbitMQ.
"""

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from zumik_contracts.staff import QueueFilters, StaffSummaryView
from zumik_contracts.tickets import Plan, TicketStatus

from zumik_api.domain.tickets import Ticket

Direction = Literal["older", "newer"]


class InvalidCursor(ValueError):
    """A page cursor this API did not hand out."""


class TicketPage(Protocol):
    @property
    def items(self) -> Sequence[StaffSummaryView]: ...
    @property
    def has_more(self) -> bool: ...
    @property
    def next_cursor(self) -> str | None: ...


class TicketUnitOfWork(Protocol):
    """One change of one ticket: taken under the ticket's lease, loaded, then committed (the
    ticket with the events it recorded, in one write) or dropped."""

    @property
    def ticket(self) -> Ticket: ...

    async def commit(self) -> None:
        """Write the change. Raises if a newer lease holder wrote the ticket meanwhile."""


class AlreadyStored(Exception):
    """A ticket with this id exists: the same request (by its idempotency key) opened it."""


class Tickets(Protocol):
    async def add(self, ticket: Ticket) -> None:
        """Store a new ticket with the events of its opening; AlreadyStored when it exists."""

    async def get(self, ticket_id: str) -> Ticket | None: ...

    async def remove(self, ticket_id: str) -> None:
        """Delete a ticket outright (one opened while its project was being erased)."""

    def change(self, ticket_id: str) -> AbstractAsyncContextManager[TicketUnitOfWork | None]:
        """Hold the ticket's lease while the block runs; None when there is no such ticket."""

    async def page(
        self,
        project_id: str,
        *,
        limit: int,
        status: TicketStatus | None,
        cursor: str | None,
        direction: Direction,
    ) -> TicketPage: ...

    async def queue_page(
        self, filters: QueueFilters, *, limit: int, cursor: str | None, now: datetime
    ) -> TicketPage:
        """Raises InvalidCursor for a cursor it did not hand out."""


class SlaTimers(Protocol):
    """The SLA scheduler's work list: when each ticket's clock next has something to say."""

    async def start(self, ticket_id: str, project_id: str, check_at: datetime | None) -> None: ...

    async def set(self, ticket_id: str, project_id: str, check_at: datetime | None) -> None: ...

    async def drop(self, ticket_id: str) -> None: ...

    async def due(self, now: datetime) -> list[str]: ...


@dataclass(frozen=True)
class Customer:
    """Who calls the customer API: a project (with the credential it used)."""

    project_id: str
    credential: str = ""


@dataclass(frozen=True)
class TeamMember:
    id: str
    email: str
    credential: str = ""


SessionKind = Literal["customer", "staff"]


class SessionRecord(Protocol):
    """A console session as stored."""

    @property
    def kind(self) -> SessionKind: ...
    @property
    def email(self) -> str: ...
    @property
    def csrf_token(self) -> str: ...
    @property
    def credential(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def project_id(self) -> str | None: ...
    @property
    def staff_id(self) -> str | None: ...

    def csrf_matches(self, presented: str | None) -> bool: ...


@dataclass(frozen=True)
class SignInLink:
    project_id: str
    email: str
    credential: str


class SessionStore(Protocol):
    async def open(
        self,
        *,
        kind: SessionKind,
        email: str,
        credential: str,
        project_id: str | None = None,
        staff_id: str | None = None,
    ) -> tuple[str, SessionRecord]:
        """A new session and its token (for the cookie; only its hash is kept)."""

    async def find(self, token: str) -> SessionRecord | None:
        """The live session of `token` (kept alive by the lookup); None once it ended."""

    async def end(self, token: str) -> None: ...

    async def use_link(self, token: str) -> SignInLink | None:
        """A one-time link's project and email; None when unknown, used or expired."""


class Plans(Protocol):
    async def plan_of(self, project_id: str) -> Plan | None:
        """None once the project is gone (erased), though a key may still be cached."""

    async def still_exists(self, project_id: str) -> bool:
        """Read now, not from a cache: whether the project was erased meanwhile."""


class Directory(Plans, Protocol):
    """Who a credential belongs to, and what a project's plan is."""

    def key_is_well_formed(self, api_key: str) -> bool: ...

    async def customer_for_key(self, api_key: str) -> Customer | None: ...

    async def member_for_token(self, token: str) -> TeamMember | None: ...

    async def project_name(self, project_id: str) -> str | None: ...

    def record_use(self, principal: Customer | TeamMember) -> None:
        """Note that a credential was used (coarsely, in the background)."""

    async def apply_plan_change(
        self, project_id: str, plan: Plan, changed_at: datetime
    ) -> bool | None:
        """True when applied, False when a newer change was already applied, None when the
        project does not exist."""


class TicketBusy(Exception):
    """Other writers kept the ticket's lease longer than a change waits, or a newer holder
    wrote the ticket while this change held a lease that had run out: retry."""


# -- files ---------------------------------------------------------------------------------------

Side = Literal["customer", "support"]


class StoredFileView(Protocol):
    """A stored file (after sniffing and scrubbing), as the use cases see it."""

    @property
    def id(self) -> str: ...
    @property
    def project_id(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def redactions(self) -> dict[str, int]: ...
    @property
    def uploaded_by(self) -> Side: ...
    @property
    def ticket_id(self) -> str | None:
        """The ticket a team upload is for; None for a customer's upload."""


class FileClaim(Protocol):
    """Which message holds a file; `message_id` None while the purge deletes it."""

    @property
    def file_id(self) -> str: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def ticket_id(self) -> str | None: ...
    @property
    def internal(self) -> bool: ...
    @property
    def claimed_at(self) -> datetime: ...
    @property
    def fresh(self) -> bool:
        """Made by this very call (not found already in place)."""


@dataclass(frozen=True)
class NewUpload:
    project_id: str
    filename: str
    declared_type: str | None
    uploaded_by: Side
    ticket_id: str | None = None


class FileRefused(Exception):
    """The upload is not a file Zumik keeps (its type, or a HAR that does not parse); nothing
    was stored. `message` is for the caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FileTooLarge(Exception):
    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"larger than {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


class StorageFull(Exception):
    """The project's files would exceed its storage quota."""

    def __init__(self, quota_bytes: int) -> None:
        super().__init__(f"over {quota_bytes} bytes")
        self.quota_bytes = quota_bytes


class Files(Protocol):
    async def upload(self, upload: NewUpload, content: AsyncIterable[bytes]) -> StoredFileView:
        """Store `content` (sniffed, scrubbed). Raises FileRefused, FileTooLarge, StorageFull;
        then nothing was kept."""

    async def get(self, file_id: str) -> StoredFileView | None: ...

    def content(self, file: StoredFileView) -> AsyncIterator[bytes]:
        """The stored bytes, a chunk at a time."""

    async def claim_of(self, file_id: str) -> FileClaim | None: ...

    async def claim(
        self, file: StoredFileView, *, ticket_id: str, message_id: str, internal: bool
    ) -> FileClaim:
        """Claim the file for a message: the claim that holds it now (this one, or another's)."""

    async def take_over(
        self,
        holder: FileClaim,
        *,
        ticket_id: str,
        message_id: str,
        internal: bool,
    ) -> FileClaim:
        """Replace a stale claim; the claim that holds the file afterwards."""

    async def release(self, file_id: str, message_id: str) -> None: ...

    async def confirm(self, file_id: str, message_id: str) -> None:
        """The message holding the claim is written: the claim stays for good."""

    async def unconfirmed_claims(self, claimed_before: datetime) -> Sequence[FileClaim]:
        """Messages' claims made before `claimed_before` and never confirmed."""

    async def delete(self, file_id: str) -> None: ...
