"""Group commit: concurrent writes to one collection reach the store as one command.

Each caller awaits its own document's outcome, as with `insert_one` or `update_one`. While one
batch is being written, new writes queue; the next batch takes them all. With one writer waiting
there is no delay at all; under load one round trip carries many writes. On FerretDB's SQLite
that matters twice: an `insert_many` is one transaction, and a batch never has its writes
competing for SQLite's single write lock, whose busy handler sleeps for milliseconds at a time.
`ordered=False` keeps one write's failure, such as a duplicate key, its caller's alone.

`ExistenceReads` does the same for a frequent read: concurrent existence checks of a document.
"""

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from zumik_store.mongo import Document

# The server error code of a unique-index violation, as in a bulk write's per-document errors.
DUPLICATE_KEY = 11000
# Statements per bulk update. FerretDB 1.24 keeps one SQLite connection per statement until the
# command ends and hangs for good once a command needs more than its pool of 100.
MAX_UPDATES_PER_COMMAND = 16

Write = TypeVar("Write")


@dataclass
class _Batch(Generic[Write]):
    writes: list[Write] = field(default_factory=list)
    outcomes: list[asyncio.Future[None]] = field(default_factory=list)


class _GroupCommit(ABC, Generic[Write]):
    def __init__(self, *, max_batch: int) -> None:
        self._max_batch = max_batch
        self._queued: _Batch[Write] = _Batch()
        self._writer: asyncio.Task[None] | None = None
        self.batches_written = 0

    @abstractmethod
    async def _store(self, writes: list[Write]) -> None:
        """One command for the batch; a BulkWriteError names the writes that failed."""

    async def _submit(self, write: Write) -> None:
        outcome = asyncio.get_running_loop().create_future()
        self._queued.writes.append(write)
        self._queued.outcomes.append(outcome)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued())
        await outcome

    async def _write_queued(self) -> None:
        batch: _Batch[Write] = _Batch()
        try:
            while self._queued.writes:
                batch, self._queued = self._take()
                await self._write(batch)
        except asyncio.CancelledError:  # shutting down: no caller waits forever
            for outcome in batch.outcomes + self._queued.outcomes:
                outcome.cancel()
            raise
        finally:
            self._writer = None

    def _take(self) -> tuple[_Batch[Write], _Batch[Write]]:
        queued, size = self._queued, self._max_batch
        batch = _Batch(queued.writes[:size], queued.outcomes[:size])
        return batch, _Batch(queued.writes[size:], queued.outcomes[size:])

    async def _write(self, batch: _Batch[Write]) -> None:
        failed: dict[int, Exception] = {}
        try:
            await self._store(batch.writes)
        except BulkWriteError as error:
            failed = {e["index"]: _write_error(e) for e in error.details["writeErrors"]}
        except Exception as error:
            # Not attributable to one write (a lost connection; or FerretDB, which stops an
            # unordered bulk update at its first error and answers it in a shape PyMongo cannot
            # read): each write again on its own, so that each caller learns its own outcome.
            failed = await self._one_by_one(batch.writes) if len(batch.writes) > 1 else {0: error}
        self.batches_written += 1
        for index, outcome in enumerate(batch.outcomes):
            if outcome.done():  # its caller was cancelled
                continue
            if index in failed:
                outcome.set_exception(failed[index])
            else:
                outcome.set_result(None)

    async def _one_by_one(self, writes: list[Write]) -> dict[int, Exception]:
        failed: dict[int, Exception] = {}
        for index, write in enumerate(writes):
            try:
                await self._store([write])
            except BulkWriteError as error:
                failed[index] = _write_error(error.details["writeErrors"][0])
            except Exception as error:
                failed[index] = error
        return failed


class InsertBatcher(_GroupCommit[Document]):
    """Concurrent inserts as one `insert_many`."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        max_batch: int = 256,
    ) -> None:
        super().__init__(max_batch=max_batch)
        self._collection = collection

    async def insert(self, document: Document) -> None:
        """Insert `document`; raises as `insert_one` would (DuplicateKeyError included)."""
        await self._submit(document)

    async def _store(self, writes: list[Document]) -> None:
        await self._collection.insert_many(writes, ordered=False)


class UpdateBatcher(_GroupCommit[UpdateOne]):
    """Concurrent single-document updates as one bulk write. The store applies them one after
    another, so they never compete with one another for the write lock."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        max_batch: int = MAX_UPDATES_PER_COMMAND,
    ) -> None:
        super().__init__(max_batch=min(max_batch, MAX_UPDATES_PER_COMMAND))
        self._collection = collection

    async def update_one(self, filter: Document, update: Document) -> None:
        """As `update_one` (FerretDB's updates are not atomic: callers serialise their own)."""
        await self._submit(UpdateOne(filter, update))

    async def _store(self, writes: list[UpdateOne]) -> None:
        await self._collection.bulk_write(writes, ordered=False)


class ExistenceReads:
    """Concurrent "does `_id` still exist?" questions about one document answered by one read.

    A read starts only after every question it answers was asked (a question asked while a read
    of its document is on its way waits for the next), so its answer can stand for a read the
    caller made itself: e.g. that the document was not deleted before the caller's own write
    landed. Different documents are read side by side, each by `_id` (an index lookup on any
    store; a `$in` would be a scan on FerretDB)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._queued: dict[str, list[asyncio.Future[bool]]] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self.reads = 0

    async def exists(self, document_id: str) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(document_id, []).append(answer)
        if document_id not in self._readers:
            self._readers[document_id] = asyncio.create_task(self._read_queued(document_id))
        return await answer

    async def _read_queued(self, document_id: str) -> None:
        answers: list[asyncio.Future[bool]] = []
        try:
            while answers := self._queued.pop(document_id, []):
                self.reads += 1
                try:
                    found = await self._collection.find_one({"_id": document_id}, {"_id": 1})
                except Exception as error:
                    _settle(answers, error=error)
                else:
                    _settle(answers, found is not None)
        finally:
            del self._readers[document_id]
            for answer in answers + self._queued.pop(document_id, []):  # cancelled mid-read
                if not answer.done():
                    answer.cancel()


def _settle(
    answers: list[asyncio.Future[bool]], result: bool = False, *, error: Exception | None = None
) -> None:
    for answer in answers:
        if answer.done():  # its caller was cancelled
            continue
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result)


def _write_error(details: Document) -> Exception:
    error_type = DuplicateKeyError if details.get("code") == DUPLICATE_KEY else WriteError
    return error_type(details.get("errmsg", "write failed"), details.get("code"), details)
