"""A rate limiter whose counts hold across several processes, kept in the store.

Each limited key (say, a project's writes) is counted in buckets of `BUCKET_SECONDS`. A request
is admitted while the buckets of the last minute, plus the one under way, hold fewer than the
limit: never more than the limit in any sliding minute (a burst may be refused up to one bucket
early, never let through late).

Every process decides alone, from its own counts and what it last read of the others', so a
request never waits on the store. In the background, every `sync_seconds`, each process writes
its counts into documents of its own (`{key}|{bucket}|{process}`: one writer each, so FerretDB's
non-atomic updates lose nothing) and reads everyone's for the keys it saw. Several processes
can therefore admit up to one sync interval's worth of requests each beyond the limit before
they see one another's counts. A store that is down only stops the sharing: each process keeps
limiting on its own counts, and no request fails because of the limiter.
"""

import asyncio
import logging
import math
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from zumik_store.batching import MAX_UPDATES_PER_COMMAND
from zumik_store.deletion import delete_all
from zumik_store.mongo import Document

log = logging.getLogger("zumik_store.ratelimit")

WINDOW_SECONDS = 60
BUCKET_SECONDS = 10
# The buckets a decision adds up: the one under way and the last full minute's.
_BUCKETS = WINDOW_SECONDS // BUCKET_SECONDS + 1


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until a refused request would be admitted, or the window is clear
    window_seconds: int = WINDOW_SECONDS


class SharedRateLimiter:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        sync_seconds: float = 0.25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: Unix seconds (the default), so that processes agree on the buckets."""
        self._collection = collection
        self._sync_seconds = sync_seconds
        self._clock = clock
        self.process = secrets.token_hex(6)
        self._mine: dict[str, dict[int, int]] = defaultdict(dict)  # key -> bucket -> count
        # What the store holds of `_mine`: a sync writes only the buckets that changed since.
        self._stored: dict[str, dict[int, int]] = defaultdict(dict)
        self._others: dict[str, dict[int, int]] = {}
        self._dirty: set[str] = set()
        self._sync_failing = False

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("key", ASCENDING), ("bucket", ASCENDING)])
        await self._collection.create_index([("bucket", ASCENDING)])

    def hit(self, key: str, limit: int) -> Decision:
        """Count one request against `key`, unless that would pass `limit` in a minute."""
        now = self._clock()
        current = self._bucket(now)
        counts = self._counts(key, current)
        used = sum(counts.values())
        if used >= limit:
            return Decision(False, limit, 0, _seconds_until_fits(counts, used, limit, now))
        mine = self._mine[key]
        mine[current] = mine.get(current, 0) + 1
        counts[current] = counts.get(current, 0) + 1
        self._dirty.add(key)
        return Decision(True, limit, limit - used - 1, _seconds_until_leaves(min(counts), now))

    def _counts(self, key: str, current: int) -> dict[int, int]:
        oldest = current - (_BUCKETS - 1) * BUCKET_SECONDS
        mine, others = self._mine.get(key, {}), self._others.get(key, {})
        counts: dict[int, int] = {}
        for bucket in range(oldest, current + 1, BUCKET_SECONDS):
            count = mine.get(bucket, 0) + others.get(bucket, 0)
            if count:
                counts[bucket] = count
        return counts

    @staticmethod
    def _bucket(now: float) -> int:
        return int(now // BUCKET_SECONDS * BUCKET_SECONDS)

    async def run(self) -> None:
        """Share counts with the other processes until cancelled."""
        while True:
            await asyncio.sleep(self._sync_seconds)
            await self.sync()

    async def sync(self) -> None:
        keys, self._dirty = self._dirty, set()
        keys |= set(self._others)  # keep learning others' counts of keys seen lately
        if not keys:
            return
        current = self._bucket(self._clock())
        oldest = current - (_BUCKETS - 1) * BUCKET_SECONDS
        self._forget_before(oldest)
        try:
            await self._write(keys, oldest)
            for key in keys:
                self._others[key] = await self._read(key, oldest)
        except Exception as error:
            self._dirty |= keys
            if not self._sync_failing:
                log.warning(
                    "rate limit counts not shared (%s); limiting locally", type(error).__name__
                )
            self._sync_failing = True
            return
        self._sync_failing = False

    async def _write(self, keys: set[str], oldest: int) -> None:
        changed = [
            (key, bucket, count)
            for key in keys
            for bucket, count in self._mine.get(key, {}).items()
            if bucket >= oldest and self._stored[key].get(bucket) != count
        ]
        for start in range(0, len(changed), MAX_UPDATES_PER_COMMAND):
            chunk = changed[start : start + MAX_UPDATES_PER_COMMAND]
            writes = [
                UpdateOne(
                    {"_id": f"{key}|{bucket}|{self.process}"},
                    {"$set": {"key": key, "bucket": bucket, "process": self.process, "count": n}},
                    upsert=True,
                )
                for key, bucket, n in chunk
            ]
            await self._collection.bulk_write(writes, ordered=False)
            for key, bucket, n in chunk:
                self._stored[key][bucket] = n

    async def _read(self, key: str, oldest: int) -> dict[int, int]:
        others: dict[int, int] = {}
        found = self._collection.find(
            {"key": key, "bucket": {"$gte": oldest}}, {"bucket": 1, "process": 1, "count": 1}
        )
        async for doc in found:
            if doc["process"] != self.process:
                bucket = int(doc["bucket"])
                others[bucket] = others.get(bucket, 0) + int(doc["count"])
        return others

    def _forget_before(self, oldest: int) -> None:
        tables = (self._mine, self._others, self._stored)
        for counts in [counts for table in tables for counts in table.values()]:
            for bucket in [b for b in counts if b < oldest]:
                del counts[bucket]
        for table in tables:
            for key in [k for k, counts in table.items() if not counts]:
                del table[key]

    async def purge(self) -> int:
        """Delete the counts of buckets long gone (FerretDB has no TTL indexes)."""
        horizon = self._bucket(self._clock()) - 5 * WINDOW_SECONDS
        return await delete_all(self._collection, {"bucket": {"$lt": horizon}})


def _seconds_until_leaves(bucket: int, now: float) -> int:
    """A bucket leaves the window once `_BUCKETS` buckets have begun after it."""
    return max(1, math.ceil(bucket + _BUCKETS * BUCKET_SECONDS - now))


def _seconds_until_fits(counts: dict[int, int], used: int, limit: int, now: float) -> int:
    """Until enough of the oldest buckets left the window for one more request to fit."""
    for bucket in sorted(counts):
        used -= counts[bucket]
        if used < limit:
            return _seconds_until_leaves(bucket, now)
    return 1
