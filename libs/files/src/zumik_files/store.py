"""The attachment store: files in GridFS's layout (the bucket `attachments`), each streamed in
through sniffing and scrubbing and out again in chunks, and claims that give a file to one
message only.

Collections, all owned here:

- `attachments.files` and `attachments.chunks`: the GridFS bucket `attachments`. A file document
  is GridFS's (`_id`, `length`, `chunkSize`, `uploadDate`, `filename`, `metadata`) plus a top-level
  `project_id`, the key of every query of a project's files. A file's `_id` is its public id
  (`file_...`), a string, so the chunks' `{files_id: id}` is a string equality: FerretDB pushes it
  down to the `files_id_1_n_1` index (numbers and ObjectIds would not all be), as MongoDB uses it.
  Any GridFS reader (PyMongo's `AsyncGridFSBucket.open_download_stream`) reads these files.
- `attachment_uploads`: one document per upload in progress (`_id` = the file id, the project,
  the start time, and once all of it is in, its `bytes`). A crash mid-upload leaves chunks without
  a file document; the purge finds them through it, and a project's erasure reaches uploads still
  in flight (an upload whose record vanished, because its project was erased meanwhile, deletes
  its chunks and fails). The quota counts the `bytes` of uploads finishing (see `upload`).
- `attachment_claims`: which message holds a file, `_id` = the file id. Claiming is an insert into
  that unique `_id`, the one write that is atomic on MongoDB and FerretDB alike (FerretDB applies
  a filtered update by reading and rewriting the document, so two conditional updates could both
  win): of two messages racing for one file, one gets it. The purge of files never attached
  claims a file the same way before deleting it, so it can never delete one being attached. A
  message's claim is made `confirmed: False` and confirmed once its ticket write committed; the
  API settles the claims left unconfirmed (`unconfirmed_claims`: confirmed if the message is in
  its ticket, released otherwise), so that no claim keeps a file its message never got.

Why the chunks are written and read here rather than by `AsyncGridIn`/`AsyncGridOut`: measured
with PyMongo 4.20 on this project's FerretDB, `AsyncGridIn` keeps every chunk of an upload in
memory until 48 MB (the server's largest message) are buffered or the file is closed, then sends
them in one `insert_many`: a 25 MB upload was wholly in memory. `AsyncGridOut` reads the chunks
with a cursor without a batch size, and FerretDB answers its first batch with 101 chunks, a whole
25 MB file (MongoDB caps a batch at 16 MB). Here an upload holds one chunk being filled and one
being inserted, and a download asks for `READ_BATCH` chunks at a time, whatever the file's size.
The layout is GridFS's to the letter, so the bucket's own reader, writer and tools still work.
"""

import asyncio
import contextlib
import hashlib
import math
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bson.int64 import Int64
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CursorNotFound, DuplicateKeyError
from zumik_store.clock import Clock, utc_now
from zumik_store.deletion import delete_all
from zumik_store.mongo import Document

from zumik_files.scrub import Scrubber, new_scrubber
from zumik_files.sniff import SNIFF_BYTES, FileKind, safe_filename, sniff

BUCKET = "attachments"
FILES = f"{BUCKET}.files"
CHUNKS = f"{BUCKET}.chunks"
UPLOADS = "attachment_uploads"
CLAIMS = "attachment_claims"

# GridFS's default chunk size, just under 256 KiB. Measured on FerretDB: 255 KiB, 1 MiB and 4 MiB
# chunks wrote and read 25 MB at the same speed, within the machine's noise; the smaller one
# keeps less in memory per upload and download.
CHUNK_SIZE = 255 * 1024
# Chunks asked for per round trip while downloading (about 1 MB).
READ_BATCH = 4
MAX_FILE_BYTES = 25 * 1024 * 1024
PROJECT_QUOTA_BYTES = 1024 * 1024 * 1024
# HAR scrubs one process runs at once. A HAR's scrub holds one string whole with its scrubbed
# copies (a body of up to `scrub.MAX_STRING_BYTES`, about 100 MB at its peak); the others wait.
MAX_CONCURRENT_SCRUBS = 2

Side = Literal["customer", "support"]


class FileTooLarge(Exception):
    """The upload is larger than one file may be; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class QuotaExceeded(Exception):
    """The project's files would take more than its quota; nothing was kept."""

    def __init__(self, quota: int, used: int) -> None:
        super().__init__(f"{used} of {quota} bytes used")
        self.quota = quota
        self.used = used


