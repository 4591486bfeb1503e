"""Issue 3: ticket events. The outbox relay's publish throughput against raw aio-pika confirmed
publishes to the same broker, and the end-to-end latency from `POST /v2/support/tickets`
returning to the ops webhook receiving the event, at a steady 100 tickets/s.

Everything runs on a throw-away RabbitMQ vhost, with a quorum queue bound to `zumik.support`
with `#` (as an ops queue would be), so the relay's `mandatory` publishes route.
"""

import asyncio
import base64
import contextlib
import importlib.util
import json
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aio_pika
import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.events import EventPublisher
from zumik_api.adapters.relay import OutboxRelay
from zumik_contracts import ids
from zumik_contracts.events import SCHEMA_VERSION, SCHEMA_VERSION_HEADER, OutboxEntry
from zumik_messaging.broker import confirming_broker
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_tickets.documents import outbox_entry
from zumik_tickets.outbox import OutboxLedger

from benchmarks.api import create_request
from benchmarks.broker import connection, sink_queue, support_exchange
from benchmarks.common import (
    ServiceFailed,
    Services,
    api_server,
    bench_database,
    bench_vhost,
    log_tail,
    service_process,
    wait_until,
)
from benchmarks.load import run_driver
from benchmarks.rawhttp import RawHttpClient
from benchmarks.report import Section
from benchmarks.seed import SeedProject, create_project, insert_all, project_tickets
from benchmarks.stats import LoadResult, fmt, fmt_ratio, median_run, percentile, ratio
from tests.webhooks import WebhookReceiver, wait_for_webhooks, webhook_receiver

log = logging.getLogger("benchmarks")

RELAY_TICKETS = 5000
RELAY_CONCURRENCY = 32  # OutboxRelay's default number of tickets in flight
RELAY_TIMEOUT = 60.0
RAW_SECONDS = 5.0
NOTIFIER_QUEUE = "zumik.bench.notifier"
E2E_LOW_RATE = 10.0
E2E_LOW_SECONDS = 10.0
E2E_RATE = 100.0
E2E_SECONDS = 12.0
E2E_SETTLE = 30.0
E2E_P99_TARGET_MS = 250.0
RELAY_RATIO_TARGET = 0.5
RELAY_ROUNDS = 3
ACK_BATCH = 64


# -- relay throughput -------------------------------------------------------------------------


@dataclass(frozen=True)
class RelayRun:
    path: str
    events: int
    seconds: float
    acknowledged: int
    sample_event: dict[str, Any]

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


async def seed_outbox(db: AsyncDatabase[Document]) -> list[Document]:
    """RELAY_TICKETS new tickets, each with its `ticket.created` event still in the outbox."""
    project = SeedProject(ids.new_id(ids.PROJECT), "enterprise")
    rng = random.Random(5)
    docs = list(project_tickets(project, RELAY_TICKETS, utc_now(), rng, published=False))
    await insert_all(db.tickets, docs)
    return docs


def stored_outbox(doc: Document) -> list[OutboxEntry]:
    """A seeded ticket's outbox as the API holds it after its write (typed entries)."""
    return [outbox_entry(entry) for entry in doc["outbox"]]


def message_of(doc: Document) -> dict[str, Any]:
    """The message body the relay publishes for the ticket's first outbox entry: its event."""
    event: dict[str, Any] = doc["outbox"][0]["event"]
    return event


async def timed(run: Callable[[], Awaitable[None]], within_s: float) -> float:
    """How long `run` takes (or `within_s`, when it takes longer: the rate is then taken over
    what it published)."""
    started = time.monotonic()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            await run()
    return time.monotonic() - started


