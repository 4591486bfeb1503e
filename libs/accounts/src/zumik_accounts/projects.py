"""Projects and their API keys. A key is stored only as its SHA-256 hash.

`projects`: `{_id: prj_..., name, plan, plan_changed_at?, created_at, updated_at}`;
`api_keys`: `{_id: sha256 of the key, key_id: key_..., project_id, hint (last 4 characters),
created_at, expires_at?, last_used_at?}`.
"""

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts import ids
from zumik_contracts.tickets import PLANS, Plan
from zumik_store.batching import ExistenceReads
from zumik_store.clock import Clock, utc_now
from zumik_store.deletion import delete_all
from zumik_store.lease import Leases
from zumik_store.mongo import Document

from zumik_accounts.credentials import CredentialInfo, expired, hash_secret, new_secret
from zumik_accounts.sessions import Sessions

API_KEY_PREFIX = "zsk_"
KEY_ID_PREFIX = "key"
API_KEY_LENGTH = len(new_secret(API_KEY_PREFIX))
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


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    api_key: str  # shown once
    expires_at: datetime | None


@dataclass(frozen=True)
class KeyOwner:
    project_id: str
    key_hash: str
    expires_at: datetime | None


def _key_info(doc: dict[str, Any]) -> CredentialInfo:
    return CredentialInfo(
        id=doc.get("key_id") or "key_" + str(doc["_id"])[:16],
        owner_id=doc["project_id"],
        hint=doc.get("hint", ""),
        created_at=doc["created_at"],
        expires_at=doc.get("expires_at"),
        last_used_at=doc.get("last_used_at"),
    )


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX) and len(token) == API_KEY_LENGTH


class Projects:
    def __init__(self, db: AsyncDatabase[Document], clock: Clock = utc_now) -> None:
        self._projects = db.projects
        self._existence = ExistenceReads(db.projects)
        self._keys = db.api_keys
        self._sessions = Sessions(db, clock)
        self._clock = clock
        self._plan_leases = Leases(db.project_locks, ttl=_PLAN_LEASE, clock=clock)

    async def ensure_indexes(self) -> None:
        await self._keys.create_index([("project_id", ASCENDING)])
        await self._keys.create_index([("key_id", ASCENDING)])

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

    async def exists(self, project_id: str) -> bool:
        """Whether the project exists, read after the call began (concurrent calls about one
        project share a read: every create checks it, see the API's `still_exists`)."""
        return await self._existence.exists(project_id)

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

    async def new_api_key(
        self, project_id: str, *, expires_in: timedelta | None = None
    ) -> IssuedKey:
        """Make a key; it is returned once and only its hash is kept."""
        api_key = new_secret(API_KEY_PREFIX)
        now = self._clock()
        issued = IssuedKey(
            ids.new_id(KEY_ID_PREFIX), api_key, None if expires_in is None else now + expires_in
        )
        await self._keys.insert_one(
            {
                "_id": hash_secret(api_key),
                "key_id": issued.key_id,
                "project_id": project_id,
                "hint": api_key[-4:],
                "created_at": now,
                "expires_at": issued.expires_at,
            }
        )
        return issued

    async def key_owner(self, api_key: str) -> KeyOwner | None:
        """Whose key this is; None for an unknown or expired key."""
        key_hash = hash_secret(api_key)
        doc = await self._keys.find_one({"_id": key_hash}, {"project_id": 1, "expires_at": 1})
        if doc is None or not hmac.compare_digest(str(doc["_id"]), key_hash):
            return None
        if expired(doc, self._clock()):
            return None
        return KeyOwner(str(doc["project_id"]), key_hash, doc.get("expires_at"))

    async def project_id_for_key(self, api_key: str) -> str | None:
        owner = await self.key_owner(api_key)
        return None if owner is None else owner.project_id

    async def keys(self, project_id: str) -> list[CredentialInfo]:
        found = self._keys.find({"project_id": project_id}).sort("created_at", 1)
        return [_key_info(doc) async for doc in found]

    async def revoke_key(self, key_id: str) -> CredentialInfo | None:
        """Delete the key named `key_id`, and end the console sessions it opened; what it was,
        or None when there is no such key."""
        doc = await self._keys.find_one({"key_id": key_id})
        if doc is None:
            return None
        await self._keys.delete_one({"_id": doc["_id"]})
        await self._sessions.end_for_credentials([str(doc["_id"])])
        return _key_info(doc)

    async def record_use(self, credential: str, at: datetime) -> None:
        await self._keys.update_one({"_id": credential}, {"$max": {"last_used_at": at}})

    async def erase_project(self, project_id: str) -> dict[str, int]:
        """The keys and console sessions first, so that no new request gets in, then the
        project itself, so that a request already past authentication cannot open a ticket."""
        counts = {"api_keys": await delete_all(self._keys, {"project_id": project_id})}
        counts |= await self._sessions.erase_project(project_id)
        counts["projects"] = await delete_all(self._projects, {"_id": project_id})
        return counts

    async def erase_subject(self, project_id: str, email: str) -> dict[str, int]:
        """A data subject's console sessions and sign-in links in the project."""
        return await self._sessions.erase_subject(project_id, email)
