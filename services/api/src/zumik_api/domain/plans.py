"""The support SLA each billing plan buys."""

from zumik_contracts.tickets import PLANS, Plan, Sla

_SLA_BY_PLAN: dict[Plan, Sla] = {
    "free": Sla(
        tier="community",
        first_response_target="Best effort, community support",
        priority_queue=False,
    ),
    "base": Sla(tier="standard", first_response_target="1 business day", priority_queue=False),
    "pilot": Sla(tier="priority", first_response_target="4 business hours", priority_queue=True),
    "enterprise": Sla(
        tier="enterprise",
        first_response_target="4 hours, 24/7 for urgent issues",
        priority_queue=True,
    ),
}


class UnknownPlan(ValueError):
    def __init__(self, plan: str) -> None:
        super().__init__(f"Unknown plan {plan!r}; expected one of: {', '.join(PLANS)}.")


def sla_for(plan: str) -> Sla:
    try:
        return _SLA_BY_PLAN[plan]  # type: ignore[index]
    except KeyError:
        raise UnknownPlan(plan) from None


def parse_plan(plan: str) -> Plan:
    sla_for(plan)
    return plan  # type: ignore[return-value]
