"""Console sessions and one-time sign-in links.

A browser signs in once with a credential (a project API key, a staff token or a sign-in link)
and gets a session: an opaque token in an HttpOnly cookie, stored only as its hash, with a CSRF
token the page sends back on every change. A session ends when it is idle too long, when it is
too old, when its user signs out, and when the credential it came from is revoked.

`console_sessions`: `{_id: sha256 of the token, kind: customer|staff, project_id?, staff_id?,
email, csrf_token, credential (the hash of the credential it came from), created_at, expires_at,
idle_expires_at, last_seen_at}`.
`sign_in_links`: `{_id: sha256 of the link token, project_id, email, created_at, expires_at}`;
using a link deletes it (one delete by `_id` wins, on MongoDB as on FerretDB).
"""

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.clock import Clock, utc_now
from zumik_store.deletion import delete_all
from zumik_store.mongo import Document

from zumik_accounts.credentials import hash_secret, new_secret

SESSION_PREFIX = "zss_"
LINK_PREFIX = "zsl_"
# A session's idle expiry moves forward at most this often (not a store write per request).
TOUCH_EVERY = timedelta(seconds=60)

SessionKind = Literal["customer", "staff"]


@dataclass(frozen=True)
class StoredSession:
    key: str  # the token's hash
    kind: SessionKind
    email: str
    csrf_token: str
    credential: str
    created_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    last_seen_at: datetime
    project_id: str | None = None
    staff_id: str | None = None

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token)


@dataclass(frozen=True)
class SignInLink:
    project_id: str
    email: str
    credential: str


def _session(doc: dict[str, Any]) -> StoredSession:
    return StoredSession(
        key=doc["_id"],
        kind=doc["kind"],
        email=doc["email"],
        csrf_token=doc["csrf_token"],
        credential=doc["credential"],
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        idle_expires_at=doc["idle_expires_at"],
        last_seen_at=doc["last_seen_at"],
        project_id=doc.get("project_id"),
        staff_id=doc.get("staff_id"),
    )


def looks_like_session(token: str) -> bool:
    return token.startswith(SESSION_PREFIX) and 20 <= len(token) <= 100


class Sessions:
    def __init__(self, db: AsyncDatabase[Document], clock: Clock = utc_now) -> None:
        self._sessions = db.console_sessions
        self._links = db.sign_in_links
        self._clock = clock

    async def ensure_indexes(self) -> None:
        await self._sessions.create_index([("credential", ASCENDING)])
        await self._sessions.create_index([("project_id", ASCENDING)])
        await self._sessions.create_index([("expires_at", ASCENDING)])
        await self._links.create_index([("project_id", ASCENDING)])

    async def open(
        self,
        *,
        kind: SessionKind,
        email: str,
        credential: str,
        lifetime: timedelta,
        idle: timedelta,
        project_id: str | None = None,
        staff_id: str | None = None,
    ) -> tuple[str, StoredSession]:
        """A new session; its token is returned once (for the cookie) and only its hash kept."""
        token = new_secret(SESSION_PREFIX)
        now = self._clock()
        doc: Document = {
            "_id": hash_secret(token),
            "kind": kind,
            "email": email,
            "csrf_token": secrets.token_urlsafe(32),
            "credential": credential,
            "created_at": now,
            "expires_at": now + lifetime,
            "idle_expires_at": min(now + idle, now + lifetime),
            "last_seen_at": now,
            "project_id": project_id,
            "staff_id": staff_id,
        }
        await self._sessions.insert_one(doc)
        return token, _session(doc)

    async def find(self, token: str) -> StoredSession | None:
        """The live session of `token`; None when there is none or it ended (idle or old)."""
        if not looks_like_session(token):
            return None
        key = hash_secret(token)
        doc = await self._sessions.find_one({"_id": key})
        if doc is None or not hmac.compare_digest(str(doc["_id"]), key):
            return None
        session = _session(doc)
        now = self._clock()
        if now >= session.expires_at or now >= session.idle_expires_at:
            await self._sessions.delete_one({"_id": key})
            return None
        return session

    async def touch(self, session: StoredSession, idle: timedelta) -> None:
        """Keep an active session alive: move its idle expiry, at most once a minute."""
        now = self._clock()
        if now - session.last_seen_at < TOUCH_EVERY:
            return
        await self._sessions.update_one(
            {"_id": session.key},
            {
                "$set": {
                    "last_seen_at": now,
                    "idle_expires_at": min(now + idle, session.expires_at),
                }
            },
        )

    async def end(self, token: str) -> None:
        await self._sessions.delete_one({"_id": hash_secret(token)})

    async def end_for_credentials(self, credentials: list[str]) -> int:
        """End every session opened with these credentials (revoked keys or tokens)."""
        if not credentials:
            return 0
        return await delete_all(self._sessions, {"credential": {"$in": credentials}})

    async def new_link(self, project_id: str, email: str, lifetime: timedelta) -> str:
        """A one-time sign-in link's token; only its hash is kept."""
        token = new_secret(LINK_PREFIX)
        now = self._clock()
        await self._links.insert_one(
            {
                "_id": hash_secret(token),
                "project_id": project_id,
                "email": email,
                "created_at": now,
                "expires_at": now + lifetime,
            }
        )
        return token

    async def use_link(self, token: str) -> SignInLink | None:
        """The link's project and email, once: using it deletes it. None when it is unknown,
        used already or expired."""
        if not token.startswith(LINK_PREFIX) or len(token) > 100:
            return None
        key = hash_secret(token)
        doc = await self._links.find_one({"_id": key})
        if doc is None:
            return None
        if (await self._links.delete_one({"_id": key})).deleted_count != 1:
            return None  # another request used it in between
        if doc["expires_at"] <= self._clock():
            return None
        return SignInLink(doc["project_id"], doc["email"], key)

    async def purge_expired(self) -> int:
        now = self._clock()
        sessions = await delete_all(self._sessions, {"expires_at": {"$lte": now}})
        return sessions + await delete_all(self._links, {"expires_at": {"$lte": now}})

    async def erase_project(self, project_id: str) -> dict[str, int]:
        by_project = {"project_id": project_id}
        return {
            "console_sessions": await delete_all(self._sessions, by_project),
            "sign_in_links": await delete_all(self._links, by_project),
        }

    async def erase_subject(self, project_id: str, email: str) -> dict[str, int]:
        by_subject = {
            "project_id": project_id,
            "email": {"$regex": f"^{re.escape(email.strip())}$", "$options": "i"},
        }
        return {
            "console_sessions": await delete_all(self._sessions, by_subject),
            "sign_in_links": await delete_all(self._links, by_subject),
        }
