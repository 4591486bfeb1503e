"""Per-plan rate limits on the customer API: requests a minute, and fewer writes a minute.

Every request of a project counts against its plan's request limit; POST, PATCH and DELETE count
against its (lower) write limit too. The limits hold across all API processes (the limiter shares
its counts through the store); a limiter that cannot share only limits each process alone, it
never fails a request.
"""

from dataclasses import dataclass
from typing import Protocol

from zumik_contracts.tickets import Plan

from zumik_api.service.ports import Customer, Plans


@dataclass(frozen=True)
class PlanLimits:
    requests_per_minute: int
    writes_per_minute: int


class LimiterDecision(Protocol):
    @property
    def allowed(self) -> bool: ...
    @property
    def limit(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def reset_seconds(self) -> int: ...
    @property
    def window_seconds(self) -> int: ...


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int) -> LimiterDecision: ...


@dataclass(frozen=True)
class Quota:
    """One policy's state after this request, as the `RateLimit` headers tell it."""

    policy: str  # "requests" or "writes"
    decision: LimiterDecision


@dataclass(frozen=True)
class Admission:
    allowed: bool
    quotas: list[Quota]

    @property
    def retry_after(self) -> int:
        refused = [q.decision.reset_seconds for q in self.quotas if not q.decision.allowed]
        return max(refused, default=0)


class Quotas:
    def __init__(self, plans: Plans, limiter: RateLimiter, limits: dict[Plan, PlanLimits]) -> None:
        self._plans = plans
        self._limiter = limiter
        self._limits = limits

    async def admit(self, customer: Customer, *, write: bool) -> Admission:
        plan = await self._plans.plan_of(customer.project_id)
        if plan is None:
            return Admission(True, [])  # an erased project: authentication refuses it
        limits = self._limits[plan]
        quotas = [
            Quota(
                "requests",
                self._limiter.hit(f"{customer.project_id}:requests", limits.requests_per_minute),
            )
        ]
        if write and quotas[0].decision.allowed:
            quotas.append(
                Quota(
                    "writes",
                    self._limiter.hit(f"{customer.project_id}:writes", limits.writes_per_minute),
                )
            )
        return Admission(all(q.decision.allowed for q in quotas), quotas)
