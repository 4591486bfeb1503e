"""Erasure: a whole project (an account deletion), or one data subject's tickets in a project.

What holds a project's personal data, and how each is found:
- `tickets` (threads, internal notes, history, the unpublished events of the outbox): by
  `project_id`, or for a subject by `project_id` + `contact_email`;
- `idempotency_keys` (stored responses are whole tickets): by `project_id`, or by `ticket_id`;
- `notification_deliveries` (ids only, but tied to the tickets): by `project_id` / `ticket_id`;
- `privacy_exports` + `privacy_export_chunks` (copies of tickets): every export of the project,
  for a subject too, since any of them may contain the subject;
- `sla_timers` (the SLA scheduler's work list: ids and a time): by `project_id` / ticket id;
- `outbox_acks` (the relay's acknowledgements: ids and a time): by `project_id` / ticket id;
- `ticket_locks` (leases, keyed by ticket id): those on the project's tickets (a subject's are
  taken and given back by the erasure itself);
- `api_keys` and `projects`: for a project erasure.

Safe next to live API traffic. A project erasure deletes the API keys first, so no new request
gets in, then the project document, so a request already past authentication cannot open a
ticket. A subject's tickets are deleted under their ticket leases, like any API write. Then the
sweep repeats, after a pause that lets in-flight requests land their write, until one sweep
deletes nothing: once an erasure completes, nothing that existed before it remains.

Counts are kept in the receipt as the sweeps go, so a worker taking over an interrupted erasure
continues them. A subject's erasure counts the messages and outbox events of the tickets it read
(to take their leases) just before deleting them; a project erasure deletes its tickets with one
query without reading them, and reports those two counts as null.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.locks import TicketLocks
from zumik_api.adapters.mongo import Document
from zumik_api.clock import Clock
from zumik_contracts.privacy import ErasureCounts, ErasureReceipt, PrivacyCommand, PrivacyScope
from zumik_store.deletion import delete_all

from zumik_privacy import store
from zumik_privacy.claims import Claim, ClaimStore, Completed, Conflict
from zumik_privacy.commands import (
    command_identity,
    reused_request_id,
    scope_of,
    subject_filter,
    unknown_project,
)

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
        identity = command_identity(command, scope)
        if await self._claims.find(command.id) is None:
            await self._check_new(command)
        outcome = await self._claims.claim(
            command.id,
            identity,
            {
                "request_id": command.id,
                "started_at": self._clock(),
                "counts": _initial_counts(command).model_dump(),
            },
        )
        if isinstance(outcome, Conflict):
            raise reused_request_id(command)
        if isinstance(outcome, Completed):
            return ErasureOutcome(receipt_from(outcome.record), replayed=True)
        async with self._claims.held(outcome) as claim:
            counts = ErasureCounts.model_validate(claim.record["counts"])
            project_id, email = command.project_id, command.contact_email
            if email is None:
                await self._sweep_until_clean(
                    claim, counts, lambda: self._project_pass(project_id, counts)
                )
            else:
                erased: set[str] = set()
                await self._sweep_until_clean(
                    claim, counts, lambda: self._subject_pass(project_id, email, counts, erased)
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
        for number in range(1, self._max_passes + 1):
            claim.check()
            deleted = await sweep()
            await self._claims.update(claim, {"counts": counts.model_dump()})
            log.debug("erasure %s: sweep %d deleted %d records", claim.request_id, number, deleted)
            if deleted == 0:
                return
            # Something was there: let requests that were already running land, then look again.
            await asyncio.sleep(self._settle_seconds)
        raise ErasureDidNotSettle(claim.request_id)

    async def _project_pass(self, project_id: str, counts: ErasureCounts) -> int:
        by_project = {"project_id": project_id}
        # Keys, then the project: the API stops accepting the project's requests first.
        deleted = await self._delete(store.API_KEYS, by_project, "api_keys", counts)
        deleted += await self._delete(store.PROJECTS, {"_id": project_id}, "projects", counts)
        # The rest is independent, so it runs concurrently: every query is a collection scan on
        # FerretDB, and the scans of different collections overlap.
        parts = await asyncio.gather(
            self._delete_project_tickets(project_id, counts),
            self._delete(store.IDEMPOTENCY_KEYS, by_project, "idempotency_keys", counts),
            self._delete(
                store.NOTIFICATION_DELIVERIES, by_project, "notification_deliveries", counts
            ),
            self._delete(store.SLA_TIMERS, by_project, "sla_timers", counts),
            self._delete(store.OUTBOX_ACKS, by_project, "outbox_acks", counts),
            self._delete_exports(project_id, counts),
        )
        return deleted + sum(parts)

    async def _delete_project_tickets(self, project_id: str, counts: ErasureCounts) -> int:
        """The project's tickets, with one query: on FerretDB every query scans the collection,
        and reading them first (to count their messages) would double the time."""
        deleted = await self._delete_leases_of(project_id, counts)
        tickets = {"project_id": project_id}
        return deleted + await self._delete(store.TICKETS, tickets, "tickets", counts)

    async def _delete_leases_of(self, project_id: str, counts: ErasureCounts) -> int:
        """Leases left on the project's tickets. There are few leases (only writes in flight,
        or left by a crashed API replica) and a ticket is found by `_id` without a scan, so
        this goes from the leases to their tickets."""
        locks = self._db[store.TICKET_LOCKS]
        doomed = []
        async for lock in locks.find({}, {"_id": 1}):
            ticket = await self._db[store.TICKETS].find_one({"_id": lock["_id"]}, {"project_id": 1})
            if ticket is not None and ticket["project_id"] == project_id:
                doomed.append(lock["_id"])
        if not doomed:
            return 0
        return await self._delete(
            store.TICKET_LOCKS, {"_id": {"$in": doomed}}, "ticket_locks", counts
        )

    async def _delete(
        self, collection: str, query: dict[str, Any], kind: str, counts: ErasureCounts
    ) -> int:
        return _add(counts, kind, await delete_all(self._db[collection], query))

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
            deleted += _add(counts, "tickets", result.deleted_count)
            _count_contents(counts, batch)
            erased.update(ids)
        # Traces of every ticket erased so far, not only this pass's: an idempotent request that
        # was running may have stored its response after its ticket was deleted.
        for batch_ids in _batched(sorted(erased), ID_BATCH):
            of_tickets = {"project_id": project_id, "ticket_id": {"$in": list(batch_ids)}}
            parts = await asyncio.gather(
                self._delete(store.IDEMPOTENCY_KEYS, of_tickets, "idempotency_keys", counts),
                self._delete(
                    store.NOTIFICATION_DELIVERIES, of_tickets, "notification_deliveries", counts
                ),
                self._delete(
                    store.SLA_TIMERS,
                    {"project_id": project_id, "_id": {"$in": list(batch_ids)}},
                    "sla_timers",
                    counts,
                ),
                self._delete(store.OUTBOX_ACKS, of_tickets, "outbox_acks", counts),
            )
            deleted += sum(parts)
        return deleted + await self._delete_exports(project_id, counts)

    async def _delete_exports(self, project_id: str, counts: ErasureCounts) -> int:
        """Every stored export of the project: any of them may contain what is being erased.
        An export still being written notices its manifest is gone and stops."""
        by_project = {"project_id": project_id}
        parts = await asyncio.gather(
            self._delete(store.EXPORTS, by_project, "exports", counts),
            self._delete(store.EXPORT_CHUNKS, by_project, "export_chunks", counts),
        )
        return sum(parts)

    @contextlib.asynccontextmanager
    async def _leases(self, ticket_ids: Sequence[str]) -> AsyncIterator[None]:
        """Hold the leases of all these tickets: no API write is half-way through any of them."""
        async with contextlib.AsyncExitStack() as stack:
            for ticket_id in ticket_ids:
                await stack.enter_async_context(self._locks.hold(ticket_id))
            yield


def _initial_counts(command: PrivacyCommand) -> ErasureCounts:
    if command.contact_email is None:  # a project erasure does not read its tickets
        return ErasureCounts(messages=None, outbox_events=None)
    return ErasureCounts()


def _add(counts: ErasureCounts, kind: str, deleted: int) -> int:
    setattr(counts, kind, getattr(counts, kind) + deleted)
    return deleted


def _count_contents(counts: ErasureCounts, tickets: Sequence[Document]) -> None:
    counts.messages = (counts.messages or 0) + sum(len(t.get("messages") or []) for t in tickets)
    counts.outbox_events = (counts.outbox_events or 0) + sum(
        len(t.get("outbox") or []) for t in tickets
    )


def _ids(docs: Sequence[Document]) -> list[str]:
    return [str(doc["_id"]) for doc in docs]


def _batched(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
