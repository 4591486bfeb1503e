"""The `Directory` port on the accounts library (`zumik_accounts`), behind a short cache.

Every request needs its credential's owner, and a new ticket its project's plan; two store reads
were a quarter of a create's CPU. So each API process reuses what it read for
`AUTH_CACHE_SECONDS`: a revoked or expired credential, a deleted project or a plan change takes
effect within that bound on every instance (an expiry is also checked on every use).
"""

import asyncio
from collections.abc import Awaitable
from datetime import datetime

from zumik_accounts.credentials import UseRecorder, hash_secret
from zumik_accounts.projects import KeyOwner, Project, Projects, looks_like_api_key
from zumik_accounts.staff import Staff, StaffMember
from zumik_contracts.tickets import Plan
from zumik_store.clock import Clock, utc_now

from zumik_api.adapters.auth_cache import AuthCache
from zumik_api.service.ports import Customer, TeamMember


class CachedDirectory:
    def __init__(
        self, projects: Projects, staff: Staff, cache: AuthCache, clock: Clock = utc_now
    ) -> None:
        self._projects = projects
        self._staff = staff
        self._cache = cache
        self._clock = clock
        self._key_uses = UseRecorder()
        self._token_uses = UseRecorder()
        self._background: set[asyncio.Task[None]] = set()

    def key_is_well_formed(self, api_key: str) -> bool:
        return looks_like_api_key(api_key)

    async def customer_for_key(self, api_key: str) -> Customer | None:
        if not looks_like_api_key(api_key):
            return None
        key_hash = hash_secret(api_key)
        owner: KeyOwner | None = await self._cache.get_or_load(
            "key:" + key_hash, lambda: self._projects.key_owner(api_key)
        )
        if owner is None or _past(owner.expires_at, self._clock()):
            return None
        return Customer(owner.project_id, key_hash)

    async def member_for_token(self, token: str) -> TeamMember | None:
        member: StaffMember | None = await self._cache.get_or_load(
            "staff:" + hash_secret(token), lambda: self._staff.member_for_token(token)
        )
        return None if member is None else TeamMember(member.id, member.email, member.token_hash)

    async def plan_of(self, project_id: str) -> Plan | None:
        project = await self._project(project_id)
        return None if project is None else project.plan

    async def still_exists(self, project_id: str) -> bool:
        # Never the cache: read after the caller's write (concurrent checks share one read).
        return await self._projects.exists(project_id)

    async def project_name(self, project_id: str) -> str | None:
        project = await self._project(project_id)
        return None if project is None else project.name

    async def apply_plan_change(
        self, project_id: str, plan: Plan, changed_at: datetime
    ) -> bool | None:
        applied = await self._projects.apply_plan_change(project_id, plan, changed_at)
        self._cache.forget("project:" + project_id)  # this process at once; others within the TTL
        return applied

    def record_use(self, principal: Customer | TeamMember) -> None:
        """`last_used_at`, at most once a minute per credential and process, in the background."""
        if isinstance(principal, Customer):
            recorder, write = self._key_uses, self._projects.record_use
        else:
            recorder, write = self._token_uses, self._staff.record_use
        if not principal.credential or not recorder.due(principal.credential):
            return
        task = asyncio.create_task(_quietly(write(principal.credential, self._clock())))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _project(self, project_id: str) -> Project | None:
        return await self._cache.get_or_load(
            "project:" + project_id, lambda: self._projects.get(project_id)
        )


async def _quietly(write: Awaitable[None]) -> None:
    try:
        await write
    except Exception:  # a missed `last_used_at` is not worth failing or logging each time
        return


def _past(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now
