"""Projects and their API keys. A key is stored only as its SHA-256 hash."""

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts import ids
from zumik_contracts.tickets import Plan

from zumik_api.adapters.mongo import Document

T = TypeVar("T")

API_KEY_PREFIX = "zsk_"
_API_KEY_SECRET_BYTES = 32
API_KEY_LENGTH = len(API_KEY_PREFIX) + len(secrets.token_urlsafe(_API_KEY_SECRET_BYTES))


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    plan: Plan
    created_at: datetime


def _project(doc: dict[str, Any]) -> Project:
    return Project(id=doc["_id"], name=doc["name"], plan=doc["plan"], created_at=doc["created_at"])


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX) and len(token) == API_KEY_LENGTH


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


class ProjectRepository:
    def __init__(self, db: AsyncDatabase[Document], cache: AuthCache | None = None) -> None:
        self._projects = db.projects
        self._keys = db.api_keys
        self._cache = cache or AuthCache(ttl_seconds=0)

    async def create(self, name: str, plan: Plan, now: datetime) -> Project:
        project = Project(id=ids.new_id(ids.PROJECT), name=name, plan=plan, created_at=now)
        await self._projects.insert_one(
            {"_id": project.id, "name": name, "plan": plan, "created_at": now, "updated_at": now}
        )
        return project

    async def get(self, project_id: str) -> Project | None:
        return await self._cache.get_or_load(project_id, lambda: self._read(project_id))

    async def _read(self, project_id: str) -> Project | None:
        doc = await self._projects.find_one({"_id": project_id})
        return None if doc is None else _project(doc)

    async def all(self) -> list[Project]:
        return [_project(d) async for d in self._projects.find({}).sort("_id", 1)]

    async def set_plan(self, project_id: str, plan: Plan, now: datetime) -> bool:
        result = await self._projects.update_one(
            {"_id": project_id}, {"$set": {"plan": plan, "updated_at": now}}
        )
        self._cache.forget(project_id)  # this process at once; other replicas within the TTL
        return result.matched_count == 1

    async def apply_plan_change(
        self, project_id: str, plan: Plan, changed_at: datetime
    ) -> bool | None:
        """Apply a billing change unless a newer one was applied; None for an unknown project."""
        doc = await self._projects.find_one({"_id": project_id})
        if doc is None:
            return None
        last = doc.get("plan_changed_at")
        if last is not None and last >= changed_at:
            return False
        await self._projects.update_one(
            {"_id": project_id},
            {"$set": {"plan": plan, "plan_changed_at": changed_at, "updated_at": changed_at}},
        )
        self._cache.forget(project_id)
        return True

    async def new_api_key(self, project_id: str, now: datetime) -> str:
        """Make a key; it is returned once and only its hash is kept."""
        api_key = API_KEY_PREFIX + secrets.token_urlsafe(_API_KEY_SECRET_BYTES)
        await self._keys.insert_one(
            {
                "_id": hash_api_key(api_key),
                "project_id": project_id,
                "hint": api_key[-4:],
                "created_at": now,
            }
        )
        return api_key

    async def project_id_for_key(self, api_key: str) -> str | None:
        key_hash = hash_api_key(api_key)
        return await self._cache.get_or_load(key_hash, lambda: self._key_owner(key_hash))

    async def _key_owner(self, key_hash: str) -> str | None:
        doc = await self._keys.find_one({"_id": key_hash})
        if doc is None or not hmac.compare_digest(str(doc["_id"]), key_hash):
            return None
        return str(doc["project_id"])
