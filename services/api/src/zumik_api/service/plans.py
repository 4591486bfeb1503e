"""Billing's plan changes: a project's plan for the tickets it opens from now on.

Existing tickets keep the SLA snapshotted when they were opened. A change older than the one
last applied is ignored, so redeliveries and out-of-order deliveries are harmless.
"""

from zumik_contracts.billing import PlanChanged

from zumik_api.service.ports import Directory


class UnknownProject(Exception):
    """The change names a project that does not exist (it is dead-lettered)."""


class PlanChanges:
    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def apply(self, change: PlanChanged) -> bool:
        """True when applied, False when a newer change was applied already."""
        applied = await self._directory.apply_plan_change(
            change.project_id, change.plan, change.occurred_at
        )
        if applied is None:
            raise UnknownProject(change.project_id)
        return applied
