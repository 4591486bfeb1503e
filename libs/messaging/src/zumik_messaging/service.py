"""The shell of a worker service: a FastStream app around a confirming broker.

A service says what it opens (clients bound to the running event loop, its topology) and closes;
the shell runs that from FastStream's hooks (`app.run()`, the service's entry point) or in-process
(`start()`/`stop()`, tests and benchmarks), and stops its background tasks on the way out.

    class Notifier(WorkerService):
        async def open_resources(self) -> None: ...   # clients, topology, periodic tasks
        async def close_resources(self) -> None: ...
        def store_client(self) -> AsyncMongoClient | None: ...  # for /readyz

Every service gets the same observability: FastStream's telemetry middleware (a consumer span per
message, continuing the `traceparent` it carries, and the context injected into everything it
publishes) and Prometheus middleware (messages received, handled, failed, in flight and their
duration, by queue and exchange, into `registry`), and, once `expose_health` named a port,
`/healthz`, `/readyz` and `/metrics` on it.
"""

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from faststream import FastStream
from faststream.rabbit import RabbitBroker
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from zumik_observability.health import HealthServer
from zumik_observability.metrics import new_registry
from zumik_store import mongo
from zumik_store.lifecycle import cancel_and_wait, every
from zumik_store.mongo import Document

from zumik_messaging.metrics import RabbitMetrics

# The AsyncAPI `servers` entry: fixed, so committed documents do not depend on where they ran.
SPECIFICATION_URL = "amqp://rabbitmq:5672/"


class WorkerService(ABC):
    def __init__(
        self,
        broker: RabbitBroker,
        *,
        title: str,
        version: str,
        description: str,
        logger: logging.Logger,
    ) -> None:
        self.broker = broker
        self.log = logger
        self._tasks: list[asyncio.Task[None]] = []
        self._open = False
        self.registry = new_registry()
        # Outermost first: the span is current while the metrics and the handler run.
        broker.add_middleware(RabbitTelemetryMiddleware())
        broker.add_middleware(RabbitMetrics(registry=self.registry))
        self._health_at: tuple[str, int] | None = None
        self._health: HealthServer | None = None
        self.app = FastStream(
            broker,
            specification=AsyncAPI(title=title, version=version, description=description),
            on_startup=[self.open],
            after_shutdown=[self.close],
            logger=logger,
        )

    @abstractmethod
    async def open_resources(self) -> None:
        """Create the clients, connect the broker and declare the topology."""

    @abstractmethod
    async def close_resources(self) -> None:
        """Close what `open_resources` created (also after it failed half-way)."""

    @abstractmethod
    def store_client(self) -> AsyncMongoClient[Document] | None:
        """The MongoDB client `open_resources` created (None while there is none)."""

    @property
    def is_open(self) -> bool:
        return self._open

    def expose_health(self, host: str, port: int) -> None:
        """Serve `/healthz`, `/readyz` and `/metrics` on host:port while open (port 0: any free
        port, then `health_port` says which)."""
        self._health_at = (host, port)

    @property
    def health_port(self) -> int | None:
        return None if self._health is None else self._health.port

    async def readiness(self) -> dict[str, bool]:
        """What `/readyz` checks: the broker and the store."""
        try:
            connected = await self.broker.ping(timeout=1.0)
        except Exception:
            connected = False
        client = self.store_client()
        return {
            "rabbitmq": self._open and connected,
            "mongodb": client is not None and await mongo.answers(client),
        }

    def run_every(self, seconds: float, action: Callable[[], Awaitable[object]], what: str) -> None:
        """A periodic background task, stopped by `close`."""
        self._tasks.append(asyncio.create_task(every(seconds, action, what, self.log)))

    async def open(self) -> None:
        """FastStream's on_startup."""
        if self._open:
            return
        self._open = True
        try:
            if self._health_at is not None:
                # First: liveness answers (and readiness says no) while RabbitMQ is awaited.
                self._health = HealthServer(self.readiness, self.registry, *self._health_at)
                await self._health.start()
            await self.open_resources()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """FastStream's after_shutdown, once the consumers have stopped."""
        if not self._open:
            return
        self._open = False
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        try:
            await self.close_resources()
        finally:
            if self._health is not None:
                await self._health.stop()
                self._health = None

    async def start(self) -> None:
        """Open, then start consuming (what `app.run()` does, for in-process use)."""
        await self.open()
        try:
            await self.broker.start()
        except BaseException:
            await self.close()
            raise

    async def stop(self) -> None:
        """Stop consuming (in-flight messages finish or get redelivered), then close."""
        try:
            await self.broker.stop()
        finally:
            await self.close()
