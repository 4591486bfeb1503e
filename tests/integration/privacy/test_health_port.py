"""The privacy service's small HTTP port: liveness, readiness (store and broker) and metrics."""

import secrets

import aio_pika
from zumik_privacy.app import build_privacy
from zumik_privacy.settings import Settings

from tests.integration.notifier.test_health_port import get


async def test_privacy_service_health_port(privacy_settings: Settings) -> None:
    name = f"zumik.privacy.test.{secrets.token_hex(4)}"
    settings = privacy_settings.model_copy(
        update={"privacy_exchange": name, "privacy_queue_prefix": name}
    )
    service = build_privacy(settings)
    service.expose_health("127.0.0.1", 0)
    await service.start()
    try:
        port = service.health_port
        assert port is not None
        assert (await get(port, "/healthz")).status_code == 200
        ready = await get(port, "/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"rabbitmq": True, "mongodb": True}
        assert "process_resident_memory_bytes" in (await get(port, "/metrics")).text
    finally:
        await service.stop()
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            for queue in service.topology.queues:
                await channel.queue_delete(queue.name)
            for exchange in service.topology.exchanges:
                await channel.exchange_delete(exchange.name)
