"""`billing.plan_changed` on `zumik.billing`: updates the plan for new tickets, idempotently;
a message with an unknown plan is dead-lettered.

RabbitMQ is shared with other test sessions whose API apps consume the same durable queue (on
their own databases, where our project is unknown, so they dead-letter it). A change is
therefore published again until *this* app's consumer has handled it (seen through a wrapper
on its directory's `apply_plan_change`), and our strays are removed from the DLQ.
"""

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractExchange
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_api.bootstrap import Runtime
from zumik_api.consumers.billing import dead_letters as billing_dead_letters
from zumik_contracts.billing import BILLING_EXCHANGE, PLAN_CHANGED, PlanChanged
from zumik_contracts.tickets import Plan
from zumik_store.clock import utc_now
from zumik_store.mongo import Document

from tests.conftest import ApiProject, ProjectFactory
from tests.integration.staff.helpers import open_ticket
from tests.services import Services

Applied = tuple[str, str, datetime, bool | None]
BILLING_DEAD_LETTERS = billing_dead_letters.queue.name


@dataclass
class Billing:
    exchange: AbstractExchange
    handled: list[Applied]
    published_ids: set[str] = field(default_factory=set)

    async def publish(self, body: dict[str, Any]) -> None:
        self.published_ids.add(str(body["id"]))
        await self.exchange.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=str(body["id"]),
            ),
            routing_key=PLAN_CHANGED,
        )

    async def deliver(self, change: PlanChanged, wait_seconds: float = 20.0) -> bool | None:
        """Publish until this app's consumer has handled the change; what it returned."""
        body = json.loads(change.model_dump_json())
        key = (change.project_id, change.plan, change.occurred_at)
        start = len(self.handled)
        async with asyncio.timeout(wait_seconds):
            while True:
                await self.publish(body)
                for _ in range(40):
                    for project_id, plan, at, result in self.handled[start:]:
                        if (project_id, plan, at) == key:
                            return result
                    await asyncio.sleep(0.05)


def plan_changed(project_id: str, plan: Plan, occurred_at: datetime) -> PlanChanged:
    return PlanChanged(
        id=f"bil_{secrets.token_hex(8)}", occurred_at=occurred_at, project_id=project_id, plan=plan
    )


