"""The API's auth cache: store reads saved for a bounded time, never a wrong answer after it."""

import asyncio
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects, hash_secret
from zumik_accounts.staff import Staff
from zumik_api.adapters.directory import AuthCache, CachedDirectory
from zumik_api.service.ports import Customer
from zumik_store.mongo import Document

TTL = 0.3
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def directory(db: AsyncDatabase[Document], ttl: float) -> tuple[Projects, CachedDirectory]:
    projects = Projects(db)
    return projects, CachedDirectory(projects, Staff(db), AuthCache(ttl))


async def test_a_deleted_key_and_project_stop_working_within_the_ttl(
    db: AsyncDatabase[Document],
) -> None:
    projects, cached = directory(db, TTL)
    project = await projects.create("cache", "pilot")
    key = await projects.new_api_key(project.id)
    assert await cached.customer_for_key(key) == Customer(project.id)
    assert await cached.plan_of(project.id) == "pilot"

    await db.api_keys.delete_one({"_id": hash_secret(key)})
    await db.projects.delete_one({"_id": project.id})
    # Within the TTL the cache still answers (the bounded staleness erasure's settle covers)...
    assert await cached.customer_for_key(key) == Customer(project.id)
    await asyncio.sleep(TTL + 0.05)
    # ...and after it, the store does.
    assert await cached.customer_for_key(key) is None
    assert await cached.plan_of(project.id) is None


async def test_an_unknown_key_is_not_remembered(db: AsyncDatabase[Document]) -> None:
    """A miss always reaches the store: a key created a moment later works at once."""
    projects, cached = directory(db, 60.0)
    project = await projects.create("cache", "base")
    key = await projects.new_api_key(project.id)
    await db.api_keys.delete_one({"_id": hash_secret(key)})
    assert await cached.customer_for_key(key) is None

    await db.api_keys.insert_one({"_id": hash_secret(key), "project_id": project.id})
    assert await cached.customer_for_key(key) == Customer(project.id)


async def test_a_plan_change_in_this_process_applies_at_once(db: AsyncDatabase[Document]) -> None:
    projects, cached = directory(db, 60.0)
    project = await projects.create("cache", "base")
    assert await cached.plan_of(project.id) == "base"

    assert await cached.apply_plan_change(project.id, "pilot", NOW) is True
    assert await cached.plan_of(project.id) == "pilot"
