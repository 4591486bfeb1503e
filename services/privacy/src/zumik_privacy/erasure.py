"""Erasure: a whole project (an account deletion), or one data subject's tickets in a project.

The owners of the data (see `owners`) each erase what they keep; this module decides the order
and repeats until nothing is left:

- A project: its API keys first, so no new request gets in, then the project document, so a
  request already past authentication cannot open a ticket; then, concurrently, its tickets (and
  what is kept beside them), stored responses, delivery records, exports and files.
- A subject: their tickets, each under its ticket lease like any API write; then the traces of
  every ticket erased so far (stored responses, delivery records, SLA timers, outbox acks, the
  files attached to their messages or uploaded by the team for them); and
  every export of the project, since any of them may contain the subject.

Safe next to live API traffic: the sweep repeats, after a pause that lets in-flight requests land
their write, until one sweep deletes nothing. Once an erasure completes, nothing that existed
before it remains.

Counts are kept in the receipt as the sweeps go, so a worker taking over an interrupted erasure
continues them. A subject's erasure counts the messages and outbox events of the tickets it read
(to take their leases) just before deleting them; a project erasure deletes its tickets with one
query without reading them, and reports those two counts as null.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from zumik_contracts.privacy import ErasureCounts, ErasureReceipt, PrivacyCommand, PrivacyScope
from zumik_privacy_records.claims import Claim, Completed, Conflict
from zumik_store.clock import Clock
from zumik_store.mongo import Document

from zumik_privacy.commands import (
    command_identity,
    reused_request_id,
    scope_of,
    unknown_project,
)
from zumik_privacy.owners import Owners

log = logging.getLogger("zumik_privacy.erasure")

# Counted, but not records of their own: they went with their tickets.
_CONTENTS = frozenset({"messages", "outbox_events"})


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


def add_counts(counts: ErasureCounts, parts: Sequence[dict[str, int]]) -> int:
    """Add each owner's counts into the receipt's; the number of records deleted."""
    deleted = 0
    for part in parts:
        for kind, number in part.items():
            setattr(counts, kind, (getattr(counts, kind) or 0) + number)
            if kind not in _CONTENTS:
                deleted += number
    return deleted


class Eraser:
    def __init__(
        self,
        owners: Owners,
        *,
        subject_salt: bytes,
        max_passes: int,
        settle: timedelta,
        clock: Clock,
    ) -> None:
        self._owners = owners
        self._claims = owners.records.receipts
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
        if await self._owners.records.exports.find(command.id) is not None:
            raise reused_request_id(command)
        if await self._owners.projects.get(command.project_id) is not None:
            return
        # An erasure interrupted after deleting the project document must be able to finish,
        # even under a new request id; and erasing an erased project just confirms it.
        if not await self._owners.records.has_receipt_for(command.project_id):
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
        owners = self._owners
        # Keys, then the project: the API stops accepting the project's requests first.
        first = await owners.projects.erase_project(project_id)
        # The rest is independent, so it runs concurrently: every query is a collection scan on
        # FerretDB, and the scans of different collections overlap.
        rest = await asyncio.gather(
            owners.tickets.erase_project(project_id),
            owners.idempotency.erase_project(project_id),
            owners.deliveries.erase_project(project_id),
            owners.records.erase_project(project_id),
            owners.files.erase_project(project_id),
        )
        return add_counts(counts, [first, *rest])

    async def _subject_pass(
        self, project_id: str, email: str, counts: ErasureCounts, erased: set[str]
    ) -> int:
        owners = self._owners
        tickets = await owners.tickets.erase_subject(project_id, email)
        sessions = await owners.projects.erase_subject(project_id, email)
        erased.update(tickets.ticket_ids)
        # Traces of every ticket erased so far, not only this pass's: an idempotent request that
        # was running may have stored its response after its ticket was deleted.
        ids = sorted(erased)
        traces = await asyncio.gather(
            owners.tickets.erase_traces(project_id, ids),
            owners.idempotency.erase_tickets(project_id, ids),
            owners.deliveries.erase_tickets(project_id, ids),
            owners.records.erase_project(project_id),
            owners.files.erase_tickets(project_id, ids),
        )
        return add_counts(counts, [tickets.counts, sessions, *traces])


def _initial_counts(command: PrivacyCommand) -> ErasureCounts:
    if command.contact_email is None:  # a project erasure does not read its tickets
        return ErasureCounts(messages=None, outbox_events=None)
    return ErasureCounts()
