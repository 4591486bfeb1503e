"""Zumik team members and their API tokens. A token is stored only as its SHA-256 hash."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts import ids

from zumik_api.adapters.mongo import Document

STAFF_TOKEN_PREFIX = "zst_"  # noqa: S105 - a public prefix, not a secret
STAFF_ID_PREFIX = "stf"


@dataclass(frozen=True)
class StaffMember:
    id: str
    email: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tokens = db.staff_tokens

    async def create(self, email: str, now: datetime) -> tuple[StaffMember, str]:
        """A new member with a token; the token is returned once and only its hash is kept."""
        member = StaffMember(id=ids.new_id(STAFF_ID_PREFIX), email=email)
        token = STAFF_TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._tokens.insert_one(
            {"_id": _hash(token), "staff_id": member.id, "email": email, "created_at": now}
        )
        return member, token

    async def member_for_token(self, token: str) -> StaffMember | None:
        if not token.startswith(STAFF_TOKEN_PREFIX):
            return None
        token_hash = _hash(token)
        doc = await self._tokens.find_one({"_id": token_hash})
        if doc is None or not hmac.compare_digest(str(doc["_id"]), token_hash):
            return None
        return StaffMember(id=doc["staff_id"], email=doc["email"])
