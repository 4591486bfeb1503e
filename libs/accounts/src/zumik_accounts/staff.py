"""Zumik team members and their API tokens. A token is stored only as its SHA-256 hash.

`staff_tokens`: `{_id: sha256 of the token, staff_id, email, created_at}`.
"""

import hmac
import secrets
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts import ids
from zumik_store.clock import Clock, utc_now
from zumik_store.mongo import Document

from zumik_accounts.projects import hash_secret

STAFF_TOKEN_PREFIX = "zst_"  # noqa: S105 - a public prefix, not a secret
STAFF_ID_PREFIX = "stf"


@dataclass(frozen=True)
class StaffMember:
    id: str
    email: str


class Staff:
    def __init__(self, db: AsyncDatabase[Document], clock: Clock = utc_now) -> None:
        self._tokens = db.staff_tokens
        self._clock = clock

    async def create(self, email: str) -> tuple[StaffMember, str]:
        """A new member with a token; the token is returned once and only its hash is kept."""
        member = StaffMember(id=ids.new_id(STAFF_ID_PREFIX), email=email)
        token = STAFF_TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._tokens.insert_one(
            {
                "_id": hash_secret(token),
                "staff_id": member.id,
                "email": email,
                "created_at": self._clock(),
            }
        )
        return member, token

    async def member_for_token(self, token: str) -> StaffMember | None:
        if not token.startswith(STAFF_TOKEN_PREFIX):
            return None
        token_hash = hash_secret(token)
        doc = await self._tokens.find_one({"_id": token_hash})
        if doc is None or not hmac.compare_digest(str(doc["_id"]), token_hash):
            return None
        return StaffMember(id=doc["staff_id"], email=doc["email"])
