"""The API's auth cache: store reads saved for a bounded time, never a wrong answer after it."""

import asyncio
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.credentials import hash_secret
from zumik_accounts.projects import Projects
from zumik_accounts.staff import Staff
from zumik_api.adapters.auth_cache import AuthCache
from zumik_api.adapters.directory import CachedDirectory
from zumik_api.service.ports import Customer
from zumik_store.mongo import Document

TTL = 0.3
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def directory(
    db: AsyncDatabase[Document], ttl: float, negative_ttl: float = 0.0
) -> tuple[Projects, CachedDirectory]:
    projects = Projects(db)
    return projects, CachedDirectory(projects, Staff(db), AuthCache(ttl, negative_ttl))


async def test_a_deleted_key_and_project_stop_working_within_the_ttl(
    db: AsyncDatabase[Document],
) -> None:
    projects, cached = directory(db, TTL)
    project = await projects.create("cache", "pilot")
    key = (await projects.new_api_key(project.id)).api_key
    assert await cached.customer_for_key(key) == Customer(project.id, hash_secret(key))
    assert await cached.plan_of(project.id) == "pilot"

    await db.api_keys.delete_one({"_id": hash_secret(key)})
    await db.projects.delete_one({"_id": project.id})
    # Within the TTL the cache still answers (the bounded staleness erasure's settle covers)...
    assert await cached.customer_for_key(key) == Customer(project.id, hash_secret(key))
    await asyncio.sleep(TTL + 0.05)
    # ...and after it, the store does.
    assert await cached.customer_for_key(key) is None
    assert await cached.plan_of(project.id) is None


async def test_an_unknown_key_is_remembered_only_briefly(db: AsyncDatabase[Document]) -> None:
    """A miss is remembered for the (short) negative TTL: guessing costs the guesser, not the
    store, and a key stored a moment later works once that passed."""
    projects, cached = directory(db, 60.0, negative_ttl=TTL)
    project = await projects.create("cache", "base")
    key = (await projects.new_api_key(project.id)).api_key
    await db.api_keys.delete_one({"_id": hash_secret(key)})
    assert await cached.customer_for_key(key) is None

    await db.api_keys.insert_one({"_id": hash_secret(key), "project_id": project.id})
    assert await cached.customer_for_key(key) is None  # still remembered as unknown
    await asyncio.sleep(TTL + 0.05)
    assert await cached.customer_for_key(key) == Customer(project.id, hash_secret(key))


async def test_a_plan_change_in_this_process_applies_at_once(db: AsyncDatabase[Document]) -> None:
    projects, cached = directory(db, 60.0)
    project = await projects.create("cache", "base")
    assert await cached.plan_of(project.id) == "base"

    assert await cached.apply_plan_change(project.id, "pilot", NOW) is True
    assert await cached.plan_of(project.id) == "pilot"
