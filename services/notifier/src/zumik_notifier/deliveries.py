"""The delivery log: one document per (event, channel), so a redelivered event is not sent again.

`_id` is `"{event_id}:{channel}"`. Besides ids, states, counts, HTTP statuses and timestamps it
holds nothing: no addresses, subjects or bodies. The privacy service erases it by `project_id` and
`ticket_id`.

FerretDB's updates are not atomic against concurrent writers, but an insert into the unique `_id`
index is, on FerretDB as on MongoDB. So the claim that decides who sends is an insert; updates only
follow by `_id` from the worker that holds the claim. The one non-atomic step is taking over a
failed or abandoned delivery; two workers doing it at the same instant could both send, and the
Idempotency-Key / webhook-id let Resend and the webhook receiver drop the second.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from zumik_contracts.events import TicketEvent
from zumik_store.batching import InsertBatcher, UpdateBatcher
from zumik_store.deletion import delete_all

from zumik_notifier.store import Document
from zumik_notifier.topology import ChannelName

COLLECTION = "notification_deliveries"


class DeliveryState(StrEnum):
    SENDING = "sending"  # claimed; a worker is sending it until `lease_until`
    DELIVERED = "delivered"
    RETRYING = "retrying"  # failed; a retry waits in a delay queue
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


def delivery_id(event_id: str, channel: ChannelName) -> str:
    return f"{event_id}:{channel}"


class DeliveryLog:
    def __init__(self, db: AsyncDatabase[Document], lease: timedelta) -> None:
        self._deliveries = db[COLLECTION]
        self._lease = lease
        # Group commit: under load, many workers' claims and outcomes share one command each.
        self._claims = InsertBatcher(self._deliveries)
        self._outcomes = UpdateBatcher(self._deliveries)

    async def ensure_indexes(self) -> None:
        await self._deliveries.create_index([("project_id", ASCENDING)])
        await self._deliveries.create_index([("ticket_id", ASCENDING)])
        await self._deliveries.create_index([("updated_at", ASCENDING)])

    async def claim(self, event: TicketEvent, channel: ChannelName, now: datetime) -> Claim:
        key = delivery_id(event.id, channel)
        existing: Document | None = None
        for _ in range(2):  # a second round only if the entry was erased in between (privacy)
            try:
                await self._claims.insert(self._new_entry(key, event, channel, now))
            except DuplicateKeyError:
                existing = await self._deliveries.find_one({"_id": key})
                if existing is not None:
                    break
            else:
                return Claim(ClaimOutcome.CLAIMED)
        if existing is None:
            raise RuntimeError("delivery log entry keeps disappearing")

        attempts = int(existing.get("attempts") or 0)
        state = existing.get("state")
        if state == DeliveryState.DELIVERED:
            return Claim(ClaimOutcome.ALREADY_DELIVERED, attempts)
        lease_until = existing.get("lease_until")
        if state == DeliveryState.SENDING and lease_until is not None and lease_until > now:
            return Claim(ClaimOutcome.BUSY, attempts, busy_until=lease_until)
        # Retrying, dead-lettered (an operator replayed it) or an abandoned claim: take it over.
        await self._deliveries.update_one(
            {"_id": key},
            {
                "$set": {
                    "state": DeliveryState.SENDING.value,
                    "lease_until": now + self._lease,
                    "updated_at": now,
                }
            },
        )
        return Claim(ClaimOutcome.CLAIMED, attempts)

    def _new_entry(
        self, key: str, event: TicketEvent, channel: ChannelName, now: datetime
    ) -> Document:
        return {
            "_id": key,
            "event_id": event.id,
            "event_type": event.type,
            "project_id": event.project_id,
            "ticket_id": event.data.ticket_id,
            "channel": channel.value,
            "state": DeliveryState.SENDING.value,
            "attempts": 0,
            "last_status": None,
            "last_error": None,
            "lease_until": now + self._lease,
            "created_at": now,
            "updated_at": now,
        }

    async def record(
        self,
        event_id: str,
        channel: ChannelName,
        *,
        state: DeliveryState,
        attempts: int,
        last_status: int | None,
        last_error: str | None,
        now: datetime,
    ) -> None:
        """Record the end of an attempt; only the worker holding the claim calls this."""
        fields: Document = {
            "state": state.value,
            "attempts": attempts,
            "last_status": last_status,
            "last_error": last_error,
            "lease_until": None,
            "updated_at": now,
        }
        if state == DeliveryState.DELIVERED:
            fields["delivered_at"] = now
        await self._outcomes.update_one({"_id": delivery_id(event_id, channel)}, {"$set": fields})

    async def purge_older_than(self, cutoff: datetime) -> int:
        """FerretDB has no TTL indexes, so old entries are deleted by a periodic sweep."""
        return await delete_all(self._deliveries, {"updated_at": {"$lt": cutoff}})
