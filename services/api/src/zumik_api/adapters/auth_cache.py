"""The auth cache: what the last moments of requests read about credentials and projects."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")
_UNKNOWN = object()  # a cached miss


class AuthCache:
    """What the last `ttl_seconds` of requests read: key hash -> project id, project id ->
    project. Every request needs both (the key, then the plan for a new ticket's SLA), and two
    store reads were a quarter of a create's CPU.

    Bounded staleness, on every replica: a plan change reaches new tickets, and a deleted key or
    project stops working, within the TTL. Privacy erasure's settle pause must exceed it (see
    `PRIVACY_ERASE_SETTLE_SECONDS`), so that a request let in by the cache cannot write after
    an erasure's confirming sweep, and no key works once an erasure has completed. Concurrent
    misses of one key share a single read, so an entry expiring under load costs one read, not
    one per request. An unknown key is remembered too, for `negative_ttl_seconds` (shorter), so
    that guessing keys costs the guesser, not the store.
    """

    def __init__(
        self, ttl_seconds: float, negative_ttl_seconds: float = 0.0, capacity: int = 10_000
    ) -> None:
        self._ttl = ttl_seconds
        self._negative_ttl = negative_ttl_seconds
        self._capacity = capacity
        self._entries: dict[str, tuple[float, object]] = {}
        self._loading: dict[str, asyncio.Future[Any]] = {}

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        """The cached value of `key`, else what `load` returns."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return None if entry[1] is _UNKNOWN else cast(T, entry[1])
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(key, load))
            # Its waiters may all be gone (cancelled) when a failed read ends.
            loading.add_done_callback(_retrieve_outcome)
            self._loading[key] = loading
        # Shielded: one waiter's cancellation must not cancel the read the others wait for.
        return cast(T | None, await asyncio.shield(loading))

    async def _load(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        this_load = asyncio.current_task()
        try:
            value = await load()
        finally:
            current = self._loading.get(key) is this_load  # not forgotten meanwhile
            if current:
                del self._loading[key]
        if current:
            self._put(key, _UNKNOWN if value is None else value)
        return value

    def _put(self, key: str, value: object) -> None:
        ttl = self._negative_ttl if value is _UNKNOWN else self._ttl
        if ttl <= 0:
            return
        if len(self._entries) >= self._capacity:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (time.monotonic() + ttl, value)

    def forget(self, key: str) -> None:
        """Drop `key`, and keep a read already under way from caching what it finds."""
        self._entries.pop(key, None)
        self._loading.pop(key, None)


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # marks a failure as seen; the waiters, if any, get it too
