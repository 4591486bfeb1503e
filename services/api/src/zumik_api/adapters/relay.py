"""The outbox relay: moves the events stored in ticket documents onto RabbitMQ.

Fast path: a write that recorded events hands the ticket's outbox to `notify()`, and the relay
publishes it at once, without reading anything back. A ticket's events go out in order, one at
a time; up to `concurrency` tickets proceed at once. Once RabbitMQ confirmed an event, the
relay records its ack (`OutboxLedger`: one insert every few milliseconds for all that were
confirmed meanwhile); it never rewrites the ticket.

A publish that failed (RabbitMQ down, a message returned) is retried from memory every
`retry_every`, and at once when the connection comes back.

Safety net: at start, then at most once every `sweep_every`, a sweep walks up `outbox_at` from the
published-through watermark, oldest first, over tickets changed more than `sweep_grace` ago. It
publishes whatever has no ack (this or another replica crashed before publishing), and raises
the watermark to just below the first ticket it still had to publish. `sweep_grace` must exceed
the longest write plus the clock skew between replicas: a write that commits later than that
after its clock reading could be passed by the watermark. Delivery is at-least-once; consumers
drop duplicates by event id.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from zumik_contracts.events import OutboxEntry
from zumik_store.clock import Clock
from zumik_store.lifecycle import cancel_and_wait, every
from zumik_tickets.outbox import OutboxLedger, PendingOutbox

from zumik_api.adapters.events import UnroutableEvent

log = logging.getLogger("zumik_api.relay")

SWEEP_PAGE = 1000
# Acks are background writes: waiting briefly gathers more of them into each insert.
ACK_LINGER_SECONDS = 0.02
# The most of its time the relay spends sweeping. The fast path carries normal traffic, and a
# failed publish is retried from memory every `retry_every`; the sweep only recovers what a
# crash left. On FerretDB each sweep scans the whole collection, and one every few seconds was
# the end-to-end p99 at 100 tickets/s (144 ms without, 685 ms with, measured).
SWEEP_DUTY = 0.05
# Stored dates have millisecond precision: "just below" a ticket's `outbox_at`.
TICK = timedelta(milliseconds=1)


Outbox = list[OutboxEntry]


@dataclass
class SweptPage:
    page: list[PendingOutbox]
    first_unpublished: datetime | None = None  # the `outbox_at` of the first ticket with any
    found: int = 0  # tickets with unpublished events

    def watermark(self, cutoff: datetime) -> datetime:
        """How far this page of the sweep vouches that every outbox is published."""
        if self.first_unpublished is not None:
            return self.first_unpublished - TICK
        if len(self.page) < SWEEP_PAGE:
            return cutoff
        return self.page[-1].outbox_at - TICK  # its equals may be on the next page


class Publisher(Protocol):
    async def ping(self) -> bool: ...

    async def publish(self, entry: OutboxEntry) -> None: ...


class OutboxRelay:
    def __init__(
        self,
        publisher: Publisher,
        ledger: OutboxLedger,
        clock: Clock,
        *,
        retry_every: float = 2.0,
        sweep_every: float = 30.0,
        sweep_grace: timedelta = timedelta(seconds=30),
        concurrency: int = 32,
    ) -> None:
        self._publisher = publisher
        self._ledger = ledger
        self._clock = clock
        self._retry_every = retry_every
        self._sweep_every = sweep_every
        self._sweep_grace = sweep_grace
        self._concurrency = concurrency
        self._ready: dict[str, Outbox] = {}
        self._retry: dict[str, Outbox] = {}
        # Retried from memory: the ticket may have been erased since its events were written.
        self._recheck: set[str] = set()
        self._in_flight: set[str] = set()
        self._workers: set[asyncio.Task[None]] = set()
        self._unacked: Outbox = []  # confirmed, their acks not written yet
        self._ack_writer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.broker_connected = False
        self.published_count = 0
        self.failed_count = 0  # publishes that failed (RabbitMQ down, returned, nacked)

    def notify(self, ticket_id: str, outbox: Outbox) -> None:
        """A write to `ticket_id` recorded events; `outbox` is the ticket's outbox it wrote."""
        self._ready[ticket_id] = outbox
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled."""
        background = [
            asyncio.create_task(self._watch_connection()),
            asyncio.create_task(
                every(600, self._ledger.purge_acks, "outbox ack purge", log, start_after=600)
            ),
        ]
        next_sweep = 0.0
        # Before any change of this process prunes an outbox by it (a first sweep may wait).
        with contextlib.suppress(Exception):
            await self._ledger.load_watermark()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._retry_every):
                        await self._wake.wait()
                self._wake.clear()
                if time.monotonic() >= next_sweep:
                    started = time.monotonic()
                    found = await self._sweep(self._sweep_grace, raise_watermark=True)
                    # A slow store (FerretDB scans) must not be kept busy by the safety net.
                    spent = time.monotonic() - started
                    _log_sweep(found, spent)
                    next_sweep = time.monotonic() + max(self._sweep_every, spent / SWEEP_DUTY)
                self._requeue_retries()  # after a sweep: what it read is at least as recent
                self._dispatch()
        finally:
            writer = [self._ack_writer] if self._ack_writer is not None else []
            # Unconfirmed events stay in the outbox for the next process.
            await cancel_and_wait([*background, *self._workers, *writer])

    async def drain(self) -> None:
        """Publish everything pending now, however recent (used at shutdown and by tests)."""
        await self._sweep(timedelta(0), raise_watermark=False)
        self._requeue_retries()
        await self.flush()

    async def flush(self) -> None:
        """Publish, and acknowledge, everything notified so far."""
        while self._ready or self._workers or self._unacked or self._ack_writer is not None:
            self._dispatch()
            await asyncio.sleep(0.002)

    def _requeue_retries(self) -> None:
        """After a sweep: what it read from the store is at least as recent as a retry."""
        for ticket_id, outbox in self._retry.items():
            if ticket_id not in self._ready:
                self._ready[ticket_id] = outbox
                self._recheck.add(ticket_id)
        self._retry.clear()

    def _dispatch(self) -> None:
        """Start workers, up to `concurrency`, for the tickets waiting. Counting what waits
        would cost a pass over a backlog at every wake-up; a worker that finds nothing ends."""
        for _ in range(min(len(self._ready), self._concurrency - len(self._workers))):
            worker = asyncio.create_task(self._work())
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        """Relay one ticket at a time until none is waiting (a ticket is never in two)."""
        while (ticket_id := self._next_waiting()) is not None:
            outbox = self._ready.pop(ticket_id)
            self._in_flight.add(ticket_id)
            try:
                if await self._still_there(ticket_id, outbox):
                    self._acknowledge(await self._publish_in_order(ticket_id, outbox))
            finally:
                self._in_flight.discard(ticket_id)

    async def _still_there(self, ticket_id: str, outbox: Outbox) -> bool:
        """Before a retry from memory: an erased ticket's events are never published."""
        if ticket_id not in self._recheck:
            return True
        self._recheck.discard(ticket_id)
        try:
            return await self._ledger.ticket_exists(ticket_id)
        except Exception:  # unknown for now: retried (and checked) again later
            self._retry.setdefault(ticket_id, outbox)
            return False

    def _next_waiting(self) -> str | None:
        return next((t for t in self._ready if t not in self._in_flight), None)

    async def _publish_in_order(self, ticket_id: str, outbox: Outbox) -> Outbox:
        """Publish the events in order, up to the first failure; those RabbitMQ confirmed."""
        confirmed: Outbox = []
        try:
            for entry in outbox:
                if self._ledger.published_here(entry):
                    continue  # a sweep's copy of what the fast path already sent
                await self._publisher.publish(entry)
                confirmed.append(entry)
                self.published_count += 1
        except Exception as error:
            self.failed_count += 1
            # Retried from memory every `retry_every` (at once on reconnect): a down broker is
            # not hammered.
            self._retry[ticket_id] = outbox  # the latest outbox holds every older pending event
            # The type only for other errors: their text may quote the event.
            why = str(error) if isinstance(error, UnroutableEvent) else type(error).__name__
            log.warning("relay of ticket %s paused: %s", ticket_id, why)
        return confirmed

    def _acknowledge(self, confirmed: Outbox) -> None:
        """Known at once as published here; their acks written every ACK_LINGER_SECONDS, in one
        insert (they only matter to other replicas and to later sweeps)."""
        if not confirmed:
            return
        self._ledger.remember(confirmed)
        self._unacked.extend(confirmed)
        if self._ack_writer is None:
            self._ack_writer = asyncio.create_task(self._write_acks())

    async def _write_acks(self) -> None:
        try:
            while self._unacked:
                await asyncio.sleep(ACK_LINGER_SECONDS)
                events, self._unacked = self._unacked, []
                try:
                    await self._ledger.record(events)
                except Exception:  # published all the same; without acks a sweep may resend
                    log.warning("acks of %d published events not recorded", len(events))
        finally:
            self._ack_writer = None

    async def _sweep(self, grace: timedelta, *, raise_watermark: bool) -> int:
        """Queue what the tickets changed before `now - grace` still have to publish: one page
        above the watermark, then raise it; or (for `drain`) all of it, leaving it alone. The
        number of tickets found with unpublished events."""
        cutoff = self._clock() - grace
        try:
            floor = await self._ledger.load_watermark()
            if not raise_watermark:
                return (await self._sweep_page(floor, cutoff, limit=0)).found
            swept = await self._sweep_page(floor, cutoff, limit=SWEEP_PAGE)
            await self._ledger.raise_watermark(swept.watermark(cutoff))
            return swept.found
        except Exception:
            log.warning("outbox sweep could not read MongoDB; will retry")
            return 0

    async def _sweep_page(self, floor: datetime, cutoff: datetime, *, limit: int) -> SweptPage:
        """The oldest tickets changed in (floor, cutoff] (`limit` 0: all), queueing their
        unpublished events."""
        page = await self._ledger.pending_page(floor, cutoff, limit=limit)
        pending = await self._ledger.unpublished_of({p.ticket_id: p.entries for p in page})
        swept = SweptPage(page)
        for outbox in page:
            if unpublished := pending[outbox.ticket_id]:
                self._ready.setdefault(outbox.ticket_id, unpublished)
                swept.first_unpublished = swept.first_unpublished or outbox.outbox_at
                swept.found += 1
        return swept

    def backlog(self) -> tuple[int, datetime | None]:
        """The events this process knows are waiting to be published (notified, or to retry),
        and when the oldest of them occurred."""
        waiting = [
            entry.event.occurred_at
            for outbox in (*self._ready.values(), *self._retry.values())
            for entry in outbox
            if not self._ledger.published_here(entry)
        ]
        return len(waiting), min(waiting, default=None)

    async def _watch_connection(self) -> None:
        """Keep `broker_connected` current (the composition root connects the broker, and the
        connection reconnects by itself); retry at once when it comes back."""
        while True:
            was_connected = self.broker_connected
            self.broker_connected = await self._publisher.ping()
            if self.broker_connected and not was_connected:
                self._requeue_retries()
                self._wake.set()
            await asyncio.sleep(1.0)


def _log_sweep(found: int, seconds: float) -> None:
    """Quiet when the safety net found nothing and was quick, as it should be."""
    level = logging.INFO if found or seconds > 1.0 else logging.DEBUG
    log.log(level, "outbox sweep: %d tickets had unpublished events (%.3f s)", found, seconds)
