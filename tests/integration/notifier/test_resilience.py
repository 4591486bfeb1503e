"""Nothing is lost when RabbitMQ or the notifier is down, and nothing is sent twice after."""

import asyncio
import json
import shutil
from collections import Counter

import httpx
import pytest

from tests.conftest import ApiProject
from tests.integration.notifier.conftest import (
    DurableOpsQueue,
    NotifierEnv,
    OpsQueue,
    delivered,
    for_ticket,
    open_ticket,
)
from tests.integration.notifier.http_stub import Request
from tests.services import Services

OUTAGE_RECOVERY_TIMEOUT = 60.0


async def _run(*command: str) -> None:
    # Not subprocess.run: the API's relay and the notifier run on this event loop meanwhile.
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, f"{' '.join(command)}: {stderr.decode()}"


async def _wait_until_rabbitmq_runs(within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            process = await asyncio.create_subprocess_exec(
                "rabbitmq-diagnostics",
                "-q",
                "check_running",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            if await process.wait() == 0:
                return
            await asyncio.sleep(0.5)


def _webhook_ids(requests: list[Request], ticket_ids: list[str]) -> Counter[str]:
    return Counter(
        r.headers["webhook-id"] for ticket_id in ticket_ids for r in delivered(requests, ticket_id)
    )


async def test_rabbitmq_outage_loses_nothing_and_sends_nothing_twice(
    services: Services,
    api: httpx.AsyncClient,
    project: ApiProject,
    notifier: NotifierEnv,
    durable_ops_queue: DurableOpsQueue,
) -> None:
    if services.source != "local":
        pytest.skip(f"stops and starts the local RabbitMQ; services come from {services.source}")
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")

    warm_up = await open_ticket(api, project, subject="before the outage")
    await notifier.webhook.wait_for(lambda rs: len(delivered(rs, warm_up["id"])) >= 1)

    await _run("rabbitmqctl", "-q", "stop_app")
    try:
        ticket_ids = []
        for number in range(3):  # every request succeeds while the broker is down
            ticket = await open_ticket(api, project, subject=f"during the outage {number}")
            ticket_ids.append(ticket["id"])
            follow_up = await api.post(
                f"/v2/support/tickets/{ticket['id']}/messages",
                json={"body": f"more details {number}"},
                headers=project.headers,
            )
            assert follow_up.status_code in (200, 201), follow_up.text
    finally:
        await _run("rabbitmqctl", "-q", "start_app")
        await _wait_until_rabbitmq_runs(OUTAGE_RECOVERY_TIMEOUT)

    # Two events per ticket (created, customer message), each exactly one webhook and one email.
    expected = 2 * len(ticket_ids)
    await notifier.webhook.wait_for(
        lambda rs: len(_webhook_ids(rs, ticket_ids)) >= expected, OUTAGE_RECOVERY_TIMEOUT
    )
    await notifier.resend.wait_for(
        lambda rs: sum(len(delivered(rs, t)) for t in ticket_ids) >= expected,
        OUTAGE_RECOVERY_TIMEOUT,
    )
    await asyncio.sleep(2.0)  # time for any duplicate to show up

    sent = _webhook_ids(notifier.webhook.requests, ticket_ids)
    assert len(sent) == expected, "every event arrived"
    assert set(sent.values()) == {1}, f"a webhook was sent twice: {sent}"
    for ticket_id in ticket_ids:
        # Deliveries run concurrently (and retries come later), so webhooks promise no order;
        # the events on the queue do (see below).
        hooks = delivered(notifier.webhook.requests, ticket_id)
        assert sorted(json.loads(r.body)["type"] for r in hooks) == [
            "ticket.created",
            "ticket.message_added",
        ]
    emails = Counter(
        r.headers["idempotency-key"]
        for t in ticket_ids
        for r in delivered(notifier.resend.requests, t)
    )
    assert set(emails.values()) == {1}
    assert set(emails) == set(sent)

    on_queue = await durable_ops_queue.events(lambda e: e["data"]["ticket_id"] in ticket_ids)
    assert {e["id"] for e in on_queue} == set(sent), "ops queues got every event too"
    for ticket_id in ticket_ids:
        types = [e["type"] for e in on_queue if e["data"]["ticket_id"] == ticket_id]
        assert types == ["ticket.created", "ticket.message_added"], "in order per ticket"


async def test_events_wait_in_the_queue_while_the_notifier_is_stopped(
    api: httpx.AsyncClient,
    project: ApiProject,
    notifier_env: NotifierEnv,
    ops_queue: OpsQueue,
) -> None:
    # A deployed notifier has declared its queue; then it stops (a deploy, a crash).
    await notifier_env.start()
    await notifier_env.stop()

    ticket = await open_ticket(api, project)
    ticket_id = ticket["id"]
    await ops_queue.event_for(ticket_id)  # published, so also routed to the notifier's queue
    assert await notifier_env.queue_depth(notifier_env.topology.events_queue.name) >= 1
    await asyncio.sleep(0.5)
    assert for_ticket(notifier_env.webhook.requests, ticket_id) == []

    await notifier_env.start()
    await notifier_env.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await notifier_env.resend.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await asyncio.sleep(1.0)
    assert len(for_ticket(notifier_env.webhook.requests, ticket_id)) == 1
    assert len(for_ticket(notifier_env.resend.requests, ticket_id)) == 1
