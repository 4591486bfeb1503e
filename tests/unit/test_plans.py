"""The SLA each billing plan buys (the table in the tickets API issue), and plan names."""

import pytest
from zumik_accounts.projects import UnknownPlan, parse_plan
from zumik_api.domain.sla import POLICIES, sla_for
from zumik_contracts.tickets import PLANS, Plan, Sla

SLA_TABLE = {
    "free": ("community", "Best effort, community support", False),
    "base": ("standard", "1 business day", False),
    "pilot": ("priority", "4 business hours", True),
    "enterprise": ("enterprise", "4 hours, 24/7 for urgent issues", True),
}


@pytest.mark.parametrize("plan", PLANS)
def test_each_plan_maps_to_its_sla(plan: Plan) -> None:
    tier, target, priority_queue = SLA_TABLE[plan]
    assert sla_for(plan) == Sla(
        tier=tier,
        first_response_target=target,
        priority_queue=priority_queue,
    )


def test_the_table_covers_exactly_the_known_plans() -> None:
    assert set(PLANS) == set(SLA_TABLE) == set(POLICIES)


def test_sla_is_immutable_so_a_snapshot_cannot_be_altered() -> None:
    sla = sla_for("enterprise")
    with pytest.raises(ValueError, match="frozen"):
        sla.priority_queue = False  # type: ignore[misc]
    assert sla_for("enterprise").priority_queue is True


@pytest.mark.parametrize("plan", ["gold", "", "Enterprise", "FREE", "community"])
def test_unknown_plan_is_refused_with_the_known_plans_listed(plan: str) -> None:
    with pytest.raises(UnknownPlan) as raised:
        parse_plan(plan)
    message = str(raised.value)
    assert repr(plan) in message
    for known in PLANS:
        assert known in message


@pytest.mark.parametrize("plan", PLANS)
def test_parse_plan_accepts_every_known_plan(plan: str) -> None:
    assert parse_plan(plan) == plan


def test_unknown_plan_is_a_value_error() -> None:
    assert issubclass(UnknownPlan, ValueError)