async def relay_throughput(services: Services, amqp_url: str, path: str) -> RelayRun:
    """Time the relay over RELAY_TICKETS seeded outboxes, with the API's real publisher.

    "fast path": each ticket is handed to `notify()` as the API does after its write, and
    `flush()` returns once every event is published and its ack written. "sweep": `drain()`
    first finds the outboxes with a sweep (a crash's backlog), then does the same."""
    log.info("timing the outbox relay (%s) over %d pending events", path, RELAY_TICKETS)
    async with bench_database(services, f"relay_{path.replace(' ', '_')}") as bench:
        docs = await seed_outbox(bench.db)
        # The outboxes as the API's writes hand them over (built before the clock starts).
        outboxes = [(str(doc["_id"]), stored_outbox(doc)) for doc in docs]
        # As the API's composition root builds them.
        publisher = EventPublisher(confirming_broker(amqp_url, logger=None))
        relay = OutboxRelay(publisher, OutboxLedger(bench.db), utc_now)
        await publisher.connect()
        try:
            if path == "fast path":

                async def notify_all() -> None:
                    for ticket_id, outbox in outboxes:
                        relay.notify(ticket_id, outbox)
                    await relay.flush()

                elapsed = await timed(notify_all, RELAY_TIMEOUT)
            else:
                elapsed = await timed(relay.drain, RELAY_TIMEOUT)
        finally:
            await publisher.close()
        acknowledged = await bench.db.outbox_acks.count_documents({})
    return RelayRun(path, relay.published_count, elapsed, acknowledged, message_of(docs[0]))


async def relay_store_work(services: Services) -> LoadResult:
    """What the relay writes per event, without publishing: its ack, in inserts of
    ACK_BATCH acks (about what the relay gathers in its linger at these rates)."""
    async with bench_database(services, "relay_store") as bench:
        events = [stored_outbox(doc)[0] for doc in await seed_outbox(bench.db)]
        ledger = OutboxLedger(bench.db)
        batches = [events[i : i + ACK_BATCH] for i in range(0, len(events), ACK_BATCH)]

        async def acknowledge(index: int) -> None:
            await ledger.record(batches[index])

        result = await run_driver(
            f"the relay's store work alone (acks, {ACK_BATCH} per insert)",
            acknowledge,
            concurrency=1,
            seconds=RELAY_TIMEOUT,
            max_ops=len(batches),
        )
    return replace(result, requests=len(events))  # events/s; p50/p99 are per insert


async def raw_publishes(amqp_url: str, event: dict[str, Any], in_flight: int) -> LoadResult:
    """aio-pika publishes of the relay's message (same bytes, properties, exchange and key),
    persistent and mandatory, each awaiting its publisher confirm; `in_flight` at a time."""
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {SCHEMA_VERSION_HEADER: event.get("schema_version", SCHEMA_VERSION)}
    async with connection(amqp_url) as conn:
        channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await support_exchange(channel)

        async def publish(_: int) -> None:
            message = aio_pika.Message(
                body,
                message_id=ids.new_id(ids.EVENT),
                content_type="application/json",
                headers=headers,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await exchange.publish(message, routing_key=event["type"], mandatory=True)

        return await run_driver(
            f"raw aio-pika, {in_flight} in flight",
            publish,
            concurrency=in_flight,
            seconds=RAW_SECONDS,
        )


# -- end-to-end latency -----------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    ticket_id: str | None
    returned_at: float
    seconds: float


@dataclass(frozen=True)
class EndToEnd:
    rate: float
    sent: int
    send_seconds: float
    created: list[Created]
    arrivals: dict[str, float]
    duplicates: int

    @property
    def latencies_ms(self) -> list[float]:
        return [
            max(0.0, self.arrivals[c.ticket_id] - c.returned_at) * 1000
            for c in self.created
            if c.ticket_id is not None and c.ticket_id in self.arrivals
        ]

    @property
    def ok(self) -> list[Created]:
        return [c for c in self.created if c.ticket_id is not None]


async def post_ticket(client: RawHttpClient, body: bytes, headers: dict[str, str]) -> Created:
    started = time.monotonic()
    try:
        async with asyncio.timeout(30.0):
            response = await client.post("/v2/support/tickets", body, headers)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        return Created(None, time.monotonic(), time.monotonic() - started)
    returned = time.monotonic()
    ticket_id = json.loads(response.body).get("id") if response.status == 201 else None
    return Created(ticket_id, returned, returned - started)


async def steady_creates(
    base_url: str, project: SeedProject, rate: float, seconds: float
) -> tuple[list[Created], float]:
    """Open-loop load: a POST is started every 1/rate s whatever the earlier ones are doing."""
    request = create_request(project)
    assert request.body is not None
    url = httpx.URL(base_url)
    client = RawHttpClient(url.host, url.port or 80)
    try:
        tasks: list[asyncio.Task[Created]] = []
        started = time.monotonic()
        body = request.body.encode()
        for i in range(round(rate * seconds)):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(post_ticket(client, body, request.headers)))
        send_seconds = time.monotonic() - started
        return list(await asyncio.gather(*tasks)), send_seconds
    finally:
        await client.close()


