"""The notifier's small HTTP port: liveness, readiness and metrics (FastStream's per-queue
figures and the notifier's deliveries, retries, lag and dead letters)."""

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families
from zumik_notifier.app import build_notifier

from tests.conftest import ApiProject
from tests.integration.notifier.conftest import NotifierEnv, delivered, open_ticket


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        return await client.get(path)


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


async def test_notifier_health_port_reports_readiness_and_delivery_metrics(
    api: httpx.AsyncClient, project: ApiProject, notifier_env: NotifierEnv
) -> None:
    service = build_notifier(notifier_env.settings)
    service.expose_health("127.0.0.1", 0)
    await service.start()
    notifier_env.notifier = service
    port = service.health_port
    assert port is not None

    assert (await get(port, "/healthz")).json() == {"status": "ok"}
    ready = await get(port, "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"rabbitmq": True, "mongodb": True}

    ticket_id = (await open_ticket(api, project))["id"]
    await notifier_env.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
    await asyncio.sleep(0.2)
    metrics = _samples((await get(port, "/metrics")).text)
    deliveries = {
        (labels["channel"], labels["outcome"]): value
        for labels, value in metrics["zumik_notifier_deliveries_total"]
    }
    assert deliveries[("webhook", "delivered")] >= 1
    assert any(
        labels["channel"] == "webhook" for labels, _ in metrics["zumik_notifier_lag_seconds_count"]
    )
    assert "zumik_notifier_attempt_seconds_bucket" in metrics
    # FastStream's figures, by queue: the events queue and each channel's work queue.
    handlers = {labels["handler"] for labels, _ in metrics["faststream_received_messages_total"]}
    assert any(handler.endswith(".webhook") for handler in handlers), handlers
    assert "faststream_received_processed_messages_duration_seconds_bucket" in metrics

    await notifier_env.stop()
    # Closed: the port is gone with it.
    try:
        await get(port, "/healthz")
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("the health port outlived the notifier")
