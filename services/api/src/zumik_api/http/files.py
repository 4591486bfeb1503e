"""`/v2/support/files`: uploads (scrubbed before they are stored) and downloads; and the team's
side of the same, `/v2/support/staff/tickets/{id}/files` and `/v2/support/staff/files/`.

An upload is a `multipart/form-data` body with the fields `file` and `purpose`
(`support_attachment`), read as it arrives: its bytes stream through sniffing and scrubbing into
the store, never held whole. These routes take bodies up to `UPLOAD_OVERHEAD_BYTES` more than one
file may be (`BodySizeLimitMiddleware`'s override for `UPLOAD_PATHS`); the others keep the API's
256 KiB. Uploads take no `Idempotency-Key` (the body would have to be read twice to check one): a
retried upload stores a second file, and a file no message takes is deleted after a day.
"""

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect
from zumik_contracts.files import PURPOSES, SupportFile

from zumik_api.domain.scope import TEAM, ProjectScope
from zumik_api.http.deps import CustomerDep, TeamMemberDep
from zumik_api.http.errors import (
    COMMON_ERRORS,
    ApiError,
    described,
    missing_parameter,
    unknown_parameter,
)
from zumik_api.http.multipart import MultipartReader, invalid_form
from zumik_api.service.files import FileService
from zumik_api.service.ports import StoredFileView

router = APIRouter(prefix="/v2/support/files", tags=["files"])
staff_router = APIRouter(prefix="/v2/support/staff", tags=["staff"])

# Room for the form around the file: boundaries, part headers, the purpose field.
UPLOAD_OVERHEAD_BYTES = 64 * 1024
UPLOAD_PATHS = (r"/v2/support/files", r"/v2/support/staff/tickets/[^/]+/files")


async def _files(request: Request) -> FileService:
    service: FileService = request.app.state.files
    return service


FilesDep = Annotated[FileService, Depends(_files)]

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The file: an image (PNG, JPEG, GIF, WebP), a PDF, a "
                            "ZIP, UTF-8 text or a log, JSON, or a HAR capture; 25 MB at most. "
                            "Its type is decided from its content. Secrets in HAR captures, "
                            "and JWTs and Zumik keys in text, are removed before it is stored.",
                        },
                        "purpose": {"type": "string", "enum": list(PURPOSES)},
                    },
                }
            }
        },
    }
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    400: described(
        "Not multipart/form-data, `file` or `purpose` missing or invalid, a type that is not "
        "accepted (`file_type_not_allowed`), or a HAR that does not parse (`invalid_har`). "
        "Nothing was stored."
    ),
    413: described(
        "The file is larger than 25 MB (`file_too_large`), or the project's files take its whole "
        "storage quota (`storage_quota_exceeded`). Nothing was stored."
    ),
}
FILE_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    404: described("No such file for this caller."),
}
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    **FILE_ERRORS,
    200: {
        "description": "The stored (scrubbed) bytes, as an attachment.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
}

Upload = Callable[[str, str | None, AsyncIterable[bytes]], Awaitable[StoredFileView]]


def public_file(file: StoredFileView) -> SupportFile:
    return SupportFile(
        id=file.id,
        filename=file.filename,
        content_type=file.content_type,
        size=file.size,
        sha256=file.sha256,
        created_at=file.created_at,
        redactions=file.redactions or None,
    )


async def receive_upload(request: Request, files: FileService, upload: Upload) -> SupportFile:
    """Read the form, part by part, storing the file as it arrives; a form found wrong after
    the file was stored (a bad `purpose` after it) deletes the file again."""
    form = MultipartReader(request.stream(), request.headers.get("content-type"))
    purpose: str | None = None
    stored: StoredFileView | None = None
    try:
        while (part := await form.next_part()) is not None:
            if part.name == "purpose":
                if purpose is not None:
                    raise invalid_form("The field `purpose` is sent twice.", "purpose")
                purpose = await form.read_field("purpose")
                _check_purpose(purpose)
            elif part.name == "file":
                if stored is not None:
                    raise invalid_form("Send one file per request.", "file")
                stored = await upload(part.filename or "", part.content_type, form.part_data())
            else:
                raise unknown_parameter(part.name[:100])
        if stored is None:
            raise missing_parameter("file")
        if purpose is None:
            raise missing_parameter("purpose")
    except ClientDisconnect:
        if stored is not None:
            await files.discard(stored)
        raise invalid_form("The upload was interrupted.") from None
    except BaseException:
        if stored is not None:
            await files.discard(stored)
        raise
    return public_file(stored)


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ApiError(
            400,
            "invalid_request_error",
            "parameter_invalid",
            f"Invalid purpose: it must be one of {', '.join(PURPOSES)}.",
            "purpose",
        )


