"""Privacy commands (data export and erasure) and their results, on the `zumik.privacy` exchange.

A command is published on the topic exchange `zumik.privacy` with routing key `privacy.export` or
`privacy.erase`; the privacy service consumes them from the quorum queue `zumik.privacy.commands`.
Its result is replied to the AMQP `reply_to` when one is set, and always published on
`zumik.privacy` as `privacy.export.completed`, `privacy.erase.completed`, `privacy.export.failed`,
`privacy.erase.failed`, or `privacy.command.failed` when the command's type is unknown or its body
is not JSON.

Personal data: a command may carry `contact_email`. No result carries it: a data subject appears
only as `subject_hash`, an HMAC-SHA256 of the lower-cased address under a secret salt.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

PRIVACY_EXCHANGE = "zumik.privacy"
PRIVACY_QUEUE_PREFIX = "zumik.privacy"  # the service's queues: .commands, .dead; exchange .dlx

CommandType = Literal["export", "erase"]
COMMAND_TYPES: tuple[CommandType, ...] = ("export", "erase")
ScopeKind = Literal["project", "subject"]
ResultStatus = Literal["completed", "failed"]

REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
PROJECT_ID_PATTERN = r"^prj_[0-9a-z]{26}$"
MAX_EMAIL_LENGTH = 254

# Why a command failed. Every code but `internal_error` marks a bad command: it touched nothing
# and was dead-lettered. `internal_error` means it kept failing until its retries ran out.
FailureCode = Literal[
    "malformed_json",
    "invalid_command",
    "unknown_type",
    "missing_project",
    "unknown_project",
    "invalid_email",
    "request_id_reused",
    "internal_error",
]

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
ProjectId = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN)]
ContactEmail = Annotated[EmailStr, Field(max_length=MAX_EMAIL_LENGTH)]


def command_routing_key(command_type: CommandType) -> str:
    return f"privacy.{command_type}"


def result_routing_key(command_type: CommandType | None, status: ResultStatus) -> str:
    """`privacy.<type>.<status>`; a command whose type is unknown fails as `privacy.command`."""
    return f"privacy.{command_type or 'command'}.{status}"


COMMAND_ROUTING_KEYS: tuple[str, ...] = tuple(command_routing_key(t) for t in COMMAND_TYPES)
RESULT_ROUTING_KEYS: tuple[str, ...] = (
    *(result_routing_key(t, "completed") for t in COMMAND_TYPES),
    *(result_routing_key(t, "failed") for t in COMMAND_TYPES),
    result_routing_key(None, "failed"),
)


class PrivacyCommand(BaseModel):
    """A privacy request. Unknown fields are refused: a misspelt `contact_email` must not widen a
    data subject's erasure into the whole project's."""

    model_config = ConfigDict(extra="forbid")

    id: RequestId = Field(
        description="The request id, chosen by the sender: the same id is the same request, so "
        "sending it again is harmless. 1-128 characters of A-Z a-z 0-9 . _ : -",
        examples=["prq_01m8x2v9c4k7q3w5e6r8t0y1z2"],
    )
    type: CommandType
    project_id: ProjectId = Field(examples=["prj_01m8x2v9c4k7q3w5e6r8t0y1z2"])
    contact_email: ContactEmail | None = Field(
        default=None,
        description="Narrows the command to one data subject: the project's tickets whose "
        "contact_email is this address (compared case-insensitively).",
    )


class PrivacyScope(BaseModel):
    kind: ScopeKind
    subject_hash: str | None = Field(
        default=None,
        description="For a data subject: hex HMAC-SHA256 of the lower-cased email under the "
        "service's PRIVACY_SUBJECT_SALT. Never the email itself.",
    )


class ExportReference(BaseModel):
    """Where a finished export is stored, and how to check it.

    The export is a byte stream, the JSON array of the tickets, cut into `chunk_count` chunks of
    `chunk_size` bytes (the last one shorter) in the `privacy_export_chunks` collection.
    `sha256` is the hex SHA-256 of that array's bytes exactly as they appear in the exported
    file after `"tickets":`.
    """

    export_id: str
    request_id: str
    project_id: str
    scope: PrivacyScope
    generated_at: datetime = Field(description="The instant the tickets were read as of.")
    expires_at: datetime = Field(description="When the stored export is deleted.")
    count: int = Field(description="Number of tickets.")
    bytes: int
    sha256: str
    chunk_size: int
    chunk_count: int


class ErasureCounts(BaseModel):
    """Records deleted, per kind."""

    projects: int = 0
    api_keys: int = 0
    console_sessions: int = 0
    sign_in_links: int = 0
    tickets: int = 0
    messages: int | None = Field(
        default=0,
        description="Thread messages of the erased tickets, internal notes included. null for a "
        "project erasure, which deletes the tickets with one query without reading them first "
        "(all their messages go with them).",
    )
    outbox_events: int | None = Field(
        default=0,
        description="Events held in the erased tickets' outboxes (their latest events, "
        "published or not); null for a project erasure.",
    )
    idempotency_keys: int = 0
    notification_deliveries: int = 0
    ticket_locks: int = 0
    sla_timers: int = 0
    outbox_acks: int = 0
    exports: int = 0
    export_chunks: int = 0
    attachments: int = Field(
        default=0, description="Files (attachments and uploads not yet attached) deleted."
    )
    attachment_chunks: int = Field(default=0, description="Their stored chunks (GridFS).")


class ErasureReceipt(BaseModel):
    """The proof of an erasure, kept in `privacy_receipts`. It holds no personal data."""

    request_id: str
    project_id: str
    scope: PrivacyScope
    counts: ErasureCounts
    started_at: datetime
    completed_at: datetime


class PrivacyFailure(BaseModel):
    code: FailureCode
    message: str = Field(description="What was wrong; it never repeats the command's values.")


class PrivacyResult(BaseModel):
    """The body of every result: the reply to `reply_to` and the event on `zumik.privacy`."""

    object: Literal["privacy_result"] = "privacy_result"
    request_id: str | None = Field(description="null when the command could not be read.")
    type: CommandType | None = Field(description="null when the command's type is unknown.")
    status: ResultStatus
    project_id: str | None = None
    replayed: bool = Field(
        default=False,
        description="True when this request id had already completed: nothing was done again "
        "and the earlier outcome is returned.",
    )
    export: ExportReference | None = None
    receipt: ErasureReceipt | None = None
    error: PrivacyFailure | None = None

    @property
    def routing_key(self) -> str:
        return result_routing_key(self.type, self.status)
