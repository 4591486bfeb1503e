"""Projects and their API keys. A key is stored only as its SHA-256 hash."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts import ids
from zumik_contracts.tickets import Plan

from zumik_api.adapters.mongo import Document

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


class ProjectRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._projects = db.projects
        self._keys = db.api_keys

    async def create(self, name: str, plan: Plan, now: datetime) -> Project:
        project = Project(id=ids.new_id(ids.PROJECT), name=name, plan=plan, created_at=now)
        await self._projects.insert_one(
            {"_id": project.id, "name": name, "plan": plan, "created_at": now, "updated_at": now}
        )
        return project

    async def get(self, project_id: str) -> Project | None:
        doc = await self._projects.find_one({"_id": project_id})
        return None if doc is None else _project(doc)

    async def all(self) -> list[Project]:
        return [_project(d) async for d in self._projects.find({}).sort("_id", 1)]

    async def set_plan(self, project_id: str, plan: Plan, now: datetime) -> bool:
        result = await self._projects.update_one(
            {"_id": project_id}, {"$set": {"plan": plan, "updated_at": now}}
        )
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
        doc = await self._keys.find_one({"_id": key_hash})
        if doc is None or not hmac.compare_digest(str(doc["_id"]), key_hash):
            return None
        return str(doc["project_id"])
