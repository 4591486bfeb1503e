"""The API's auth cache: store reads saved for a bounded time, never a wrong answer after it."""

import asyncio
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.mongo import Document
from zumik_api.adapters.projects import AuthCache, ProjectRepository, hash_api_key

TTL = 0.3
NOW = datetime(2026, 11, 27, tzinfo=UTC)


async def test_a_deleted_key_and_project_stop_working_within_the_ttl(
    db: AsyncDatabase[Document],
) -> None:
    projects = ProjectRepository(db, AuthCache(TTL))
    project = await projects.create("cache", "pilot", NOW)
    key = await projects.new_api_key(project.id, NOW)
    assert await projects.project_id_for_key(key) == project.id
    assert await projects.get(project.id) == project

    await db.api_keys.delete_one({"_id": hash_api_key(key)})
    await db.projects.delete_one({"_id": project.id})
    # Within the TTL the cache still answers (the bounded staleness erasure's settle covers)...
    assert await projects.project_id_for_key(key) == project.id
    await asyncio.sleep(TTL + 0.05)
    # ...and after it, the store does.
    assert await projects.project_id_for_key(key) is None
    assert await projects.get(project.id) is None


async def test_an_unknown_key_is_not_remembered(db: AsyncDatabase[Document]) -> None:
    """A miss always reaches the store: a key created a moment later works at once."""
    projects = ProjectRepository(db, AuthCache(60.0))
    project = await projects.create("cache", "base", NOW)
    key = await projects.new_api_key(project.id, NOW)
    await db.api_keys.delete_one({"_id": hash_api_key(key)})
    assert await projects.project_id_for_key(key) is None

    await db.api_keys.insert_one({"_id": hash_api_key(key), "project_id": project.id})
    assert await projects.project_id_for_key(key) == project.id


async def test_a_plan_change_in_this_process_applies_at_once(db: AsyncDatabase[Document]) -> None:
    projects = ProjectRepository(db, AuthCache(60.0))
    project = await projects.create("cache", "base", NOW)
    assert (await projects.get(project.id)) == project

    assert await projects.set_plan(project.id, "enterprise", NOW)
    found = await projects.get(project.id)
    assert found is not None
    assert found.plan == "enterprise"

    assert await projects.apply_plan_change(project.id, "pilot", NOW) is True
    found = await projects.get(project.id)
    assert found is not None
    assert found.plan == "pilot"
