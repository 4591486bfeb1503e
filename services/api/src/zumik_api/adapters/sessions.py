"""The `SessionStore` port on the accounts library's console sessions.

A session is looked up on every console request: the lookup goes through the auth cache (so a
session that ended elsewhere stops working within `AUTH_CACHE_SECONDS`; one ended here, at once),
and an active session's idle expiry moves forward at most once a minute, in the background.
"""

import asyncio
from datetime import timedelta

from zumik_accounts.credentials import hash_secret
from zumik_accounts.sessions import Sessions, StoredSession

from zumik_api.adapters.auth_cache import AuthCache
from zumik_api.service.ports import SessionKind, SessionRecord, SignInLink


class StoredSessions:
    def __init__(
        self, sessions: Sessions, cache: AuthCache, *, lifetime: timedelta, idle: timedelta
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._lifetime = lifetime
        self._idle = idle
        self._background: set[asyncio.Task[None]] = set()

    async def open(
        self,
        *,
        kind: SessionKind,
        email: str,
        credential: str,
        project_id: str | None = None,
        staff_id: str | None = None,
    ) -> tuple[str, SessionRecord]:
        return await self._sessions.open(
            kind=kind,
            email=email,
            credential=credential,
            lifetime=self._lifetime,
            idle=self._idle,
            project_id=project_id,
            staff_id=staff_id,
        )

    async def find(self, token: str) -> SessionRecord | None:
        found: StoredSession | None = await self._cache.get_or_load(
            "session:" + hash_secret(token), lambda: self._sessions.find(token)
        )
        if found is not None:
            task = asyncio.create_task(self._touch(found))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return found

    async def _touch(self, session: StoredSession) -> None:
        try:
            await self._sessions.touch(session, self._idle)
        except Exception:  # the session lives on until its idle expiry; the next use retries
            return

    async def end(self, token: str) -> None:
        await self._sessions.end(token)
        self._cache.forget("session:" + hash_secret(token))

    async def use_link(self, token: str) -> SignInLink | None:
        link = await self._sessions.use_link(token)
        return None if link is None else SignInLink(link.project_id, link.email, link.credential)
