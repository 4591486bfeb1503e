"""Where privacy requests keep their outcomes, and the indexes those collections need.

- `privacy_exports`: export manifests, keyed by request id; each is also its request's claim
  (see `claims`), and once completed the reference to the export.
- `privacy_export_chunks`: an export's bytes, the JSON array of its tickets cut into chunks of a
  fixed size (`ChunkWriter`), so memory holds one chunk however large the export.
- `privacy_receipts`: erasure receipts, keyed by request id; each is also its request's claim.

Exports expire: `sweep_expired` deletes manifests whose `retained_until` passed, and chunks whose
`expires_at` did (FerretDB has no TTL indexes). A manifest's own `expires_at` is its claim's
lease (see `claims`).
"""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.privacy import ExportReference, PrivacyScope
from zumik_store.clock import Clock
from zumik_store.deletion import delete_all
from zumik_store.mongo import Document

from zumik_privacy_records.claims import ClaimStore

EXPORTS = "privacy_exports"
EXPORT_CHUNKS = "privacy_export_chunks"
RECEIPTS = "privacy_receipts"


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
        expires_at=record["retained_until"],
        count=record["count"],
        bytes=record["bytes"],
        sha256=record["sha256"],
        chunk_size=record["chunk_size"],
        chunk_count=record["chunk_count"],
    )


@dataclass(frozen=True)
class SweepResult:
    exports: int
    chunks: int


class PrivacyRecords:
    """The three collections, and what the privacy service and the CLI do with them."""

    def __init__(self, db: AsyncDatabase[Document], *, claim_lease: timedelta, clock: Clock):
        self._db = db
        self.chunks = db[EXPORT_CHUNKS]
        self.exports = ClaimStore(db[EXPORTS], lease=claim_lease, clock=clock)
        self.receipts = ClaimStore(db[RECEIPTS], lease=claim_lease, clock=clock)
        self._clock = clock

    async def ensure_indexes(self) -> None:
        await self._db[EXPORTS].create_index([("project_id", ASCENDING)])
        await self._db[EXPORTS].create_index([("retained_until", ASCENDING)])
        await self.chunks.create_index([("export_id", ASCENDING), ("writer", ASCENDING)])
        await self.chunks.create_index([("project_id", ASCENDING)])
        await self.chunks.create_index([("expires_at", ASCENDING)])
        await self._db[RECEIPTS].create_index([("project_id", ASCENDING)])

    def chunk_writer(self, **kwargs: Any) -> ChunkWriter:
        return ChunkWriter(self.chunks, **kwargs)

    async def delete_chunks(self, export_id: str, writer: str | None = None) -> None:
        query: Document = {"export_id": export_id}
        if writer is not None:
            query["writer"] = writer
        await self.chunks.delete_many(query)

    async def has_receipt_for(self, project_id: str) -> bool:
        found = await self._db[RECEIPTS].find_one({"project_id": project_id}, {"_id": 1})
        return found is not None

    async def sweep_expired(self) -> SweepResult:
        now = self._clock()
        exports = await delete_all(self._db[EXPORTS], {"retained_until": {"$lte": now}})
        chunks = await delete_all(self.chunks, {"expires_at": {"$lte": now}})
        return SweepResult(exports, chunks)

    async def erase_project(self, project_id: str) -> dict[str, int]:
        """Every stored export of the project: any of them may contain what is being erased.
        An export still being written notices its manifest is gone and stops."""
        by_project = {"project_id": project_id}
        return {
            "exports": await delete_all(self._db[EXPORTS], by_project),
            "export_chunks": await delete_all(self.chunks, by_project),
        }
