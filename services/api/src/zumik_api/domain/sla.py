"""The SLA policy: what each billing plan buys, and when a ticket's first response falls due.

| plan       | tier       | first_response_target           | queue    | due                       |
|------------|------------|---------------------------------|----------|---------------------------|
| free       | community  | Best effort, community support  | normal   | none                      |
| base       | standard   | 1 business day                  | normal   | 8 business hours          |
| pilot      | priority   | 4 business hours                | priority | 4 business hours          |
| enterprise | enterprise | 4 hours, 24/7 for urgent issues | priority | 4 h clock time if urgent, |
|            |            |                                 |          | else 4 business hours     |

"1 business day" is a fixed 8 business hours, whatever a calendar's days last, so the same tier
promises the same attention on every calendar. The warning falls when 80 % of the time is used
(business time, or clock time on a 24/7 clock). A ticket keeps the SLA snapshotted when it was
opened (`Sla`), and its clock follows that tier, never the project's later plan.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from zumik_contracts.tickets import Plan, Priority, Sla, SlaTier

from zumik_api.domain.business_time import BusinessCalendar

WARNING_SHARE = 0.8


@dataclass(frozen=True)
class SlaPolicy:
    sla: Sla
    business_target: timedelta | None  # None: no first-response target
    urgent_clock_target: timedelta | None = None  # urgent tickets run 24/7 on this instead


POLICIES: dict[Plan, SlaPolicy] = {
    "free": SlaPolicy(
        Sla(
            tier="community",
            first_response_target="Best effort, community support",
            priority_queue=False,
        ),
        business_target=None,
    ),
    "base": SlaPolicy(
        Sla(tier="standard", first_response_target="1 business day", priority_queue=False),
        business_target=timedelta(hours=8),
    ),
    "pilot": SlaPolicy(
        Sla(tier="priority", first_response_target="4 business hours", priority_queue=True),
        business_target=timedelta(hours=4),
    ),
    "enterprise": SlaPolicy(
        Sla(
            tier="enterprise",
            first_response_target="4 hours, 24/7 for urgent issues",
            priority_queue=True,
        ),
        business_target=timedelta(hours=4),
        urgent_clock_target=timedelta(hours=4),
    ),
}
_BY_TIER: dict[SlaTier, SlaPolicy] = {policy.sla.tier: policy for policy in POLICIES.values()}


def sla_for(plan: Plan) -> Sla:
    """The SLA a ticket opened now on `plan` snapshots."""
    return POLICIES[plan].sla


@dataclass(frozen=True)
class FirstResponseClock:
    due_at: datetime
    warning_at: datetime
    clock_time: bool  # 24/7, rather than business hours


def uses_clock_time(tier: SlaTier, priority: Priority) -> bool:
    return priority == "urgent" and _BY_TIER[tier].urgent_clock_target is not None


def first_response_clock(
    tier: SlaTier, priority: Priority, opened_at: datetime, calendar: BusinessCalendar
) -> FirstResponseClock | None:
    """When the first response to a ticket of `tier` and `priority` opened at `opened_at` falls
    due, and when the warning does; None when the tier promises no first response."""
    policy = _BY_TIER[tier]
    if uses_clock_time(tier, priority):
        assert policy.urgent_clock_target is not None
        opened = opened_at.astimezone(UTC)
        due = opened + policy.urgent_clock_target
        return FirstResponseClock(due, opened + policy.urgent_clock_target * WARNING_SHARE, True)
    if policy.business_target is None:
        return None
    due = calendar.add_business_time(opened_at, policy.business_target)
    budget = calendar.business_time_between(opened_at, due)
    warning = calendar.add_business_time(opened_at, budget * WARNING_SHARE)
    return FirstResponseClock(due, warning, False)
