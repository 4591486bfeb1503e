"""Erasure: a whole project (an account deletion), or one data subject's tickets in a project.

What holds a project's personal data, and how each is found:
- `tickets` (threads, internal notes, history, the unpublished events of the outbox): by
  `project_id`, or for a subject by `project_id` + `contact_email`;
- `idempotency_keys` (stored responses are whole tickets): by `project_id`, or by `ticket_id`;
- `notification_deliveries` (ids only, but tied to the tickets): by `project_id` / `ticket_id`;
- `privacy_exports` + `privacy_export_chunks` (copies of tickets): every export of the project,
  for a subject too, since any of them may contain the subject;
- `ticket_locks` (leases, keyed by ticket id): by the erased tickets' ids;
- `api_keys` and `projects`: for a project erasure.

Safe next to live API traffic. A project erasure deletes the API keys first, so no new request
gets in, then the project document, so a request already past authentication cannot open a
ticket. A subject's tickets are deleted under their ticket leases, like any API write. Then the
sweep repeats, after a pause that lets in-flight requests land their write, until one sweep
deletes nothing: once an erasure completes, nothing that existed before it remains.

Counts are kept in the receipt as the sweeps go, so a worker taking over an interrupted erasure
continues them. Messages and outbox events are counted from the tickets as read just before
their deletion.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.results import DeleteResult
from zumik_api.adapters.locks import TicketLocks
from zumik_api.adapters.mongo import Document
from zumik_api.clock import Clock
from zumik_contracts.privacy import ErasureCounts, ErasureReceipt, PrivacyCommand, PrivacyScope

from zumik_privacy import store
from zumik_privacy.claims import Claim, ClaimStore, Completed, Conflict
from zumik_privacy.commands import reused_request_id, scope_of, subject_filter, unknown_project

log = logging.getLogger("zumik_privacy.erasure")
_T = TypeVar("_T")

# Enough of a ticket to count what goes with it, without reading the message bodies.
_COUNT_PROJECTION = {"messages.id": 1, "outbox.id": 1}
# Ticket leases are taken for this many tickets at a time, deleted with one `$in`.
LEASE_BATCH = 100
# Ids per `$in` (FerretDB scans the collection per query; fewer, larger queries are faster).
ID_BATCH = 1000


class ErasureDidNotSettle(Exception):
    """New data kept arriving sweep after sweep; the command is retried later."""


@dataclass(frozen=True)
class ErasureOutcome:
    receipt: ErasureReceipt
    replayed: bool


def receipt_from(record: Document) -> ErasureReceipt:
    return ErasureReceipt(
        request_id=record["request_id"],
        project_id=record["project_id"],
        scope=PrivacyScope(kind=record["scope"], subject_hash=record.get("subject_hash")),
        counts=ErasureCounts.model_validate(record["counts"]),
        started_at=record["started_at"],
        completed_at=record["completed_at"],
    )


class Eraser:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        claims: ClaimStore,
        locks: TicketLocks,
        *,
        subject_salt: bytes,
        max_passes: int,
        settle: timedelta,
        clock: Clock,
    ) -> None:
        self._db = db
        self._claims = claims
        self._locks = locks
        self._salt = subject_salt
        self._max_passes = max_passes
        self._settle_seconds = settle.total_seconds()
        self._clock = clock

    async def run(self, command: PrivacyCommand) -> ErasureOutcome:
        scope = scope_of(command, self._salt)
        identity = {
            "type": "erase",
            "project_id": command.project_id,
            "scope": scope.kind,
            "subject_hash": scope.subject_hash,
        }
        if await self._claims.find(command.id) is None:
            await self._check_new(command)
        outcome = await self._claims.claim(
            command.id,
            identity,
            {
                "request_id": command.id,
                "started_at": self._clock(),
                "counts": ErasureCounts().model_dump(),
            },
        )
        if isinstance(outcome, Conflict):
            raise reused_request_id(command)
        if isinstance(outcome, Completed):
            return ErasureOutcome(receipt_from(outcome.record), replayed=True)
        async with self._claims.held(outcome) as claim:
            counts = ErasureCounts.model_validate(claim.record["counts"])
            if command.contact_email is None:
                await self._sweep_until_clean(
                    claim, counts, lambda: self._project_pass(command.project_id, counts)
                )
            else:
                erased: set[str] = set()
                await self._sweep_until_clean(
                    claim,
                    counts,
                    lambda: self._subject_pass(
                        command.project_id, command.contact_email or "", counts, erased
                    ),
                )
            record = await self._claims.complete(
                claim, {"counts": counts.model_dump(), "completed_at": self._clock()}
            )
        return ErasureOutcome(receipt_from(record), replayed=False)

    async def _check_new(self, command: PrivacyCommand) -> None:
        """Before anything is deleted: the project is known and the id is not an export's."""
        if await self._db[store.EXPORTS].find_one({"_id": command.id}, {"_id": 1}) is not None:
            raise reused_request_id(command)
        if await self._db[store.PROJECTS].find_one({"_id": command.project_id}) is not None:
            return
        # An erasure interrupted after deleting the project document must be able to finish,
        # even under a new request id; and erasing an erased project just confirms it.
        earlier = await self._db[store.RECEIPTS].find_one(
            {"project_id": command.project_id}, {"_id": 1}
        )
        if earlier is None:
            raise unknown_project(command)

    async def _sweep_until_clean(
        self, claim: Claim, counts: ErasureCounts, sweep: Callable[[], Awaitable[int]]
    ) -> None:
        for _ in range(self._max_passes):
            claim.check()
            deleted = await sweep()
            await self._claims.update(claim, {"counts": counts.model_dump()})
            if deleted == 0:
                return
            # Something was there: let requests that were already running land, then look again.
            await asyncio.sleep(self._settle_seconds)
        raise ErasureDidNotSettle(claim.request_id)

    async def _project_pass(self, project_id: str, counts: ErasureCounts) -> int:
        db = self._db
        by_project = {"project_id": project_id}
        # Keys, then the project: the API stops accepting the project's requests first.
        deleted = _add(counts, "api_keys", await db[store.API_KEYS].delete_many(by_project))
        deleted += _add(
            counts, "projects", await db[store.PROJECTS].delete_many({"_id": project_id})
        )
        async for batch in self._ticket_batches(by_project, ID_BATCH):
            _count_contents(counts, batch)
            locks = await db[store.TICKET_LOCKS].delete_many({"_id": {"$in": _ids(batch)}})
            deleted += _add(counts, "ticket_locks", locks)
        deleted += _add(counts, "tickets", await db[store.TICKETS].delete_many(by_project))
        for kind, collection in (
            ("idempotency_keys", store.IDEMPOTENCY_KEYS),
            ("notification_deliveries", store.NOTIFICATION_DELIVERIES),
        ):
            deleted += _add(counts, kind, await db[collection].delete_many(by_project))
        return deleted + await self._delete_exports(project_id, counts)

    async def _subject_pass(
        self, project_id: str, email: str, counts: ErasureCounts, erased: set[str]
    ) -> int:
        db = self._db
        deleted = 0
        # The subject's tickets are few; read them all first rather than delete under a cursor.
        found = [
            doc
            async for doc in db[store.TICKETS].find(
                subject_filter(project_id, email), _COUNT_PROJECTION
            )
        ]
        for batch in _batched(found, LEASE_BATCH):
            ids = _ids(batch)
            async with self._leases(ids):
                result = await db[store.TICKETS].delete_many(
                    {"_id": {"$in": ids}, "project_id": project_id}
                )
            deleted += _add(counts, "tickets", result)
            _count_contents(counts, batch)
            erased.update(ids)
        # Traces of every ticket erased so far, not only this pass's: an idempotent request that
        # was running may have stored its response after its ticket was deleted.
        for batch_ids in _batched(sorted(erased), ID_BATCH):
            ids = list(batch_ids)
            idempotency = await db[store.IDEMPOTENCY_KEYS].delete_many(
                {"project_id": project_id, "ticket_id": {"$in": ids}}
            )
            deleted += _add(counts, "idempotency_keys", idempotency)
            deliveries = await db[store.NOTIFICATION_DELIVERIES].delete_many(
                {"project_id": project_id, "ticket_id": {"$in": ids}}
            )
            deleted += _add(counts, "notification_deliveries", deliveries)
        return deleted + await self._delete_exports(project_id, counts)

    async def _delete_exports(self, project_id: str, counts: ErasureCounts) -> int:
        """Every stored export of the project: any of them may contain what is being erased.
        An export still being written notices its manifest is gone and stops."""
        by_project = {"project_id": project_id}
        deleted = _add(counts, "exports", await self._db[store.EXPORTS].delete_many(by_project))
        chunks = await self._db[store.EXPORT_CHUNKS].delete_many(by_project)
        return deleted + _add(counts, "export_chunks", chunks)

    async def _ticket_batches(
        self, query: dict[str, Any], size: int
    ) -> AsyncIterator[list[Document]]:
        batch: list[Document] = []
        async for doc in self._db[store.TICKETS].find(query, _COUNT_PROJECTION).batch_size(size):
            batch.append(doc)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    @contextlib.asynccontextmanager
    async def _leases(self, ticket_ids: Sequence[str]) -> AsyncIterator[None]:
        """Hold the leases of all these tickets: no API write is half-way through any of them."""
        async with contextlib.AsyncExitStack() as stack:
            for ticket_id in ticket_ids:
                await stack.enter_async_context(self._locks.hold(ticket_id))
            yield


def _add(counts: ErasureCounts, kind: str, result: DeleteResult) -> int:
    setattr(counts, kind, getattr(counts, kind) + result.deleted_count)
    return result.deleted_count


def _count_contents(counts: ErasureCounts, tickets: Sequence[Document]) -> None:
    for ticket in tickets:
        counts.messages += len(ticket.get("messages") or [])
        counts.outbox_events += len(ticket.get("outbox") or [])


def _ids(docs: Sequence[Document]) -> list[str]:
    return [str(doc["_id"]) for doc in docs]


def _batched(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