def notifier_env(mongodb_url: str, amqp_url: str, webhook_url: str) -> dict[str, str]:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "MONGODB_URL": mongodb_url,
        "AMQP_URL": amqp_url,
        "OPS_WEBHOOK_URL": webhook_url,
        "OPS_WEBHOOK_SECRET": secret,
        "NOTIFIER_QUEUE_PREFIX": NOTIFIER_QUEUE,
    }


async def notifier_consuming(amqp_url: str) -> bool:
    """Whether the notifier's events queue exists and has a consumer (it is then bound too:
    the notifier declares its whole topology before it consumes)."""
    async with connection(amqp_url) as conn:
        channel = await conn.channel()
        try:
            queue = await channel.declare_queue(NOTIFIER_QUEUE, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return False
        return bool(queue.declaration_result.consumer_count)


async def warm_up(base_url: str, project: SeedProject, receiver: WebhookReceiver) -> None:
    """A few tickets through the whole path, so the notifier is known to be consuming."""
    created, _ = await steady_creates(base_url, project, rate=5.0, seconds=1.0)
    wanted = {c.ticket_id for c in created if c.ticket_id is not None}
    await wait_for_webhooks(receiver, wanted, within=90.0)
    if not wanted or not wanted <= receiver.first_arrivals().keys():
        raise ServiceFailed("no webhook arrived for the warm-up tickets")


async def measured_load(
    base_url: str, project: SeedProject, receiver: WebhookReceiver, rate: float, seconds: float
) -> EndToEnd:
    """Tickets at `rate` for `seconds`, then a bounded wait for their webhooks."""
    log.info("end to end at %.0f tickets/s for %.0f s", rate, seconds)
    redeliveries = receiver.redeliveries()
    created, send_seconds = await steady_creates(base_url, project, rate, seconds)
    wanted = {c.ticket_id for c in created if c.ticket_id is not None}
    await wait_for_webhooks(receiver, wanted, E2E_SETTLE)
    return EndToEnd(
        rate,
        len(created),
        send_seconds,
        created,
        receiver.first_arrivals(),
        receiver.redeliveries() - redeliveries,
    )


async def end_to_end(services: Services, amqp_url: str) -> list[EndToEnd]:
    """The unloaded path first (a low rate, for context), then the target's rate."""
    async with bench_database(services, "e2e") as bench:
        project = await create_project(bench.db, "bench e2e", "enterprise")
        with webhook_receiver() as receiver:
            env = notifier_env(bench.url, amqp_url, receiver.url)
            async with (
                api_server(services, bench.url, amqp_url) as base_url,
                service_process(services, "notifier", "zumik-notifier", env) as notifier,
            ):
                try:
                    await wait_until(
                        lambda: notifier_consuming(amqp_url),
                        notifier,
                        what="notifier",
                        within_s=90,
                        log_dir=services.log_dir,
                    )
                    await warm_up(base_url, project, receiver)
                except ServiceFailed as error:
                    state = "exited" if notifier.returncode is not None else "running"
                    tail = log_tail(services.log_dir, "notifier")
                    raise ServiceFailed(f"{error} (notifier {state}):\n{tail}") from error
                return [
                    await measured_load(base_url, project, receiver, rate, seconds)
                    for rate, seconds in ((E2E_LOW_RATE, E2E_LOW_SECONDS), (E2E_RATE, E2E_SECONDS))
                ]


def notifier_available() -> bool:
    try:
        return importlib.util.find_spec("zumik_notifier.main") is not None
    except ModuleNotFoundError:
        return False


# -- the report -------------------------------------------------------------------------------


def report_relay(
    section: Section, relays: list[RelayRun], store_only: LoadResult, raw: list[LoadResult]
) -> None:
    matched = raw[-1]
    section.table(
        "Publishing ticket events (persistent, mandatory, confirmed) to the same broker",
        ["publisher", "events", "seconds", "events/s", "p50 ms", "p99 ms", "vs fast path"],
        [
            *[
                [
                    f"OutboxRelay, {r.path} ({RELAY_CONCURRENCY} tickets in flight)",
                    f"{r.events:,}",
                    fmt(r.seconds),
                    fmt(r.rate),
                    "-",
                    "-",
                    fmt_ratio(ratio(relays[0].rate, r.rate)),
                ]
                for r in relays
            ],
            *[
                [
                    r.label if r is not store_only else f"{r.label} (driver)",
                    f"{r.requests:,}",
                    fmt(r.seconds),
                    fmt(r.rate),
                    fmt(r.p50_ms, 2),
                    fmt(r.p99_ms, 2),
                    fmt_ratio(ratio(relays[0].rate, r.rate)),
                ]
                for r in (store_only, *raw)
            ],
        ],
    )
    fast = relays[0]
    share = ratio(fast.rate, matched.rate)
    complete = all(r.events == RELAY_TICKETS == r.acknowledged for r in relays)
    section.verdict(
        f"relay throughput >= {RELAY_RATIO_TARGET:.0%} of raw confirmed publishes",
        share >= RELAY_RATIO_TARGET and complete,
        f"{fmt(fast.rate)} events/s ({fast.path}) vs {fmt(matched.rate)} msg/s "
        f"({matched.concurrency} in flight, as the relay) = {share:.1%}",
    )
    size = len(json.dumps(fast.sample_event, separators=(",", ":")))
    acks = ", ".join(f"{r.path}: {r.acknowledged:,}" for r in relays)
    section.note(
        f"relay: {RELAY_TICKETS:,} tickets seeded with one pending `ticket.created` event each "
        f"(a {size}-byte message), published with the API's EventPublisher, each event then "
        "acknowledged in `outbox_acks` (one insert every 20 ms for all confirmed meanwhile); "
        "the time runs until every ack is written. The fast path is how the API "
        "relays a committed write (the outbox handed over in memory); the sweep is the "
        "recovery path after a crash or an outage, and reads the outboxes and looks up their "
        f"acks first. Acks written ({acks}) match the events published. The collection held "
        f"only these {RELAY_TICKETS:,} tickets."
    )


def e2e_row(run: EndToEnd) -> list[str]:
    latencies = run.latencies_ms
    post_ms = [c.seconds * 1000 for c in run.ok]
    return [
        f"{run.rate:.0f}",
        f"{run.sent:,}",
        fmt(run.sent / run.send_seconds),
        f"{len(run.ok):,}",
        f"{len(latencies):,}",
        f"{len(run.ok) - len(latencies):,}",
        f"{run.duplicates:,}",
        fmt(percentile(post_ms, 50)),
        fmt(percentile(post_ms, 99)),
        fmt(percentile(latencies, 50)),
        fmt(percentile(latencies, 99)),
    ]


def report_e2e(section: Section, runs: list[EndToEnd]) -> None:
    section.table(
        "End to end: POST returned -> ops webhook received (open-loop load)",
        [
            "target rate /s",
            "tickets sent",
            "achieved send rate /s",
            "201s",
            "webhooks",
            "missing",
            "duplicates",
            "POST p50 ms",
            "POST p99 ms",
            "e2e p50 ms",
            "e2e p99 ms",
        ],
        [e2e_row(run) for run in runs],
    )
    run = runs[-1]
    latencies = run.latencies_ms
    missing = len(run.ok) - len(latencies)
    p99 = percentile(latencies, 99) if not missing else float("inf")
    section.verdict(
        f"end-to-end p99 < {E2E_P99_TARGET_MS:.0f} ms at {E2E_RATE:.0f} tickets/s",
        p99 < E2E_P99_TARGET_MS and len(run.ok) == run.sent,
        f"p99 {fmt(percentile(latencies, 99))} ms, p50 {fmt(percentile(latencies, 50))} ms over "
        f"{len(latencies):,} webhooks; {missing} missing after {E2E_SETTLE:.0f} s, "
        f"{run.sent - len(run.ok)} POSTs failed",
    )
    section.note(
        f"end to end: the {E2E_LOW_RATE:.0f} tickets/s row is context (the path unloaded), the "
        f"target is the {E2E_RATE:.0f} tickets/s row. An achieved send rate below the target "
        "rate means the load generator itself was starved of CPU (API, store, broker, notifier "
        "and client share two cores), so POSTs went out late."
    )


def e2e_not_measured(section: Section, reason: str) -> None:
    section.verdict(
        f"end-to-end p99 < {E2E_P99_TARGET_MS:.0f} ms at {E2E_RATE:.0f} tickets/s", None, reason
    )


async def measure_e2e(services: Services, amqp_url: str, section: Section) -> None:
    if not notifier_available():
        e2e_not_measured(section, "the notifier (zumik_notifier.main) is not there yet")
        return
    try:
        runs = await end_to_end(services, amqp_url)
    except ServiceFailed as error:
        e2e_not_measured(section, f"the notifier path did not work: {str(error)[:600]}")
        return
    report_e2e(section, runs)


async def measure_relay(services: Services, amqp_url: str, section: Section) -> None:
    """The relay's fast path and raw publishes alternate RELAY_ROUNDS times (the machine's speed
    drifts within a run); each side's median run is the figure."""
    fast: list[RelayRun] = []
    matched: list[LoadResult] = []
    for _ in range(RELAY_ROUNDS):
        fast.append(await relay_throughput(services, amqp_url, "fast path"))
        matched.append(await raw_publishes(amqp_url, fast[-1].sample_event, RELAY_CONCURRENCY))
    relays = [
        sorted(fast, key=lambda r: r.rate)[(RELAY_ROUNDS - 1) // 2],
        await relay_throughput(services, amqp_url, "sweep"),
    ]
    store_only = await relay_store_work(services)
    raw = [await raw_publishes(amqp_url, relays[0].sample_event, 1), median_run(matched)]
    report_relay(section, relays, store_only, raw)
    section.note(
        f"relay: {RELAY_ROUNDS} rounds, each a fast-path run then raw publishes with "
        f"{RELAY_CONCURRENCY} in flight; the table shows each side's median run. Per round, "
        "relay events/s vs raw msg/s: "
        + "; ".join(f"{fmt(f.rate)} vs {fmt(m.rate)}" for f, m in zip(fast, matched, strict=True))
        + "."
    )


async def run(services: Services) -> Section:
    section = Section("events", "Ticket events and the notifier (issue 3)")
    async with bench_vhost(services) as amqp_url, sink_queue(amqp_url):
        await measure_relay(services, amqp_url, section)
        await measure_e2e(services, amqp_url, section)
    return section
