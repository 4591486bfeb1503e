"""The delivery log: one record per (event, channel), so a redelivered event is not sent again.

`_id` is `"{event_id}:{channel}"`. Besides ids, states, counts, HTTP statuses and timestamps it
holds nothing: no addresses, subjects or bodies. Privacy erasure removes it by project or by
ticket (`erase_project`, `erase_tickets`).

The record is a lease (`zumik_store.lease`): the worker that holds its token sends; a record in
state `sending` whose lease is live means another worker is sending it. Taking over a failed,
released or abandoned delivery is a delete by token plus an insert, so of two workers taking it
over at once exactly one wins (an update would let both win on FerretDB).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.events import TicketEvent
from zumik_store.batching import InsertBatcher, UpdateBatcher
from zumik_store.clock import Clock, utc_now
from zumik_store.deletion import delete_all, delete_where_in
from zumik_store.lease import EXPIRES_AT, TOKEN, Grant, Leases, expired
from zumik_store.mongo import Document

COLLECTION = "notification_deliveries"
# A delivered record is never taken over.
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


class DeliveryState(StrEnum):
    SENDING = "sending"  # claimed; a worker is sending it until its lease expires
    DELIVERED = "delivered"
    RETRYING = "retrying"  # failed or released; a retry takes it over
    DEAD_LETTERED = "dead_lettered"


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # send it now
    ALREADY_DELIVERED = "already_delivered"  # drop it
    BUSY = "busy"  # another worker holds it; look again after `busy_until`


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    attempts: int = 0  # attempts made before this claim
    busy_until: datetime | None = None
    grant: Grant | None = None  # for CLAIMED: what `record` and `release` need


def delivery_id(event_id: str, channel: str) -> str:
    return f"{event_id}:{channel}"


class DeliveryLog:
    def __init__(
        self, db: AsyncDatabase[Document], lease: timedelta, clock: Clock = utc_now
    ) -> None:
        self._deliveries = db[COLLECTION]
        self._clock = clock
        # Group commit: under load, many workers' claims and outcomes share one command each.
        claims = InsertBatcher(self._deliveries)
        self._leases = Leases(self._deliveries, ttl=lease, clock=clock, inserter=claims.insert)
        self._outcomes = UpdateBatcher(self._deliveries)

    async def ensure_indexes(self) -> None:
        await self._deliveries.create_index([("project_id", ASCENDING)])
        await self._deliveries.create_index([("ticket_id", ASCENDING)])
        await self._deliveries.create_index([("updated_at", ASCENDING)])

    async def claim(self, event: TicketEvent, channel: str) -> Claim:
        now = self._clock()
        key = delivery_id(event.id, channel)
        fields = {
            "event_id": event.id,
            "event_type": event.type,
            "project_id": event.project_id,
            "ticket_id": event.data.ticket_id,
            "channel": channel,
            "state": DeliveryState.SENDING.value,
            "attempts": 0,
            "last_status": None,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        for _ in range(3):  # again only when another worker took it over in between
            outcome = await self._leases.claim(key, fields)
            if isinstance(outcome, Grant):
                return Claim(ClaimOutcome.CLAIMED, 0, grant=outcome)
            attempts = int(outcome.get("attempts") or 0)
            state = outcome.get("state")
            if state == DeliveryState.DELIVERED:
                return Claim(ClaimOutcome.ALREADY_DELIVERED, attempts)
            if state == DeliveryState.SENDING and not expired(outcome, now):
                return Claim(ClaimOutcome.BUSY, attempts, busy_until=outcome[EXPIRES_AT])
            # Retrying, released, dead-lettered (an operator replayed it) or abandoned.
            resumed = {"state": DeliveryState.SENDING.value, "updated_at": now}
            grant = await self._leases.take_over(outcome, resumed, carry=True)
            if grant is not None:
                return Claim(ClaimOutcome.CLAIMED, attempts, grant=grant)
        raise RuntimeError("delivery record keeps changing hands")

    async def record(
        self,
        grant: Grant,
        *,
        state: DeliveryState,
        attempts: int,
        last_status: int | None,
        last_error: str | None,
    ) -> None:
        """Record the end of an attempt, if `grant` still holds the record."""
        now = self._clock()
        fields: Document = {
            "state": state.value,
            "attempts": attempts,
            "last_status": last_status,
            "last_error": last_error,
            EXPIRES_AT: NEVER if state == DeliveryState.DELIVERED else now,
            "updated_at": now,
        }
        if state == DeliveryState.DELIVERED:
            fields["delivered_at"] = now
        await self._outcomes.update_one({"_id": grant.key, TOKEN: grant.token}, {"$set": fields})

    async def release(self, grant: Grant) -> None:
        """Give a claimed delivery back unfinished (its attempt was cancelled): the next
        delivery of the event takes it over at once, without waiting for the lease."""
        now = self._clock()
        await self._deliveries.update_one(
            {"_id": grant.key, TOKEN: grant.token, "state": DeliveryState.SENDING.value},
            {"$set": {"state": DeliveryState.RETRYING.value, EXPIRES_AT: now, "updated_at": now}},
        )

    async def purge_older_than(self, cutoff: datetime) -> int:
        """FerretDB has no TTL indexes, so old entries are deleted by a periodic sweep."""
        return await delete_all(self._deliveries, {"updated_at": {"$lt": cutoff}})

    async def erase_project(self, project_id: str) -> dict[str, int]:
        deleted = await delete_all(self._deliveries, {"project_id": project_id})
        return {"notification_deliveries": deleted}

    async def erase_tickets(self, project_id: str, ticket_ids: list[str]) -> dict[str, int]:
        deleted = await delete_where_in(
            self._deliveries, {"project_id": project_id}, "ticket_id", ticket_ids
        )
        return {"notification_deliveries": deleted}