class UploadCancelled(Exception):
    """The upload's record vanished while it ran (its project was erased); nothing was kept."""


class CorruptFile(Exception):
    """A file's chunks do not add up to its length (missing, extra, or of the wrong size)."""


@dataclass(frozen=True)
class StoredFile:
    id: str
    project_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    redactions: dict[str, int]
    uploaded_by: Side
    # The ticket a team upload is for (the team uploads to a ticket); None for a customer's.
    ticket_id: str | None
    chunk_size: int = CHUNK_SIZE


@dataclass(frozen=True)
class Claim:
    """Who holds a file: a message (`message_id`), or the purge deleting it (`message_id` None)."""

    file_id: str
    project_id: str
    ticket_id: str | None
    message_id: str | None
    internal: bool
    claimed_at: datetime
    # Made by the call that returned it, rather than found in place.
    fresh: bool = False

    @property
    def purging(self) -> bool:
        return self.message_id is None


@dataclass(frozen=True)
class Upload:
    """What an upload is called and by whom, before its content is seen."""

    file_id: str
    project_id: str
    filename: str
    declared_type: str | None
    uploaded_by: Side
    ticket_id: str | None = None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def stored_file(doc: Mapping[str, Any]) -> StoredFile:
    metadata = doc.get("metadata") or {}
    return StoredFile(
        id=str(doc["_id"]),
        project_id=str(doc["project_id"]),
        filename=str(doc["filename"]),
        content_type=str(metadata["content_type"]),
        size=int(doc["length"]),
        sha256=str(metadata["sha256"]),
        created_at=_aware(doc["uploadDate"]),
        redactions=dict(metadata.get("redactions") or {}),
        uploaded_by=metadata.get("uploaded_by", "customer"),
        ticket_id=metadata.get("ticket_id"),
        chunk_size=int(doc["chunkSize"]),
    )


def _claim(doc: Mapping[str, Any], *, fresh: bool = False) -> Claim:
    return Claim(
        file_id=str(doc["_id"]),
        project_id=str(doc["project_id"]),
        ticket_id=doc.get("ticket_id"),
        message_id=doc.get("message_id"),
        internal=bool(doc.get("internal", False)),
        claimed_at=_aware(doc["claimed_at"]),
        fresh=fresh,
    )


@dataclass
class _ChunkWriter:
    """Cuts the scrubbed stream into GridFS chunks and inserts each as soon as it is full, one
    insert in flight while the next chunk fills (so the store's round trip overlaps the input)."""

    chunks: AsyncCollection[Document]
    file_id: str
    chunk_size: int
    size: int = 0
    _n: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _digest: Any = field(default_factory=hashlib.sha256)
    _inflight: "asyncio.Task[object] | None" = None

    @property
    def sha256(self) -> str:
        return str(self._digest.hexdigest())

    async def write(self, data: bytes) -> None:
        if not data:
            return
        self._digest.update(data)
        self.size += len(data)
        self._buffer += data
        while len(self._buffer) >= self.chunk_size:
            piece = bytes(self._buffer[: self.chunk_size])
            del self._buffer[: self.chunk_size]
            await self._put(piece)

    async def finish(self) -> None:
        if self._buffer:
            piece = bytes(self._buffer)
            self._buffer.clear()
            await self._put(piece)
        await self._settle()

    async def discard(self) -> None:
        """Wait for the insert in flight (so that it cannot land after the cleanup)."""
        self._buffer.clear()
        with contextlib.suppress(Exception):
            await self._settle()

    async def _put(self, piece: bytes) -> None:
        await self._settle()
        doc = {"files_id": self.file_id, "n": self._n, "data": piece}
        self._n += 1
        self._inflight = asyncio.ensure_future(self.chunks.insert_one(doc))

    async def _settle(self) -> None:
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            await inflight


