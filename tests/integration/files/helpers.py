"""Helpers for the attachment tests: uploading, downloading, and what the store holds."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from aio_pika.abc import AbstractQueue
from pymongo.asynchronous.database import AsyncDatabase
from zumik_files.store import CHUNKS, CLAIMS, FILES, UPLOADS
from zumik_store.mongo import Document

from tests.amqp import take_until

FILES_PATH = "/v2/support/files"
TICKETS = "/v2/support/tickets"
STAFF = "/v2/support/staff"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@dataclass(frozen=True)
class StaffUser:
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def upload(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    filename: str,
    content: bytes,
    *,
    content_type: str = "application/octet-stream",
    purpose: str | None = "support_attachment",
    path: str = FILES_PATH,
) -> httpx.Response:
    data = {} if purpose is None else {"purpose": purpose}
    return await api.post(
        path, headers=headers, data=data, files={"file": (filename, content, content_type)}
    )


async def uploaded(
    api: httpx.AsyncClient, headers: dict[str, str], filename: str, content: bytes
) -> dict[str, Any]:
    response = await upload(api, headers, filename, content)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def stream_body(parts: list[bytes], file: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A multipart body sent chunked (no Content-Length): head, the file as it comes, tail."""
    yield parts[0]
    async for piece in file:
        yield piece
    yield parts[1]


def form_around(filename: str, boundary: str = "zumikboundary") -> tuple[list[bytes], str]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
        f'support_attachment\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return [head, tail], f"multipart/form-data; boundary={boundary}"


async def zip_like(size: int, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    """`size` bytes that sniff as a ZIP, made as they are sent (never held whole)."""
    header = b"PK\x03\x04" + b"\x14\x00" + b"\x00" * 20 + b"\x08\x00\x00\x00" + b"data.bin"
    sent = 0
    block = bytes(range(256)) * (piece // 256)
    while sent < size:
        chunk = header if sent == 0 else block[: min(piece, size - sent)]
        chunk = chunk[: size - sent]
        sent += len(chunk)
        yield chunk


async def store_counts(db: AsyncDatabase[Document], project_id: str) -> dict[str, int]:
    """What the store holds: the project's files and uploads, and every chunk and claim."""
    return {
        "files": await db[FILES].count_documents({"project_id": project_id}),
        "uploads": await db[UPLOADS].count_documents({"project_id": project_id}),
        "claims": await db[CLAIMS].count_documents({"project_id": project_id}),
        "chunks": await db[CHUNKS].count_documents({}),
    }


class EventQueue:
    def __init__(self, queue: AbstractQueue) -> None:
        self.queue = queue

    async def event(self, ticket_id: str, event_type: str) -> dict[str, Any]:
        message = await take_until(
            self.queue,
            lambda m: (
                json.loads(m.body)["data"]["ticket_id"] == ticket_id
                and json.loads(m.body)["type"] == event_type
            ),
            within=15,
        )
        body: dict[str, Any] = json.loads(message.body)
        return body
