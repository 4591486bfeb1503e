"""The shell of a worker service: a FastStream app around a confirming broker.

A service says what it opens (clients bound to the running event loop, its topology) and closes;
the shell runs that from FastStream's hooks (`app.run()`, the service's entry point) or in-process
(`start()`/`stop()`, tests and benchmarks), and stops its background tasks on the way out.

    class Notifier(WorkerService):
        async def open_resources(self) -> None: ...   # clients, topology, periodic tasks
        async def close_resources(self) -> None: ...
"""

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from faststream import FastStream
from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI
from zumik_store.lifecycle import cancel_and_wait, every

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

    @property
    def is_open(self) -> bool:
        return self._open

    def run_every(self, seconds: float, action: Callable[[], Awaitable[object]], what: str) -> None:
        """A periodic background task, stopped by `close`."""
        self._tasks.append(asyncio.create_task(every(seconds, action, what, self.log)))

    async def open(self) -> None:
        """FastStream's on_startup."""
        if self._open:
            return
        self._open = True
        try:
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
        await self.close_resources()

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
