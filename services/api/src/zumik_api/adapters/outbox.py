"""What of the ticket outboxes is published: acknowledgements and a published-through watermark.

A ticket's `outbox` holds the events of its latest changes, and `outbox_at` is when the latest
of them happened. Once RabbitMQ confirmed an event, the relay records an ack,
`{_id: event id, ticket_id, project_id, occurred_at}`: one insert for all the acks of a few
milliseconds, so marking an event published needs neither the ticket's lease nor a rewrite of
its document. Published events stay in the outbox until the ticket's next change drops them, under
the lease that change holds anyway.

The relay's sweep moves a watermark up through `outbox_at`: every event in the outbox of a
ticket whose `outbox_at` is at or below it is published. The watermark vouches for those events,
so their acks are purged an hour later. It is kept in `outbox_state`, raised with `$max`; a
stale copy is lower, which is only more cautious.
"""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from zumik_store.batching import DUPLICATE_KEY
from zumik_store.deletion import delete_all

from zumik_api.adapters.mongo import Document

# A ticket's pending events, as stored and as published.
Outbox = list[Document]

ACK_RETENTION = timedelta(hours=1)
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
_STATE_ID = "published_through"
_LOOKUPS_AT_ONCE = 16


class RecentIds:
    """A bounded set: the oldest ids are forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._ids: dict[str, None] = {}

    def add(self, item: str) -> None:
        self._ids[item] = None
        if len(self._ids) > self._capacity:
            del self._ids[next(iter(self._ids))]

    def __contains__(self, item: object) -> bool:
        return item in self._ids


class OutboxLedger:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._acks = db.outbox_acks
        self._state = db.outbox_state
        self._recent = RecentIds(100_000)
        self.published_through = NEVER

    def remember(self, events: Outbox) -> None:
        """These events were confirmed by RabbitMQ (known here at once, before their acks)."""
        for event in events:
            self._recent.add(event["id"])

    async def record(self, events: Outbox) -> None:
        """These events were confirmed by RabbitMQ: their acks, in one insert."""
        self.remember(events)
        if not events:
            return
        try:
            await self._acks.insert_many([ack_document(e) for e in events], ordered=False)
        except BulkWriteError as error:
            # A duplicate: published twice (another replica, or a retry), acknowledged either way.
            if any(e.get("code") != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise

    def published_here(self, event: Document) -> bool:
        """Whether this process published the event (no store read)."""
        return event["id"] in self._recent

    async def unpublished(self, outbox: Outbox, outbox_at: datetime | None) -> Outbox:
        """The events of a ticket's outbox still to publish, in order."""
        if outbox_at is not None and outbox_at <= self.published_through:
            return []
        return (await self.unpublished_of({"": outbox}))[""]

    async def unpublished_of(self, outboxes: dict[str, Outbox]) -> dict[str, Outbox]:
        """`unpublished` for many tickets' outboxes (keyed by ticket id) at once."""
        unknown = [e["id"] for o in outboxes.values() for e in o if e["id"] not in self._recent]
        acked = await self._stored_acks(unknown)
        return {
            ticket_id: [e for e in o if e["id"] not in self._recent and e["id"] not in acked]
            for ticket_id, o in outboxes.items()
        }

    async def count_unpublished(self, tickets: AsyncCollection[Document], query: Document) -> int:
        """Events still to publish in the outboxes of the tickets `query` matches."""
        await self.load_watermark()
        query = {**query, "outbox_at": {"$gt": self.published_through}}
        found = tickets.find(query, {"outbox": 1})
        outboxes = {str(doc["_id"]): doc.get("outbox", []) async for doc in found}
        return sum(map(len, (await self.unpublished_of(outboxes)).values()))

    async def _stored_acks(self, event_ids: list[str]) -> set[str]:
        # By `_id`, one at a time: FerretDB pushes down only a lone `_id`, so `$in` would scan.
        found: set[str] = set()
        for chunk in _chunks(event_ids, _LOOKUPS_AT_ONCE):
            docs = await asyncio.gather(
                *(self._acks.find_one({"_id": i}, {"_id": 1}) for i in chunk)
            )
            found.update(str(doc["_id"]) for doc in docs if doc is not None)
        for event_id in found:
            self._recent.add(event_id)
        return found

    async def load_watermark(self) -> datetime:
        doc = await self._state.find_one({"_id": _STATE_ID})
        if doc is not None:
            self.published_through = max(self.published_through, doc["at"])
        return self.published_through

    async def raise_watermark(self, to: datetime) -> None:
        """Every ticket whose `outbox_at` is at or below `to` has its outbox published."""
        if to <= self.published_through:
            return
        await self._state.update_one({"_id": _STATE_ID}, {"$max": {"at": to}}, upsert=True)
        self.published_through = to

    async def purge_acks(self) -> int:
        cutoff = self.published_through - ACK_RETENTION
        return await delete_all(self._acks, {"occurred_at": {"$lt": cutoff}})


def ack_document(event: Document) -> Document:
    return {
        "_id": event["id"],
        "ticket_id": event["data"]["ticket_id"],
        "project_id": event["project_id"],
        "occurred_at": datetime.fromisoformat(event["occurred_at"]),
    }


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    return (items[i : i + size] for i in range(0, len(items), size))
