"""Messages from billing that Zumik Support consumes."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from zumik_contracts.tickets import Plan

BILLING_EXCHANGE = "zumik.billing"
PLAN_CHANGED = "billing.plan_changed"


class PlanChanged(BaseModel):
    """A project's billing plan changed. Applies to tickets opened afterwards only."""

    id: str = Field(description="The billing event id; redeliveries carry the same id.")
    type: Literal["billing.plan_changed"] = "billing.plan_changed"
    occurred_at: datetime = Field(description="Older changes than the last applied are ignored.")
    project_id: str
    plan: Plan
