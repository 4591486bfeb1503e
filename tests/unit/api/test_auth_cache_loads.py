"""The auth cache's single flight: concurrent misses of one key share one store read."""

import asyncio

import pytest
from zumik_api.adapters.auth_cache import AuthCache


class Store:
    """Stands in for the store read; each read waits until the test releases it."""

    def __init__(self, value: str | None) -> None:
        self.value = value
        self.reads = 0
        self.reading = asyncio.Event()  # a read has reached the store
        self.release = asyncio.Event()

    async def read(self) -> str | None:
        self.reads += 1
        self.reading.set()
        await self.release.wait()
        return self.value


async def _waiting(cache: AuthCache, store: Store, callers: int) -> list[asyncio.Task[str | None]]:
    tasks = [asyncio.create_task(cache.get_or_load("k", store.read)) for _ in range(callers)]
    await asyncio.sleep(0)  # every caller has asked
    return tasks


async def test_concurrent_misses_share_one_read_and_the_value_is_kept() -> None:
    cache, store = AuthCache(60.0), Store("prj_1")
    tasks = await _waiting(cache, store, 16)
    store.release.set()
    assert await asyncio.gather(*tasks) == ["prj_1"] * 16
    assert store.reads == 1

    assert await cache.get_or_load("k", store.read) == "prj_1"
    assert store.reads == 1


async def test_a_miss_is_shared_but_not_kept() -> None:
    cache, store = AuthCache(60.0), Store(None)
    tasks = await _waiting(cache, store, 3)
    store.release.set()
    assert await asyncio.gather(*tasks) == [None] * 3
    assert store.reads == 1

    await cache.get_or_load("k", store.read)
    assert store.reads == 2


async def test_a_failed_read_reaches_every_waiter_and_the_next_request_reads_again() -> None:
    cache = AuthCache(60.0)
    failing = Store("unused")

    async def broken() -> str | None:
        await failing.read()
        raise ConnectionError("store down")

    tasks = [asyncio.create_task(cache.get_or_load("k", broken)) for _ in range(3)]
    await asyncio.sleep(0)
    failing.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert failing.reads == 1

    store = Store("prj_1")
    store.release.set()
    assert await cache.get_or_load("k", store.read) == "prj_1"


async def test_a_cancelled_waiter_does_not_cancel_the_read_others_wait_for() -> None:
    cache, store = AuthCache(60.0), Store("prj_1")
    first, second = await _waiting(cache, store, 2)
    first.cancel()
    store.release.set()
    assert await second == "prj_1"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_read_under_way_when_the_key_is_forgotten_is_not_kept() -> None:
    """A plan change forgets the project while an older read is in flight: that read's answer
    goes to its own waiters but is not cached, so the next request reads the new plan."""
    cache, stale = AuthCache(60.0), Store("old plan")
    [waiter] = await _waiting(cache, stale, 1)
    await stale.reading.wait()
    cache.forget("k")
    stale.release.set()
    assert await waiter == "old plan"

    fresh = Store("new plan")
    fresh.release.set()
    assert await cache.get_or_load("k", fresh.read) == "new plan"
    assert fresh.reads == 1


async def test_an_older_read_ending_after_a_newer_one_began_does_not_overwrite_it() -> None:
    cache, stale, fresh = AuthCache(60.0), Store("old plan"), Store("new plan")
    [old_waiter] = await _waiting(cache, stale, 1)
    await stale.reading.wait()
    cache.forget("k")
    new_waiter = asyncio.create_task(cache.get_or_load("k", fresh.read))
    await fresh.reading.wait()

    fresh.release.set()
    assert await new_waiter == "new plan"
    stale.release.set()
    assert await old_waiter == "old plan"

    assert await cache.get_or_load("k", Store("unused").read) == "new plan"  # kept, not read


async def test_with_no_ttl_nothing_is_kept() -> None:
    cache, store = AuthCache(0.0), Store("prj_1")
    store.release.set()
    await cache.get_or_load("k", store.read)
    await cache.get_or_load("k", store.read)
    assert store.reads == 2
