"""The outbox relay: moves the events stored in ticket documents onto RabbitMQ.

Fast path: a committed change calls `notify(ticket_id)` and the relay publishes that ticket's
outbox at once. Safety net: a periodic sweep finds tickets whose outbox is still pending (a crash,
another replica's crash, or RabbitMQ being down) and publishes those. Events of one ticket are
published in order, one at a time; tickets proceed concurrently. An event leaves the outbox only
after RabbitMQ confirmed it, so delivery is at-least-once; consumers drop duplicates by event id.
"""

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from zumik_api.adapters.locks import TicketBusy, TicketLocks
from zumik_api.adapters.mongo import Document
from zumik_api.clock import Clock

log = logging.getLogger("zumik_api.relay")


class Publisher(Protocol):
    async def connect(self) -> None: ...

    async def ping(self) -> bool: ...

    async def publish(self, event: dict[str, Any]) -> None: ...


class OutboxRelay:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        publisher: Publisher,
        locks: TicketLocks,
        clock: Clock,
        *,
        sweep_every: float = 2.0,
        sweep_grace: timedelta = timedelta(seconds=5),
        concurrency: int = 32,
    ) -> None:
        self._tickets = db.tickets
        self._publisher = publisher
        self._locks = locks
        self._clock = clock
        self._sweep_every = sweep_every
        self._sweep_grace = sweep_grace
        self._slots = asyncio.Semaphore(concurrency)
        self._ready: set[str] = set()
        self._retry: set[str] = set()
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.broker_connected = False
        self.published_count = 0

    def notify(self, ticket_id: str) -> None:
        self._ready.add(ticket_id)
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled."""
        connector = asyncio.create_task(self._watch_connection())
        next_sweep = 0.0
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._sweep_every):
                        await self._wake.wait()
                self._wake.clear()
                if time.monotonic() >= next_sweep:
                    started = time.monotonic()
                    self._ready |= self._retry
                    self._retry.clear()
                    await self._sweep()
                    # A slow store (FerretDB scans) must not be kept busy by the safety net.
                    next_sweep = time.monotonic() + max(
                        self._sweep_every, 5 * (time.monotonic() - started)
                    )
                self._dispatch()
        finally:
            connector.cancel()
            for task in self._tasks:
                task.cancel()  # unconfirmed events stay in the outbox for the next process

    async def drain(self) -> None:
        """Publish everything pending now (used at shutdown and by tests)."""
        await self._sweep(grace=timedelta(0))
        while self._ready or self._in_flight:
            self._dispatch()
            await asyncio.sleep(0.01)

    def _dispatch(self) -> None:
        for ticket_id in list(self._ready - self._in_flight):
            self._ready.discard(ticket_id)
            self._in_flight.add(ticket_id)
            task = asyncio.create_task(self._relay_ticket(ticket_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _sweep(self, grace: timedelta | None = None) -> None:
        cutoff = self._clock() - (self._sweep_grace if grace is None else grace)
        try:
            async for doc in self._tickets.find(
                {"outbox_pending": True, "updated_at": {"$lte": cutoff}}, {"_id": 1}
            ).limit(1000):
                self._ready.add(str(doc["_id"]))
        except Exception:
            log.warning("outbox sweep could not read MongoDB; will retry")

    async def _relay_ticket(self, ticket_id: str) -> None:
        try:
            async with self._slots:
                published = await self._publish_outbox(ticket_id)
                if published:
                    await self._acknowledge(ticket_id, published)
        except Exception as error:
            # Left in the outbox and retried at the next sweep, so a down broker is not hammered.
            self._retry.add(ticket_id)
            if not isinstance(error, TicketBusy):
                log.warning("relay of ticket %s paused: %s", ticket_id, type(error).__name__)
        finally:
            self._in_flight.discard(ticket_id)
            if ticket_id in self._ready:  # changed again while in flight
                self._wake.set()

    async def _publish_outbox(self, ticket_id: str) -> list[str]:
        doc = await self._tickets.find_one({"_id": ticket_id}, {"outbox": 1})
        published: list[str] = []
        for event in [] if doc is None else doc.get("outbox", []):
            try:
                await self._publisher.publish(event)
            except Exception:
                if published:  # keep the confirmed ones out of the outbox, then stop in order
                    await self._acknowledge(ticket_id, published)
                raise
            published.append(event["id"])
            self.published_count += 1
        return published

    async def _acknowledge(self, ticket_id: str, published: list[str]) -> None:
        """Remove confirmed events, under the ticket's lease (FerretDB updates are not atomic)."""
        done = set(published)
        async with self._locks.hold(ticket_id):
            doc = await self._tickets.find_one({"_id": ticket_id}, {"outbox": 1})
            if doc is None:
                return
            remaining = [e for e in doc.get("outbox", []) if e["id"] not in done]
            await self._tickets.update_one(
                {"_id": ticket_id},
                {"$set": {"outbox": remaining, "outbox_pending": bool(remaining)}},
            )
        if remaining:
            self.notify(ticket_id)

    async def _watch_connection(self) -> None:
        """Connect (retrying while RabbitMQ is down), then keep `broker_connected` current.

        The connection itself reconnects after an outage; this only reports its state.
        """
        delay = 0.5
        while not self.broker_connected:
            try:
                await self._publisher.connect()
                self.broker_connected = True
            except Exception:
                log.warning("RabbitMQ unreachable; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        while True:
            was_connected = self.broker_connected
            self.broker_connected = await self._publisher.ping()
            if self.broker_connected and not was_connected:
                self._ready |= self._retry
                self._retry.clear()
                self._wake.set()
            await asyncio.sleep(1.0)
