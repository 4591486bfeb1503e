"""Applying billing's plan changes to projects."""

from datetime import datetime

from zumik_contracts.tickets import Plan

from zumik_api.adapters.locks import TicketLocks
from zumik_api.adapters.projects import ProjectRepository


class PlanChanges:
    def __init__(self, projects: ProjectRepository, locks: TicketLocks) -> None:
        self._projects = projects
        self._locks = locks

    async def apply(self, project_id: str, plan: Plan, changed_at: datetime) -> bool | None:
        """True when applied, False when a newer change was already applied, None when the
        project does not exist. Serialised per project: the read-compare-write is not atomic on
        FerretDB, and two replicas handling two changes at once must still keep the newest."""
        async with self._locks.hold(f"plan:{project_id}"):
            return await self._projects.apply_plan_change(project_id, plan, changed_at)
