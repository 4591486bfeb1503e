"""Data export: every ticket of a project (or of one data subject), as the API shows it.

The tickets are read with a cursor and serialised one at a time into a byte stream, the JSON
array of public ticket objects; the stream is cut into fixed-size chunks stored in
`privacy_export_chunks` as it grows. So memory holds one cursor batch and one chunk, however many
tickets there are, and the result message carries only a reference and the stream's SHA-256.
The manifest in `privacy_exports` (keyed by request id) is the request's claim and, once
completed, the reference. Exports expire: a periodic sweep deletes manifests and chunks whose
`expires_at` passed (FerretDB has no TTL indexes).
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.mongo import Document
from zumik_api.adapters.tickets import ticket_from_doc
from zumik_api.clock import Clock
from zumik_api.presenters import public_ticket
from zumik_contracts.privacy import ExportReference, PrivacyCommand, PrivacyScope
from zumik_store.deletion import delete_all

from zumik_privacy import store
from zumik_privacy.claims import Claim, ClaimLost, ClaimStore, Completed, Conflict
from zumik_privacy.commands import (
    command_identity,
    reused_request_id,
    scope_of,
    subject_filter,
    unknown_project,
)

log = logging.getLogger("zumik_privacy.exports")

# What export does not need from a ticket document: the event outbox and the team's history.
_TICKET_PROJECTION = {"outbox": 0, "history": 0}


@dataclass(frozen=True)
class ExportOutcome:
    reference: ExportReference
    replayed: bool


def chunk_id(export_id: str, writer: str, seq: int) -> str:
    return f"{export_id}:{writer}:{seq:08d}"


class ChunkWriter:
    """Cuts a byte stream into `chunk_size` pieces (the last one shorter) and stores each.

    Every chunk but the last has exactly `chunk_size` bytes, so a reader can put each at its
    offset, whatever order the chunks come back in.
    """

    def __init__(
        self,
        chunks: AsyncCollection[Document],
        *,
        export_id: str,
        writer: str,
        project_id: str,
        chunk_size: int,
        expires_at: datetime,
        before_store: Callable[[], Awaitable[None]],
    ) -> None:
        self._chunks = chunks
        self._export_id = export_id
        self._writer = writer
        self._project_id = project_id
        self.chunk_size = chunk_size
        self._expires_at = expires_at
        self._before_store = before_store
        self._buffer = bytearray()
        self._digest = hashlib.sha256()
        self.size = 0
        self.chunk_count = 0

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    async def write(self, data: bytes) -> None:
        self._digest.update(data)
        self.size += len(data)
        self._buffer += data
        while len(self._buffer) >= self.chunk_size:
            piece = bytes(self._buffer[: self.chunk_size])
            del self._buffer[: self.chunk_size]
            await self._store(piece)

    async def finish(self) -> None:
        if self._buffer or self.chunk_count == 0:
            await self._store(bytes(self._buffer))
            self._buffer.clear()

    async def _store(self, data: bytes) -> None:
        await self._before_store()
        await self._chunks.insert_one(
            {
                "_id": chunk_id(self._export_id, self._writer, self.chunk_count),
                "export_id": self._export_id,
                "writer": self._writer,
                "project_id": self._project_id,
                "seq": self.chunk_count,
                "data": data,
                "expires_at": self._expires_at,
            }
        )
        self.chunk_count += 1


def reference_from(record: Document) -> ExportReference:
    return ExportReference(
        export_id=record["_id"],
        request_id=record["request_id"],
        project_id=record["project_id"],
        scope=PrivacyScope(kind=record["scope"], subject_hash=record.get("subject_hash")),
        generated_at=record["generated_at"],
        expires_at=record["expires_at"],
        count=record["count"],
        bytes=record["bytes"],
        sha256=record["sha256"],
        chunk_size=record["chunk_size"],
        chunk_count=record["chunk_count"],
    )


class Exporter:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        claims: ClaimStore,
        *,
        subject_salt: bytes,
        retention: timedelta,
        chunk_size: int,
        cursor_batch: int,
        clock: Clock,
    ) -> None:
        self._db = db
        self._claims = claims
        self._chunks = db[store.EXPORT_CHUNKS]
        self._salt = subject_salt
        self._retention = retention
        self._chunk_size = chunk_size
        self._cursor_batch = cursor_batch
        self._clock = clock

    async def run(self, command: PrivacyCommand) -> ExportOutcome:
        scope = scope_of(command, self._salt)
        identity = command_identity(command, scope)
        if await self._claims.find(command.id) is None:
            await self._check_new(command)
        now = self._clock()
        outcome = await self._claims.claim(
            command.id,
            identity,
            {
                "request_id": command.id,
                "started_at": now,
                "generated_at": now,
                "expires_at": now + self._retention,
            },
        )
        if isinstance(outcome, Conflict):
            raise reused_request_id(command)
        if isinstance(outcome, Completed):
            return ExportOutcome(reference_from(outcome.record), replayed=True)
        async with self._claims.held(outcome) as claim:
            record = await self._write(command, claim)
        return ExportOutcome(reference_from(record), replayed=False)

    async def _check_new(self, command: PrivacyCommand) -> None:
        """Before anything is written: the project exists and the id is not an erasure's."""
        if await self._db[store.RECEIPTS].find_one({"_id": command.id}, {"_id": 1}) is not None:
            raise reused_request_id(command)
        if await self._db[store.PROJECTS].find_one({"_id": command.project_id}) is None:
            raise unknown_project(command)

    async def _write(self, command: PrivacyCommand, claim: Claim) -> Document:
        record = claim.record
        if claim.resumed:  # a previous worker's partial chunks
            await self._chunks.delete_many({"export_id": command.id})
        writer = ChunkWriter(
            self._chunks,
            export_id=command.id,
            writer=claim.token,
            project_id=command.project_id,
            chunk_size=self._chunk_size,
            expires_at=record["expires_at"],
            before_store=lambda: self._still_claimed(claim),
        )
        try:
            count = await self._stream_tickets(
                subject_filter(command.project_id, command.contact_email),
                record["generated_at"],
                writer,
            )
            await writer.finish()
            return await self._claims.complete(
                claim,
                {
                    "count": count,
                    "bytes": writer.size,
                    "sha256": writer.sha256,
                    "chunk_size": writer.chunk_size,
                    "chunk_count": writer.chunk_count,
                    "writer": claim.token,
                    "completed_at": self._clock(),
                },
            )
        except BaseException:
            # Nobody will read these; don't leave personal data behind until the sweep.
            await asyncio.shield(
                self._chunks.delete_many({"export_id": command.id, "writer": claim.token})
            )
            raise

    async def _stream_tickets(self, query: dict[str, Any], now: datetime, out: ChunkWriter) -> int:
        count = 0
        await out.write(b"[")
        cursor = self._db[store.TICKETS].find(query, _TICKET_PROJECTION)
        async for doc in cursor.sort("_id", 1).batch_size(self._cursor_batch):
            ticket = public_ticket(ticket_from_doc(doc), now)
            await out.write((b"," if count else b"") + ticket.model_dump_json().encode())
            count += 1
        await out.write(b"]")
        return count

    async def _still_claimed(self, claim: Claim) -> None:
        """Stop writing once the manifest is gone (an erasure deleted it) or was taken over."""
        claim.check()
        # By `_id` alone: the one query FerretDB answers without scanning the collection.
        record = await self._claims.find(claim.request_id)
        if record is None or record.get("token") != claim.token:
            claim.lost = True
            raise ClaimLost(claim.request_id)


@dataclass(frozen=True)
class SweepResult:
    exports: int
    chunks: int


class ExportSweeper:
    """Deletes expired exports: their manifests and every chunk (orphans of crashed writers too,
    since each chunk carries its export's expiry)."""

    def __init__(self, db: AsyncDatabase[Document], clock: Clock) -> None:
        self._exports = db[store.EXPORTS]
        self._chunks = db[store.EXPORT_CHUNKS]
        self._clock = clock

    async def sweep(self) -> SweepResult:
        now = self._clock()
        exports = await delete_all(self._exports, {"expires_at": {"$lte": now}})
        chunks = await delete_all(self._chunks, {"expires_at": {"$lte": now}})
        if exports or chunks:
            log.info("deleted %d expired exports (%d chunks)", exports, chunks)
        return SweepResult(exports, chunks)
