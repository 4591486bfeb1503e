"""Request bodies of the customer API. Unknown fields are refused, as Stripe does."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from zumik_contracts.files import FILE_ID_PATTERN, MAX_ATTACHMENTS
from zumik_contracts.tickets import Priority, TicketStatus

MAX_SUBJECT = 200
MAX_BODY = 20_000
# Characters alone would let 20,000 four-byte emoji make an 80 KB message: bytes bound it too.
MAX_BODY_BYTES = 64 * 1024


# What the OpenAPI document says of text fields: no NUL, and some non-blank character.
TEXT_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


def _bounded_bytes(text: str) -> str:
    size = len(text.encode())
    if size > MAX_BODY_BYTES:
        raise ValueError(
            f"text is {size:,} bytes of UTF-8; at most {MAX_BODY_BYTES:,} bytes are accepted"
        )
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text must not be blank")
    return text


# The length is checked as sent, then the subject is stripped: what the schema says is exactly
# what is accepted.
Subject = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_SUBJECT),
    AfterValidator(_no_nul),
    AfterValidator(_not_blank),
    AfterValidator(str.strip),
    Field(json_schema_extra={"pattern": TEXT_PATTERN}),
]
Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_BODY, pattern=r"\S"),
    AfterValidator(_no_nul),
    AfterValidator(_bounded_bytes),
    Field(json_schema_extra={"pattern": TEXT_PATTERN}),
]


FileId = Annotated[str, StringConstraints(pattern=FILE_ID_PATTERN)]
Attachments = Annotated[
    list[FileId],
    Field(
        max_length=MAX_ATTACHMENTS,
        description="Ids of uploaded files (`file_...`) to attach to the message; a file can "
        "belong to one message only.",
    ),
]
# An address whose domain is a special-use name (`.test`, `.local`, `.invalid`, ...) is refused
# by the email validator; the document says so.
EMAIL_PATTERN = r"^(?!.*@(?:.*\.)?(?:arpa|invalid|local|localhost|onion|test)\.?$).+@.+$"
Email = Annotated[EmailStr, Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN})]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateTicket(_Request):
    subject: Subject = Field(examples=["Streaming cuts off mid-response"])
    body: Body = Field(examples=["When I set stream:true the response stops after ~30s."])
    priority: Priority = "normal"
    contact_email: Email | None = None
    attachments: Attachments = []


class Reply(_Request):
    body: Body = Field(examples=["It also happens with the Python SDK."])
    attachments: Attachments = []


class UpdateTicket(_Request):
    status: TicketStatus = Field(examples=["resolved"])


class StaffReply(_Request):
    body: Body = Field(examples=["Thanks, we can reproduce it; a fix is rolling out."])
    internal: bool = Field(default=False, examples=[False])
    status: TicketStatus | None = Field(default=None, examples=["pending"])
    attachments: Attachments = []


class StaffTicketUpdate(_Request):
    """Only the fields sent change; `assignee: null` unassigns."""

    priority: Priority | None = None
    status: TicketStatus | None = None
    assignee: Email | None = None