async def dead_letters(services: Services, ids: set[str], wanted: str | None) -> dict[str, Any]:
    """Remove our messages (by id) from the DLQ; return the body of `wanted` once seen.

    Other messages are held unacknowledged while we look and go back when the channel closes.
    The API must have declared the DLQ: a missing one fails the `wanted` lookup.
    """
    found: dict[str, Any] = {}
    connection = await aio_pika.connect(services.amqp_url)
    try:
        channel = await connection.channel()
        try:
            queue = await channel.get_queue(BILLING_DEAD_LETTERS, ensure=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            if wanted is None:
                return found
            pytest.fail(f"the API never declared its dead-letter queue {BILLING_DEAD_LETTERS!r}")
        deadline = time.monotonic() + 10  # not asyncio.timeout: see tests/amqp.py
        while time.monotonic() < deadline:
            message = await queue.get(fail=False)
            if message is None:
                if wanted is None or found:
                    return found
                await asyncio.sleep(0.1)
                continue
            if message.message_id in ids:
                await message.ack()
                if message.message_id == wanted:
                    found = json.loads(message.body)
        raise TimeoutError(f"{wanted} never reached {BILLING_DEAD_LETTERS}")
    finally:
        await connection.close()


@pytest.fixture
async def billing(
    api: httpx.AsyncClient,
    runtime: Runtime,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Billing]:
    async with asyncio.timeout(15):  # the app's broker (and so its consumer) is up
        while True:
            if runtime.relay.broker_connected:
                break
            await asyncio.sleep(0.05)
    handled: list[Applied] = []
    original = runtime.directory.apply_plan_change

    async def recording(project_id: str, plan: Plan, changed_at: datetime) -> bool | None:
        result = await original(project_id, plan, changed_at)
        handled.append((project_id, plan, changed_at, result))
        return result

    monkeypatch.setattr(runtime.directory, "apply_plan_change", recording)
    connection = await aio_pika.connect(services.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        BILLING_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    helper = Billing(exchange, handled)
    yield helper
    await connection.close()
    await dead_letters(services, helper.published_ids, None)


async def stored_project(db: AsyncDatabase[Document], project_id: str) -> Document:
    doc = await db.projects.find_one({"_id": project_id})
    assert doc is not None
    return doc


async def test_plan_change_applies_to_new_tickets_only_and_is_idempotent(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    make_project: ProjectFactory,
    billing: Billing,
) -> None:
    project = await make_project(plan="base", name="Upgrading")
    before = await open_ticket(api, project, priority="urgent")
    assert before["sla"]["tier"] == "standard"
    now = utc_now()
    upgrade = plan_changed(project.id, "enterprise", now)

    assert await billing.deliver(upgrade) is True
    async with asyncio.timeout(10):  # poll the project, as a client would see the change
        while True:
            found = await Projects(db).get(project.id)
            if found is not None and found.plan == "enterprise":
                break
            await asyncio.sleep(0.05)

    after = await open_ticket(api, project, priority="urgent")
    assert after["plan_tier"] == "enterprise"
    assert after["sla"] == {
        "tier": "enterprise",
        "first_response_target": "4 hours, 24/7 for urgent issues",
        "priority_queue": True,
    }
    assert after["first_response_due_at"] is not None
    old = (await api.get(f"/v2/support/tickets/{before['id']}", headers=project.headers)).json()
    assert old["plan_tier"] == "base"
    assert old["sla"] == before["sla"]
    assert old["first_response_due_at"] == before["first_response_due_at"]
    applied = await stored_project(db, project.id)

    # A redelivery of the same change, then an older one: nothing changes.
    assert await billing.deliver(upgrade) is False
    assert (
        await billing.deliver(plan_changed(project.id, "free", now - timedelta(hours=1))) is False
    )
    assert await stored_project(db, project.id) == applied

    # A newer one applies; the first, now older, redelivered once more, does not undo it.
    assert await billing.deliver(plan_changed(project.id, "pilot", now + timedelta(seconds=1)))
    assert await billing.deliver(upgrade) is False
    found = await Projects(db).get(project.id)
    assert found is not None
    assert found.plan == "pilot"
    assert (await open_ticket(api, project))["sla"]["tier"] == "priority"


async def test_a_change_for_an_unknown_plan_is_dead_lettered(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    services: Services,
    project: ApiProject,
    billing: Billing,
) -> None:
    body = {
        "id": f"bil_{secrets.token_hex(8)}",
        "type": "billing.plan_changed",
        "occurred_at": utc_now().isoformat(),
        "project_id": project.id,
        "plan": "platinum",
    }
    await billing.publish(body)

    dead = await dead_letters(services, {str(body["id"])}, str(body["id"]))

    assert dead == body
    found = await Projects(db).get(project.id)
    assert found is not None
    assert found.plan == project.plan
    assert "plan_changed_at" not in await stored_project(db, project.id)


async def test_concurrent_plan_changes_keep_the_newest(
    db: AsyncDatabase[Document], make_project: ProjectFactory
) -> None:
    """Two API replicas each consume one change for the same project at the same moment (the
    queue has one consumer per replica): the newer change must win whatever the interleaving,
    as it does when they arrive one after the other."""
    replica_a = Projects(db)
    replica_b = Projects(db)
    for _ in range(5):
        project = await make_project(plan="base", name="Racing changes")
        now = utc_now()
        await asyncio.gather(
            replica_a.apply_plan_change(project.id, "enterprise", now + timedelta(seconds=1)),
            replica_b.apply_plan_change(project.id, "free", now),
        )
        found = await Projects(db).get(project.id)
        assert found is not None
        assert found.plan == "enterprise"
        stored = await stored_project(db, project.id)
        assert stored["plan_changed_at"] == now + timedelta(seconds=1)
