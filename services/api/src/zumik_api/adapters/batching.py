"""Group commit: concurrent inserts into one collection reach the store as one `insert_many`.

Each caller awaits its own document's outcome, as with `insert_one`. While one batch is being
written, new documents queue; the next batch takes them all. With one writer waiting there is
no delay at all, and under load one store round trip (and, on SQLite, one transaction and one
sync) carries many documents. `ordered=False` keeps one document's failure, such as a duplicate
key, its caller's alone.
"""

import asyncio
from dataclasses import dataclass, field

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from zumik_api.adapters.mongo import DUPLICATE_KEY, Document


@dataclass
class _Batch:
    documents: list[Document] = field(default_factory=list)
    outcomes: list[asyncio.Future[None]] = field(default_factory=list)


class InsertBatcher:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        max_batch: int = 256,
        linger_seconds: float = 0.0,
    ) -> None:
        """`linger_seconds`: how long a batch waits for company before it is written. Zero
        for writes a request waits on; a few milliseconds for background writes."""
        self._collection = collection
        self._max_batch = max_batch
        self._linger = linger_seconds
        self._queued = _Batch()
        self._writer: asyncio.Task[None] | None = None
        self.batches_written = 0

    async def insert(self, document: Document) -> None:
        """Insert `document`; raises as `insert_one` would (DuplicateKeyError included)."""
        outcome = asyncio.get_running_loop().create_future()
        self._queued.documents.append(document)
        self._queued.outcomes.append(outcome)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued())
        await outcome

    async def _write_queued(self) -> None:
        batch = _Batch()
        try:
            while self._queued.documents:
                if self._linger:
                    await asyncio.sleep(self._linger)
                batch, self._queued = self._take()
                await self._write(batch)
        except asyncio.CancelledError:  # shutting down: no caller waits forever
            for outcome in batch.outcomes + self._queued.outcomes:
                outcome.cancel()
            raise
        finally:
            self._writer = None

    def _take(self) -> tuple[_Batch, _Batch]:
        queued, size = self._queued, self._max_batch
        batch = _Batch(queued.documents[:size], queued.outcomes[:size])
        return batch, _Batch(queued.documents[size:], queued.outcomes[size:])

    async def _write(self, batch: _Batch) -> None:
        failed: dict[int, Exception] = {}
        try:
            await self._collection.insert_many(batch.documents, ordered=False)
        except BulkWriteError as error:
            failed = {e["index"]: _write_error(e) for e in error.details["writeErrors"]}
        except Exception as error:  # nothing is known to be written: every caller sees it
            failed = dict.fromkeys(range(len(batch.documents)), error)
        self.batches_written += 1
        for index, outcome in enumerate(batch.outcomes):
            if outcome.done():  # its caller was cancelled
                continue
            if index in failed:
                outcome.set_exception(failed[index])
            else:
                outcome.set_result(None)


def _write_error(details: Document) -> Exception:
    error_type = DuplicateKeyError if details.get("code") == DUPLICATE_KEY else WriteError
    return error_type(details.get("errmsg", "write failed"), details.get("code"), details)
