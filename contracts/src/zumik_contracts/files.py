"""The public file object: an upload that messages attach (`POST /v2/support/files`)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

FILE_ID_PATTERN = r"^file_[0-9a-z]{26}$"
Purpose = Literal["support_attachment"]
PURPOSES: tuple[Purpose, ...] = ("support_attachment",)
# At most this many files on one message.
MAX_ATTACHMENTS = 10


class SupportFile(BaseModel):
    """A stored file: what was kept of the upload, after any scrubbing."""

    object: Literal["file"] = "file"
    id: str = Field(examples=["file_01jd6t5x3q8f9k2m4n6p7r8s9t"])
    filename: str = Field(description="The upload's name, made safe for a download.")
    content_type: str = Field(
        description="What the content is, decided from its bytes (never from its name).",
        examples=["application/har+json"],
    )
    size: int = Field(description="Bytes stored, after any scrubbing.")
    sha256: str = Field(description="Hex SHA-256 of the bytes stored (what a download returns).")
    created_at: datetime
    redactions: dict[str, int] | None = Field(
        default=None,
        description="What scrubbing removed before the file was stored, counted by kind "
        "(`headers`, `cookies`, `query_params`, `body_fields`, `jwts`, `api_keys`), never the "
        "values; null when nothing was removed.",
        examples=[{"headers": 3, "cookies": 2, "jwts": 1}],
    )
