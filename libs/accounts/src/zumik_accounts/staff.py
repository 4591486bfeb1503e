"""Zumik team members and their API tokens. A token is stored only as its SHA-256 hash.

`staff_tokens`: `{_id: sha256 of the token, staff_id, email, hint, created_at, expires_at?,
last_used_at?}`.
"""

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts import ids
from zumik_store.clock import Clock, utc_now
from zumik_store.deletion import delete_all
from zumik_store.mongo import Document

from zumik_accounts.credentials import CredentialInfo, expired, hash_secret, new_secret
from zumik_accounts.sessions import Sessions

STAFF_TOKEN_PREFIX = "zst_"  # noqa: S105 - a public prefix, not a secret
STAFF_ID_PREFIX = "stf"


@dataclass(frozen=True)
class StaffMember:
    id: str
    email: str
    token_hash: str = ""


@dataclass(frozen=True)
class IssuedToken:
    member: StaffMember
    token: str  # shown once
    expires_at: datetime | None


def _info(doc: dict[str, Any]) -> tuple[str, CredentialInfo]:
    return doc["email"], CredentialInfo(
        id=doc["staff_id"],
        owner_id=doc["staff_id"],
        hint=doc.get("hint", ""),
        created_at=doc["created_at"],
        expires_at=doc.get("expires_at"),
        last_used_at=doc.get("last_used_at"),
    )


class Staff:
    def __init__(self, db: AsyncDatabase[Document], clock: Clock = utc_now) -> None:
        self._tokens = db.staff_tokens
        self._sessions = Sessions(db, clock)
        self._clock = clock

    async def ensure_indexes(self) -> None:
        await self._tokens.create_index([("staff_id", ASCENDING)])

    async def create(self, email: str, *, expires_in: timedelta | None = None) -> IssuedToken:
        """A new member with a token; the token is returned once and only its hash is kept."""
        member_id = ids.new_id(STAFF_ID_PREFIX)
        token = new_secret(STAFF_TOKEN_PREFIX)
        now = self._clock()
        expires_at = None if expires_in is None else now + expires_in
        await self._tokens.insert_one(
            {
                "_id": hash_secret(token),
                "staff_id": member_id,
                "email": email,
                "hint": token[-4:],
                "created_at": now,
                "expires_at": expires_at,
            }
        )
        return IssuedToken(StaffMember(member_id, email, hash_secret(token)), token, expires_at)

    async def member_for_token(self, token: str) -> StaffMember | None:
        """The member a token belongs to; None for an unknown, revoked or expired token."""
        if not token.startswith(STAFF_TOKEN_PREFIX) or len(token) > 100:
            return None
        token_hash = hash_secret(token)
        doc = await self._tokens.find_one({"_id": token_hash})
        if doc is None or not hmac.compare_digest(str(doc["_id"]), token_hash):
            return None
        if expired(doc, self._clock()):
            return None
        return StaffMember(id=doc["staff_id"], email=doc["email"], token_hash=token_hash)

    async def members(self) -> list[tuple[str, CredentialInfo]]:
        """Every member's email and token (never the token itself), oldest first."""
        return [_info(doc) async for doc in self._tokens.find({}).sort("created_at", 1)]

    async def revoke(self, staff_id: str) -> int:
        """Delete the member's tokens and end their console sessions; how many tokens."""
        hashes = [
            str(doc["_id"]) async for doc in self._tokens.find({"staff_id": staff_id}, {"_id": 1})
        ]
        if not hashes:
            return 0
        deleted = await delete_all(self._tokens, {"staff_id": staff_id})
        await self._sessions.end_for_credentials(hashes)
        return deleted

    async def record_use(self, credential: str, at: datetime) -> None:
        await self._tokens.update_one({"_id": credential}, {"$max": {"last_used_at": at}})
