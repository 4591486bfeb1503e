"""The `Directory` port on the accounts library (`zumik_accounts`), behind a short cache.

Every request needs its key's project, and a new ticket its project's plan; two store reads were
a quarter of a create's CPU. So each API process reuses what it read for `AUTH_CACHE_SECONDS`.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar, cast

from zumik_accounts.projects import Projects, hash_secret, looks_like_api_key
from zumik_accounts.staff import Staff
from zumik_contracts.tickets import Plan

from zumik_api.service.ports import Customer, TeamMember

T = TypeVar("T")


class AuthCache:
    """What the last `ttl_seconds` of requests read: key hash -> project id, project id ->
    project. Every request needs both (the key, then the plan for a new ticket's SLA), and two
    store reads were a quarter of a create's CPU.

    Bounded staleness, on every replica: a plan change reaches new tickets, and a deleted key or
    project stops working, within the TTL. Privacy erasure's settle pause must exceed it (see
    `PRIVACY_ERASE_SETTLE_SECONDS`), so that a request let in by the cache cannot write after
    an erasure's confirming sweep, and no key works once an erasure has completed. Only
    successful reads are kept: an unknown key always reaches the store. Concurrent misses of one
    key share a single read, so an entry expiring under load costs one read, not one per request.
    """

    def __init__(self, ttl_seconds: float, capacity: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._entries: dict[str, tuple[float, object]] = {}
        self._loading: dict[str, asyncio.Future[Any]] = {}

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        """The cached value of `key`, else what `load` returns (kept unless it is None)."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return cast(T, entry[1])
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
        if value is not None and current:
            self._put(key, value)
        return value

    def _put(self, key: str, value: object) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._capacity:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (time.monotonic() + self._ttl, value)

    def forget(self, key: str) -> None:
        """Drop `key`, and keep a read already under way from caching what it finds."""
        self._entries.pop(key, None)
        self._loading.pop(key, None)


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # marks a failure as seen; the waiters, if any, get it too


class CachedDirectory:
    def __init__(self, projects: Projects, staff: Staff, cache: AuthCache) -> None:
        self._projects = projects
        self._staff = staff
        self._cache = cache

    def key_is_well_formed(self, api_key: str) -> bool:
        return looks_like_api_key(api_key)

    async def customer_for_key(self, api_key: str) -> Customer | None:
        if not looks_like_api_key(api_key):
            return None
        project_id = await self._cache.get_or_load(
            "key:" + hash_secret(api_key), lambda: self._projects.project_id_for_key(api_key)
        )
        return None if project_id is None else Customer(project_id)

    async def member_for_token(self, token: str) -> TeamMember | None:
        member = await self._staff.member_for_token(token)
        return None if member is None else TeamMember(member.id, member.email)

    async def plan_of(self, project_id: str) -> Plan | None:
        project = await self._cache.get_or_load(
            "project:" + project_id, lambda: self._projects.get(project_id)
        )
        return None if project is None else project.plan

    async def apply_plan_change(
        self, project_id: str, plan: Plan, changed_at: datetime
    ) -> bool | None:
        applied = await self._projects.apply_plan_change(project_id, plan, changed_at)
        self._cache.forget("project:" + project_id)  # this process at once; others within the TTL
        return applied