class FileStore:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        clock: Clock = utc_now,
        max_file_bytes: int = MAX_FILE_BYTES,
        project_quota_bytes: int = PROJECT_QUOTA_BYTES,
        chunk_size: int = CHUNK_SIZE,
        max_concurrent_scrubs: int = MAX_CONCURRENT_SCRUBS,
    ) -> None:
        self.database = db
        self.files = db[FILES]
        self.chunks = db[CHUNKS]
        self.uploads = db[UPLOADS]
        self.claims = db[CLAIMS]
        self._clock = clock
        self.max_file_bytes = max_file_bytes
        self.project_quota_bytes = project_quota_bytes
        self.chunk_size = chunk_size
        self._har_turns = asyncio.Semaphore(max_concurrent_scrubs)

    async def ensure_indexes(self) -> None:
        # GridFS's own two indexes (its tools expect them), then the project's queries'.
        await self.chunks.create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)
        await self.files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
        await self.files.create_index([("project_id", ASCENDING)])
        await self.claims.create_index([("project_id", ASCENDING), ("ticket_id", ASCENDING)])
        # `{confirmed: False}`, the few claims in flight among every attached file's (FerretDB
        # pushes a boolean equality down to it).
        await self.claims.create_index([("confirmed", ASCENDING)])
        await self.uploads.create_index([("project_id", ASCENDING)])

    # -- in ------------------------------------------------------------------------------------

    async def upload(self, upload: Upload, content: AsyncIterable[bytes]) -> StoredFile:
        """Store `content` as the file `upload.file_id`: sniffed from its first bytes, scrubbed
        as it streams, cut into chunks as it goes. Raises `UnsupportedFileType`, `InvalidHar`,
        `FileTooLarge`, `QuotaExceeded` or `UploadCancelled` (and whatever reading `content`
        raises); then nothing of the upload is left in the store.

        The quota holds however many uploads of a project run at once: each puts its size on its
        record before it reads the project's usage (which counts those records), so of any two
        finishing together, the later reader sees the other's bytes."""
        used = await self.usage(upload.project_id)
        if used >= self.project_quota_bytes:
            raise QuotaExceeded(self.project_quota_bytes, used)
        now = self._clock()
        await self.uploads.insert_one(
            {"_id": upload.file_id, "project_id": upload.project_id, "started_at": now}
        )
        writer = _ChunkWriter(self.chunks, upload.file_id, self.chunk_size)
        try:
            async with contextlib.AsyncExitStack() as har_turn:
                scrubber, content_type = await self._stream(upload, content, writer, har_turn)
            await writer.finish()
            finished = await self.uploads.update_one(
                {"_id": upload.file_id}, {"$set": {"bytes": Int64(writer.size)}}
            )
            if finished.matched_count == 0:
                raise UploadCancelled(upload.file_id)
            used = await self.usage(upload.project_id) - writer.size
            if used + writer.size > self.project_quota_bytes:
                raise QuotaExceeded(self.project_quota_bytes, used)
            redactions = scrubber.redactions.as_dict() if scrubber is not None else {}
            doc = self._file_document(upload, writer, content_type, redactions, now)
            await self.files.insert_one(doc)
            await self.uploads.delete_one({"_id": upload.file_id})
        except BaseException:
            await asyncio.shield(self._discard(upload.file_id, writer))
            raise
        return stored_file(doc)

    async def _stream(
        self,
        upload: Upload,
        content: AsyncIterable[bytes],
        writer: _ChunkWriter,
        har_turn: contextlib.AsyncExitStack,
    ) -> tuple[Scrubber | None, str]:
        received = 0
        head = bytearray()
        scrubber: Scrubber | None = None
        content_type: str | None = None
        async for piece in content:
            received += len(piece)
            if received > self.max_file_bytes:
                raise FileTooLarge(self.max_file_bytes)
            if content_type is None:
                head += piece
                if len(head) < SNIFF_BYTES:
                    continue
                scrubber, content_type = await self._sniffed(upload, bytes(head), har_turn)
                piece = bytes(head)
                head.clear()
            await writer.write(piece if scrubber is None else scrubber.feed(piece))
        if content_type is None:  # a file shorter than the sniffed head
            scrubber, content_type = await self._sniffed(upload, bytes(head), har_turn)
            await writer.write(bytes(head) if scrubber is None else scrubber.feed(bytes(head)))
        if scrubber is not None:
            await writer.write(scrubber.close())
        return scrubber, content_type

    async def _sniffed(
        self, upload: Upload, head: bytes, har_turn: contextlib.AsyncExitStack
    ) -> tuple[Scrubber | None, str]:
        """The upload's scrubber and type; a HAR first waits for its turn (`har_turn` holds it
        until the upload has streamed in)."""
        sniffed = sniff(head, upload.filename, upload.declared_type)
        if sniffed.kind is FileKind.HAR:
            await har_turn.enter_async_context(self._har_turns)
        return new_scrubber(sniffed), sniffed.content_type

    def _file_document(
        self,
        upload: Upload,
        writer: _ChunkWriter,
        content_type: str,
        redactions: dict[str, int],
        now: datetime,
    ) -> Document:
        metadata: Document = {
            "content_type": content_type,
            "sha256": writer.sha256,
            "redactions": redactions,
            "uploaded_by": upload.uploaded_by,
        }
        if upload.ticket_id is not None:
            metadata["ticket_id"] = upload.ticket_id
        return {
            "_id": upload.file_id,
            "length": Int64(writer.size),
            "chunkSize": self.chunk_size,
            "uploadDate": now,
            "filename": safe_filename(upload.filename),
            "project_id": upload.project_id,
            "metadata": metadata,
        }

    async def _discard(self, file_id: str, writer: _ChunkWriter) -> None:
        await writer.discard()
        await self._delete_content(file_id)
        await self.uploads.delete_one({"_id": file_id})

    async def usage(self, project_id: str) -> int:
        """The bytes the project's files take, with the uploads all in but not yet files (an
        upload about to become a file may be counted twice for a moment, never not at all).
        Uploads still streaming are not counted: each checks the quota when it is all in."""
        used = 0
        for collection, size in ((self.files, "$length"), (self.uploads, "$bytes")):
            found = await (
                await collection.aggregate(
                    [
                        {"$match": {"project_id": project_id}},
                        {"$group": {"_id": None, "bytes": {"$sum": size}}},
                    ]
                )
            ).to_list(None)
            used += int(found[0]["bytes"]) if found else 0
        return used

    # -- out -----------------------------------------------------------------------------------

    async def get(self, file_id: str) -> StoredFile | None:
        doc = await self.files.find_one({"_id": file_id})
        return None if doc is None else stored_file(doc)

    async def read(self, file: StoredFile) -> AsyncIterator[bytes]:
        """The file's bytes, a chunk at a time, checked against its length as GridFS readers do.
        Raises `CorruptFile` when a chunk is missing, extra, or of the wrong size."""
        count = math.ceil(file.size / file.chunk_size)
        n = 0
        while n < count:
            cursor = (
                self.chunks.find(
                    {"files_id": file.id, "n": {"$gte": n}}, {"_id": 0, "n": 1, "data": 1}
                )
                .sort("n", ASCENDING)
                .batch_size(READ_BATCH)
            )
            try:
                async for chunk in cursor:
                    if chunk["n"] != n or n >= count:
                        raise CorruptFile(f"{file.id}: expected chunk {n}, found {chunk['n']}")
                    data = bytes(chunk["data"])
                    expected = min(file.chunk_size, file.size - n * file.chunk_size)
                    if len(data) != expected:
                        raise CorruptFile(f"{file.id}: chunk {n} has {len(data)} bytes")
                    n += 1
                    yield data
                    if n == count:
                        break
            except CursorNotFound:  # a download slower than the server's cursor timeout
                continue
            finally:
                await cursor.close()
            if n < count:
                raise CorruptFile(f"{file.id}: chunk {n} is missing")

    # -- claims --------------------------------------------------------------------------------

    async def claim(
        self,
        file: StoredFile,
        *,
        ticket_id: str,
        message_id: str,
        internal: bool,
    ) -> Claim:
        """Claim `file` for a message: the claim made, or the one that holds it already."""
        return await self._claim(file.id, file.project_id, ticket_id, message_id, internal)

    async def _claim(
        self,
        file_id: str,
        project_id: str,
        ticket_id: str | None,
        message_id: str | None,
        internal: bool,
    ) -> Claim:
        doc: Document = {
            "_id": file_id,
            "project_id": project_id,
            "ticket_id": ticket_id,
            "message_id": message_id,
            "internal": internal,
            "claimed_at": self._clock(),
        }
        if message_id is not None:
            doc["confirmed"] = False  # until its ticket write is known to have committed
        for _ in range(3):
            try:
                await self.claims.insert_one(doc)
            except DuplicateKeyError:
                holder = await self.claims.find_one({"_id": file_id})
                if holder is not None:
                    return _claim(holder)
                continue  # released in between: try again
            if message_id is not None:
                # A hint for the purge (the claim decides): this file is attached.
                hinted = await self.files.update_one(
                    {"_id": file_id}, {"$set": {"metadata.message_id": message_id}}
                )
                if hinted.matched_count == 0:
                    # The file went (purged, or its project erased) after the caller read it: no
                    # message may get it. Answered as the purge's claim: no such file.
                    await self.claims.delete_one({"_id": file_id, "message_id": message_id})
                    return replace(_claim(doc), message_id=None)
            return _claim(doc, fresh=True)
        holder = await self.claims.find_one({"_id": file_id})
        if holder is None:
            raise RuntimeError(f"could not claim {file_id}")
        return _claim(holder)

    async def take_over(
        self, holder: Claim, *, ticket_id: str, message_id: str, internal: bool
    ) -> Claim:
        """Replace a stale claim (its message never got written) with one for `message_id`;
        the claim that holds the file afterwards, which is someone else's if they won."""
        await self.claims.delete_one(
            {
                "_id": holder.file_id,
                "message_id": holder.message_id,
                "claimed_at": holder.claimed_at,
            }
        )
        return await self._claim(holder.file_id, holder.project_id, ticket_id, message_id, internal)

    async def release(self, file_id: str, message_id: str) -> None:
        """Give the file back (the message that claimed it was not written)."""
        deleted = await self.claims.delete_one({"_id": file_id, "message_id": message_id})
        if deleted.deleted_count:
            # Only this message's hint: a message that took the file over meanwhile keeps its own.
            await self.files.update_one(
                {"_id": file_id, "metadata.message_id": message_id},
                {"$unset": {"metadata.message_id": ""}},
            )

    async def confirm(self, file_id: str, message_id: str) -> None:
        """The claim's message is in its ticket: the claim is no longer to be settled."""
        await self.claims.update_one(
            {"_id": file_id, "message_id": message_id, "confirmed": False},
            {"$set": {"confirmed": True}},
        )

    async def unconfirmed_claims(self, claimed_before: datetime) -> list[Claim]:
        """Messages' claims made before `claimed_before` and never confirmed (purge claims
        have no `confirmed`)."""
        found = self.claims.find({"confirmed": False, "claimed_at": {"$lt": claimed_before}})
        return [_claim(doc) async for doc in found]

    async def claim_of(self, file_id: str) -> Claim | None:
        doc = await self.claims.find_one({"_id": file_id})
        return None if doc is None else _claim(doc)

    # -- deletion ------------------------------------------------------------------------------

    async def delete(self, file_id: str) -> tuple[int, int]:
        """Delete a file, its chunks and its claim: (files, chunks) deleted."""
        chunks = await self._delete_content(file_id)
        files = (await self.files.delete_one({"_id": file_id})).deleted_count
        await self.claims.delete_one({"_id": file_id})
        await self.uploads.delete_one({"_id": file_id})
        return files, chunks

    async def _delete_content(self, file_id: str) -> int:
        return await delete_all(self.chunks, {"files_id": file_id})

    async def purge_unattached(self, older_than: timedelta) -> int:
        """Delete the files no message took within `older_than` of their upload; how many. Each
        is claimed first, so a file being attached right now is either attached or deleted."""
        cutoff = self._clock() - older_than
        candidates = self.files.find(
            {"uploadDate": {"$lt": cutoff}, "metadata.message_id": {"$exists": False}},
            {"_id": 1, "project_id": 1},
        )
        purged = 0
        async for doc in candidates:
            file_id, project_id = str(doc["_id"]), str(doc["project_id"])
            claim = await self._claim(file_id, project_id, None, None, False)
            if not claim.purging or claim.claimed_at < cutoff:
                continue  # attached (or another purge's, left by a crash: deleted below)
            await self.delete(file_id)
            purged += 1
        # Purge claims left by a purge that crashed mid-way.
        async for doc in self.claims.find({"message_id": None, "claimed_at": {"$lt": cutoff}}):
            await self.delete(str(doc["_id"]))
        return purged

    async def purge_stale_uploads(self, older_than: timedelta) -> int:
        """Delete the chunks of uploads that started more than `older_than` ago and never
        finished (their process died); how many."""
        cutoff = self._clock() - older_than
        purged = 0
        async for doc in self.uploads.find({"started_at": {"$lt": cutoff}}, {"_id": 1}):
            file_id = str(doc["_id"])
            if await self.files.find_one({"_id": file_id}, {"_id": 1}) is None:
                await self._delete_content(file_id)
                purged += 1
            await self.uploads.delete_one({"_id": file_id})
        return purged
