"""Projects and their API keys. A key is stored only as its SHA-256 hash.

`projects`: `{_id: prj_..., name, plan, plan_changed_at?, created_at, updated_at}`;
`api_keys`: `{_id: sha256 of the key, project_id, hint (last 4 characters), created_at}`.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts import ids
from zumik_contracts.tickets import PLANS, Plan
from zumik_store.clock import Clock, utc_now
from zumik_store.deletion import delete_all
from zumik_store.lease import Leases
from zumik_store.mongo import Document

API_KEY_PREFIX = "zsk_"
_API_KEY_SECRET_BYTES = 32
API_KEY_LENGTH = len(API_KEY_PREFIX) + len(secrets.token_urlsafe(_API_KEY_SECRET_BYTES))
# A plan change reads, compares and writes the project: serialised per project by a lease.
_PLAN_LEASE = timedelta(seconds=15)


class UnknownPlan(ValueError):
    def __init__(self, plan: str) -> None:
        super().__init__(f"Unknown plan {plan!r}; expected one of: {', '.join(PLANS)}.")


def parse_plan(plan: str) -> Plan:
    for known in PLANS:
        if plan == known:
            return known
    raise UnknownPlan(plan)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    plan: Plan
    created_at: datetime


def _project(doc: dict[str, Any]) -> Project:
    return Project(id=doc["_id"], name=doc["name"], plan=doc["plan"], created_at=doc["created_at"])


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX) and len(token) == API_KEY_LENGTH


class Projects:
    def __init__(self, db: AsyncDatabase[Document], clock: Clock = utc_now) -> None:
        self._projects = db.projects
        self._keys = db.api_keys
        self._clock = clock
        self._plan_leases = Leases(db.project_locks, ttl=_PLAN_LEASE, clock=clock)

    async def ensure_indexes(self) -> None:
        await self._keys.create_index([("project_id", ASCENDING)])

    async def create(self, name: str, plan: Plan) -> Project:
        now = self._clock()
        project = Project(id=ids.new_id(ids.PROJECT), name=name, plan=plan, created_at=now)
        await self._projects.insert_one(
            {"_id": project.id, "name": name, "plan": plan, "created_at": now, "updated_at": now}
        )
        return project

    async def get(self, project_id: str) -> Project | None:
        doc = await self._projects.find_one({"_id": project_id})
        return None if doc is None else _project(doc)

    async def name_of(self, project_id: str) -> str | None:
        doc = await self._projects.find_one({"_id": project_id}, {"name": 1})
        name = None if doc is None else doc.get("name")
        return name if isinstance(name, str) and name else None

    async def all(self) -> list[Project]:
        return [_project(d) async for d in self._projects.find({}).sort("_id", 1)]

    async def set_plan(self, project_id: str, plan: Plan) -> bool:
        result = await self._projects.update_one(
            {"_id": project_id}, {"$set": {"plan": plan, "updated_at": self._clock()}}
        )
        return result.matched_count == 1

    async def apply_plan_change(
        self, project_id: str, plan: Plan, changed_at: datetime, *, wait_seconds: float = 5.0
    ) -> bool | None:
        """Apply a billing change unless a newer one was applied; None for an unknown project.
        Serialised per project: the read-compare-write is not atomic on FerretDB, and two
        replicas handling two changes at once must still keep the newest."""
        async with self._plan_leases.hold(project_id, wait_seconds=wait_seconds):
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

    async def new_api_key(self, project_id: str) -> str:
        """Make a key; it is returned once and only its hash is kept."""
        api_key = API_KEY_PREFIX + secrets.token_urlsafe(_API_KEY_SECRET_BYTES)
        await self._keys.insert_one(
            {
                "_id": hash_secret(api_key),
                "project_id": project_id,
                "hint": api_key[-4:],
                "created_at": self._clock(),
            }
        )
        return api_key

    async def project_id_for_key(self, api_key: str) -> str | None:
        key_hash = hash_secret(api_key)
        doc = await self._keys.find_one({"_id": key_hash})
        if doc is None or not hmac.compare_digest(str(doc["_id"]), key_hash):
            return None
        return str(doc["project_id"])

    async def exists_or_erased(self, project_id: str) -> bool:
        return await self._projects.find_one({"_id": project_id}, {"_id": 1}) is not None

    async def erase_keys(self, project_id: str) -> dict[str, int]:
        """First step of a project's erasure: no new request gets in."""
        return {"api_keys": await delete_all(self._keys, {"project_id": project_id})}

    async def erase_project(self, project_id: str) -> dict[str, int]:
        """The keys (again: one may have been created meanwhile), then the project itself,
        so that a request already past authentication cannot open a ticket."""
        counts = await self.erase_keys(project_id)
        counts["projects"] = await delete_all(self._projects, {"_id": project_id})
        return counts