def content_disposition(filename: str) -> str:
    """`attachment`, with the name as ASCII and, when it is not, as RFC 5987 UTF-8 too."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    ascii_name = ascii_name.replace("\\", "_").replace('"', "_")
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return disposition


def download(file: StoredFileView, content: AsyncIterator[bytes]) -> Response:
    return StreamingResponse(
        content,
        media_type=file.content_type,
        headers={
            "Content-Length": str(file.size),
            "Content-Disposition": content_disposition(file.filename),
            "X-Content-Type-Options": "nosniff",
            # Never rendered as a page, even if opened in a tab.
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
            "ETag": f'"{file.sha256}"',
        },
    )


# -- the customer's side --------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=SupportFile,
    responses=UPLOAD_ERRORS,
    summary="Upload a file to attach to a message",
    description="A `multipart/form-data` body with `file` and `purpose=support_attachment`. "
    "The content decides the type; HAR captures lose their secrets (authorization and cookie "
    "headers, cookies, secret-looking query and body fields, JWTs, Zumik keys) before anything "
    "is stored, and `redactions` counts what went. Attach the file by its id to a new ticket or "
    "a reply within 24 hours; a file no message takes is deleted then.",
    openapi_extra=UPLOAD_BODY,
)
async def upload_file(request: Request, files: FilesDep, customer: CustomerDep) -> SupportFile:
    async def upload(
        filename: str, declared_type: str | None, content: AsyncIterable[bytes]
    ) -> StoredFileView:
        return await files.upload_as_customer(
            customer, filename=filename, declared_type=declared_type, content=content
        )

    return await receive_upload(request, files, upload)


@router.get(
    "/{file_id}", response_model=SupportFile, responses=FILE_ERRORS, summary="A file's metadata"
)
async def get_file(file_id: str, files: FilesDep, customer: CustomerDep) -> SupportFile:
    return public_file(await files.get(ProjectScope(customer.project_id), file_id))


@router.get(
    "/{file_id}/content",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    summary="Download a file",
    description="The stored bytes (scrubbed, for a HAR), as an attachment "
    "(`Content-Disposition: attachment`, `X-Content-Type-Options: nosniff`).",
)
async def get_file_content(file_id: str, files: FilesDep, customer: CustomerDep) -> Response:
    file, content = await files.content(ProjectScope(customer.project_id), file_id)
    return download(file, content)


# -- the team's side ------------------------------------------------------------------------------


@staff_router.post(
    "/tickets/{ticket_id}/files",
    status_code=201,
    response_model=SupportFile,
    responses={**UPLOAD_ERRORS, 404: described("No such ticket.")},
    summary="Upload a file to attach to a team reply or note on this ticket",
    description="As `POST /v2/support/files`; the file belongs to the ticket's project and can "
    "be attached to a reply or an internal note on this ticket.",
    openapi_extra=UPLOAD_BODY,
)
async def upload_team_file(
    ticket_id: str, request: Request, files: FilesDep, _: TeamMemberDep
) -> SupportFile:
    async def upload(
        filename: str, declared_type: str | None, content: AsyncIterable[bytes]
    ) -> StoredFileView:
        return await files.upload_as_team(
            TEAM, ticket_id, filename=filename, declared_type=declared_type, content=content
        )

    return await receive_upload(request, files, upload)


@staff_router.get(
    "/files/{file_id}",
    response_model=SupportFile,
    responses=FILE_ERRORS,
    summary="Any file's metadata",
)
async def get_team_file(file_id: str, files: FilesDep, _: TeamMemberDep) -> SupportFile:
    return public_file(await files.get(TEAM, file_id))


@staff_router.get(
    "/files/{file_id}/content",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    summary="Download any file",
)
async def get_team_file_content(file_id: str, files: FilesDep, _: TeamMemberDep) -> Response:
    file, content = await files.content(TEAM, file_id)
    return download(file, content)
