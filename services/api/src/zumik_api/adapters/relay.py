"""The outbox relay: moves the events stored in ticket documents onto RabbitMQ.

Fast path: a write that recorded events hands the ticket's outbox to `notify()`, and the relay
publishes it at once, without reading anything back. A ticket's events go out in order, one at
a time; up to `concurrency` tickets proceed at once. Once RabbitMQ confirmed an event, the
relay records its ack (`OutboxLedger`: one insert every few milliseconds for all that were
confirmed meanwhile); it never rewrites the ticket.

A publish that failed is retried from memory. A returned (unroutable) event is a problem of its
ticket: it is retried every `retry_every`. Any other failure means RabbitMQ is unreachable (the
connection fails over between the nodes of a cluster by itself): the relay pauses. While paused
it attempts no publish at all: commits keep handing their events over and they are held (they
are in the tickets' outboxes anyway), with one log line when the pause begins and one, with the
counts, when it ends. It resumes once the connection is back with its channels restored, and a
pause that follows the previous one closely waits a little longer each time (up to `MAX_HOLD`).
A commit's fast path only ever publishes its own ticket; held and failed tickets are retried on
the relay's own schedule, never because another ticket was committed.

Safety net: at start, then at most once every `sweep_every`, a sweep walks up `outbox_at` from the
published-through watermark, oldest first, over tickets changed more than `sweep_grace` ago. It
publishes whatever has no ack (this or another replica crashed before publishing), and raises
the watermark to just below the first ticket it still had to publish. It reads minute by minute
(`outbox_minute`), which the local store serves from an index, and at most a day of them per
sweep; tickets written before that field existed are read once, first. `sweep_grace` must exceed
the longest write plus the clock skew between replicas: a write that commits later than that
after its clock reading could be passed by the watermark. The sweep runs beside the fast path:
a commit's events never wait for it. Delivery is at-least-once; consumers drop duplicates by
event id.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from zumik_contracts.events import OutboxEntry
from zumik_store.clock import Clock
from zumik_store.lifecycle import cancel_and_wait, every
from zumik_tickets.outbox import TICK, OutboxLedger, PendingOutbox

from zumik_api.adapters.events import UnroutableEvent

log = logging.getLogger("zumik_api.relay")

SWEEP_PAGE = 1000
# Acks are background writes: waiting briefly gathers more of them into each insert.
ACK_LINGER_SECONDS = 0.02
# The most of its time the relay spends sweeping. The fast path carries normal traffic, and a
# failed publish is retried from memory every `retry_every`; the sweep only recovers what a
# crash left. On FerretDB a sweep over the whole range scans the whole collection (a process's
# first), and one every few seconds was the end-to-end p99 at 100 tickets/s (144 ms without,
# 685 ms with, measured); minute by minute it reads only the tickets changed meanwhile.
SWEEP_DUTY = 0.05
# How often the connection is checked while it is up, and while the relay is paused.
WATCH_EVERY = 1.0
WATCH_PAUSED_EVERY = 0.1
# A pause that begins within REPEAT_WINDOW of the previous resume holds the relay back for at
# least MIN_HOLD, doubling each time up to MAX_HOLD: a broker that takes the connection but fails
# every publish is not hammered either.
REPEAT_WINDOW = 10.0
MIN_HOLD = 0.5
MAX_HOLD = 15.0
# Every pause lasts this long at least: the publish that failed may have seen the connection
# drop before the connection itself noticed (and the watcher would find it "up" still).
MIN_PAUSE = 0.25


Outbox = list[OutboxEntry]


@dataclass
class SweptPage:
    page: list[PendingOutbox]
    through: datetime  # every ticket changed up to this time was read (if the page is not full)
    first_unpublished: datetime | None = None  # the oldest `outbox_at` of a ticket with any
    found: int = 0  # tickets with unpublished events

    def watermark(self) -> datetime:
        """How far this page of the sweep vouches that every outbox is published."""
        if self.first_unpublished is not None:
            return self.first_unpublished - TICK
        if len(self.page) < SWEEP_PAGE:
            return self.through
        return self.page[-1].outbox_at - TICK  # its equals may be on the next page


@dataclass
class Outage:
    """A pause of the relay: RabbitMQ unreachable since `started` (monotonic seconds)."""

    started: float
    cause: str
    resume_at: float  # not before, even if the connection is back earlier
    initial: bool = False  # not connected yet since the process started
    failures: int = 0  # publishes that failed while it lasted


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
        self._check_connection = asyncio.Event()  # a pause began: look at the connection now
        self._outage: Outage | None = None
        self._resumed_at = -REPEAT_WINDOW
        self._hold = 0.0
        self._next_retry = 0.0
        self._next_sweep = 0.0
        self._swept = False  # a sweep queued what it found: requeue the retries after it
        # Tickets written before `outbox_minute` existed are read by every sweep until one finds
        # nothing of theirs left to publish.
        self._legacy_done = False
        # Tickets with events still to publish here, and since when (monotonic seconds).
        self._pending_since: dict[str, float] = {}
        self.broker_connected = False
        # Counters for health and metrics.
        self.published_count = 0
        self.publish_failures = 0
        self.outages = 0  # pauses since the process started, the wait for a first connection aside
        self.last_outage_seconds: float | None = None

    def notify(self, ticket_id: str, outbox: Outbox) -> None:
        """A write to `ticket_id` recorded events; `outbox` is the ticket's outbox it wrote."""
        self._ready[ticket_id] = outbox
        self._pending_since.setdefault(ticket_id, time.monotonic())
        self._wake.set()

    @property
    def paused(self) -> bool:
        """Whether the relay holds every event back because RabbitMQ is unreachable."""
        return self._outage is not None

    def paused_for(self) -> float:
        """Seconds since the current pause began (0 when not paused)."""
        return 0.0 if self._outage is None else time.monotonic() - self._outage.started

    @property
    def pending_tickets(self) -> int:
        """Tickets with events this process still has to publish (held, failed, in flight)."""
        return len(self._pending_since)

    def oldest_pending_seconds(self) -> float:
        """How long the oldest of them has been waiting here (0 when none is)."""
        oldest = min(self._pending_since.values(), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    async def run(self) -> None:
        """Relay until cancelled."""
        if not self.broker_connected and self._outage is None:
            # Held until the composition root's broker link is up (no "connect() first" errors).
            now = time.monotonic()
            self._outage = Outage(now, "not connected yet", resume_at=now, initial=True)
        background = [
            asyncio.create_task(self._watch_connection()),
            asyncio.create_task(
                every(600, self._ledger.purge_acks, "outbox ack purge", log, start_after=600)
            ),
        ]
        sweeping: asyncio.Task[None] | None = None
        # Before any change of this process prunes an outbox by it (a first sweep may wait).
        with contextlib.suppress(Exception):
            await self._ledger.load_watermark()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._retry_every):
                        await self._wake.wait()
                self._wake.clear()
                # Beside the fast path, not in its way: a sweep takes seconds on FerretDB.
                if (sweeping is None or sweeping.done()) and time.monotonic() >= self._next_sweep:
                    sweeping = asyncio.create_task(self._safety_net())
                # Retries on their own schedule (and after a sweep: what it read is at least as
                # recent), never because a commit woke the relay up.
                if self._swept or time.monotonic() >= self._next_retry:
                    self._swept = False
                    self._requeue_retries()
                self._dispatch()
        finally:
            writer = [self._ack_writer] if self._ack_writer is not None else []
            sweeps = [sweeping] if sweeping is not None else []
            # Unconfirmed events stay in the outbox for the next process.
            await cancel_and_wait([*background, *sweeps, *self._workers, *writer])

    async def _safety_net(self) -> None:
        """One sweep of the safety net, then when the next may start."""
        started = time.monotonic()
        found = await self._sweep(self._sweep_grace, raise_watermark=True)
        # A slow store (FerretDB scans) must not be kept busy by the safety net.
        spent = time.monotonic() - started
        _log_sweep(found, spent)
        self._next_sweep = time.monotonic() + max(self._sweep_every, spent / SWEEP_DUTY)
        self._swept = True
        self._wake.set()

    async def drain(self) -> None:
        """Publish everything pending now, however recent (used at shutdown and by tests); a
        pause is lifted for it (the first failure pauses the relay again)."""
        self._outage = None
        await self._sweep(timedelta(0), raise_watermark=False)
        self._requeue_retries()
        await self.flush()

    async def flush(self) -> None:
        """Publish, and acknowledge, everything notified so far (or until the relay pauses)."""
        while (
            (self._ready and self._outage is None)
            or self._workers
            or self._unacked
            or self._ack_writer is not None
        ):
            self._dispatch()
            await asyncio.sleep(0.002)

    def _requeue_retries(self) -> None:
        """After a sweep: what it read from the store is at least as recent as a retry."""
        self._next_retry = time.monotonic() + self._retry_every
        for ticket_id, outbox in self._retry.items():
            if ticket_id not in self._ready:
                self._ready[ticket_id] = outbox
                self._recheck.add(ticket_id)
        self._retry.clear()

    def _dispatch(self) -> None:
        """Start workers, up to `concurrency`, for the tickets waiting. Counting what waits
        would cost a pass over a backlog at every wake-up; a worker that finds nothing ends.
        Nothing starts while the relay is paused."""
        if self._outage is not None:
            return
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
                if ticket_id not in self._ready and ticket_id not in self._retry:
                    self._pending_since.pop(ticket_id, None)  # published, or erased

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
        if self._outage is not None:
            return None  # paused: the workers stop taking tickets
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
        except (Exception, asyncio.CancelledError) as error:
            # aiormq fails the publishes of a connection it drops (missed heartbeats) with
            # CancelledError: a failure like any other, unless this task is being cancelled.
            if isinstance(error, asyncio.CancelledError) and _being_cancelled():
                raise
            self._retry[ticket_id] = outbox  # the latest outbox holds every older pending event
            self.publish_failures += 1
            if isinstance(error, UnroutableEvent):
                # This ticket's problem: retried every `retry_every`.
                log.warning("relay of ticket %s paused: %s", ticket_id, error)
            elif self._outage is None:
                # The type only: the text of other errors may quote the event.
                self._pause(type(error).__name__, failures=1)
            else:
                self._outage.failures += 1
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
            legacy = await self._sweep_legacy(floor)
            if not raise_watermark:
                found = legacy.found
                while True:
                    swept = await self._sweep_page(floor, cutoff, limit=0)
                    found += swept.found
                    if swept.through >= cutoff:
                        return found
                    floor = swept.through
            swept = await self._sweep_page(floor, cutoff, limit=SWEEP_PAGE)
            await self._ledger.raise_watermark(min(swept.watermark(), legacy.watermark()))
            return legacy.found + swept.found
        except Exception:
            log.warning("outbox sweep could not read MongoDB; will retry")
            return 0

    async def _sweep_legacy(self, floor: datetime) -> SweptPage:
        """Until one pass finds nothing left to publish (then never again on this store, as
        `outbox_state` says): queue the unpublished events of tickets written before
        `outbox_minute` existed, which the sweeps by the minute do not see; the watermark stays
        below the oldest of them meanwhile."""
        swept = SweptPage([], through=datetime.max.replace(tzinfo=UTC))
        if self._legacy_done or await self._ledger.legacy_read():
            self._legacy_done = True
            return swept
        after: str | None = None
        while True:
            page = await self._ledger.legacy_page(floor, after, limit=SWEEP_PAGE)
            swept.found += await self._queue_unpublished(page, swept)
            if len(page) < SWEEP_PAGE:
                break
            after = page[-1].ticket_id
        if swept.found == 0:
            await self._ledger.mark_legacy_read()
            self._legacy_done = True
        return swept

    async def _sweep_page(self, floor: datetime, cutoff: datetime, *, limit: int) -> SweptPage:
        """The oldest tickets changed in (floor, cutoff] (`limit` 0: all of a day at most),
        queueing their unpublished events."""
        page, through = await self._ledger.pending_page(floor, cutoff, limit=limit)
        swept = SweptPage(page, through)
        swept.found = await self._queue_unpublished(page, swept)
        return swept

    async def _queue_unpublished(self, page: list[PendingOutbox], swept: SweptPage) -> int:
        """Queue what the outboxes of `page` still have to publish; how many tickets had any.
        `swept` learns the oldest such ticket's `outbox_at`."""
        pending = await self._ledger.unpublished_of({p.ticket_id: p.entries for p in page})
        found = 0
        for outbox in page:
            if unpublished := pending[outbox.ticket_id]:
                self._ready.setdefault(outbox.ticket_id, unpublished)
                age = max(0.0, (self._clock() - outbox.outbox_at).total_seconds())
                self._pending_since.setdefault(outbox.ticket_id, time.monotonic() - age)
                oldest = swept.first_unpublished
                swept.first_unpublished = min(oldest or outbox.outbox_at, outbox.outbox_at)
                found += 1
        return found

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
        connection reconnects, on another node if need be, by itself): pause when it is lost,
        resume as soon as it is back (`ping` waits up to a second for that)."""
        while True:
            self.broker_connected = await self._publisher.ping()
            if self.broker_connected:
                if self._outage is not None and time.monotonic() >= self._outage.resume_at:
                    self._resume()
            elif self._outage is None:
                self._pause("connection lost")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WATCH_PAUSED_EVERY if self._outage else WATCH_EVERY):
                    await self._check_connection.wait()
            self._check_connection.clear()

    def _pause(self, cause: str, *, failures: int = 0) -> None:
        """RabbitMQ is unreachable: hold every event until `_watch_connection` sees it back."""
        now = time.monotonic()
        if now - self._resumed_at < REPEAT_WINDOW:
            self._hold = min(max(MIN_HOLD, self._hold * 2), MAX_HOLD)
        else:
            self._hold = 0.0
        resume_at = now + max(self._hold, MIN_PAUSE)
        self._outage = Outage(now, cause, resume_at=resume_at, failures=failures)
        self.outages += 1
        self.broker_connected = False
        self._check_connection.set()
        log.warning(
            "relay paused: RabbitMQ unreachable (%s); events are held in their tickets' "
            "outboxes until it is back%s",
            cause,
            f" (paused again soon after the last one: for {self._hold:g} s at least)"
            if self._hold
            else "",
        )

    def _resume(self) -> None:
        outage, self._outage = self._outage, None
        if outage is None:
            return
        held = self.pending_tickets
        self._requeue_retries()
        self._wake.set()
        if outage.initial:
            level = logging.INFO if held else logging.DEBUG
            log.log(level, "relay running: RabbitMQ connected; %d tickets' events waiting", held)
            return
        self._resumed_at = time.monotonic()
        lasted = self._resumed_at - outage.started
        self.last_outage_seconds = lasted
        log.warning(
            "relay resumed: RabbitMQ reachable again after %.1f s; %d tickets' events held, "
            "%d publishes failed (%s)",
            lasted,
            held,
            outage.failures,
            outage.cause,
        )


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _log_sweep(found: int, seconds: float) -> None:
    """Quiet when the safety net found nothing and was quick, as it should be."""
    level = logging.INFO if found or seconds > 1.0 else logging.DEBUG
    log.log(level, "outbox sweep: %d tickets had unpublished events (%.3f s)", found, seconds)
