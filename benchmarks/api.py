"""Issue 2: the tickets API under wrk, beside the same store operation done with the driver;
issue 11: create and get with the rate limits on (quotas far above the load) against off.

Create runs in fresh databases (API and driver both start from an empty `tickets`); besides
the raw insert (the target's baseline), the driver also runs every store operation a create
causes, relay included, to show how much of the API's time is the store's. Get, reply and list
run in one database holding a 100-ticket project and a 10,000-ticket project, both loaded
before anything is measured: on FerretDB a query's cost may follow the collection's size, so
only this way does the list ratio isolate how the cost grows with a project's size. There the
driver runs too while the API server is up (its relay sweeping, as in production), and the
relay's backlog is drained between runs that write events.

Rate limits (issue 11): two API processes up side by side, one with its rate limits on
(`RATE_LIMIT_*` far above the load, as in every other run here) and one with
`RATE_LIMITS_ENABLED=false`; LIMIT_PAIRS pairs of wrk runs, one against each, alternating which
goes first. The two runs of a pair are seconds apart, so the machine's drift (a fifth or more
within minutes here) cancels in their ratio; the median pair's ratio is the figure. Create gives
each process a database of its own, empty at the start, and drains the relay's backlog after
each run; get shares the read database. Each process is asked first whether it sends the
`RateLimit` headers, so a switch that did not take is reported (NOT MEASURED), not measured.
"""

import json
import logging
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.credentials import hash_secret
from zumik_api.adapters.tickets import ticket_from
from zumik_contracts import ids
from zumik_contracts.events import OutboxEntry
from zumik_store.batching import InsertBatcher
from zumik_store.clock import utc_now
from zumik_store.lease import new_token
from zumik_store.mongo import Document
from zumik_tickets.documents import (
    SUMMARY_PROJECTION,
    message_document,
    outbox_entry,
    outbox_fields,
    state_fields,
    ticket_record,
)
from zumik_tickets.outbox import ack_document
from zumik_tickets.store import page_query

from benchmarks import docs
from benchmarks.broker import sink_queue
from benchmarks.common import (
    Services,
    api_server,
    bench_database,
    bench_vhost,
    wait_for_outbox,
)
from benchmarks.load import (
    Operation,
    WrkPlan,
    WrkRequest,
    run_driver,
    run_wrk,
    sized_plan,
    time_once,
)
from benchmarks.report import Section
from benchmarks.seed import (
    BODY,
    REPLY,
    SUBJECT,
    SeedProject,
    create_project,
    insert_all,
    open_ticket,
    project_tickets,
    stored,
)
from benchmarks.stats import LoadResult, fmt, fmt_ratio, median_run, ratio
from benchmarks.store import query_plan

log = logging.getLogger("benchmarks")

SMALL_PROJECT = 100
LARGE_PROJECT = 10_000
PAGE = 20
CONCURRENCY = 16
SECONDS = 6.0
READ_CONNECTIONS = 4
LIST_CONNECTIONS = 1
WRK = WrkPlan(seconds=SECONDS, threads=2, connections=CONCURRENCY, timeout_s=60.0)
CREATE_RATIO_TARGET = 0.5
LIST_RATIO_TARGET = 1.5
CREATE_ROUNDS = 3
# Pairs of runs, one with the rate limits on and one with them off, for create and for get.
LIMIT_PAIRS = 7
LIMITS_TARGET = 0.9  # throughput with the limits on, at least this share of without them

# The API figures of the run docs/benchmarks.md held before this code (commit 3ea5585, run
# 2026-11-27 03:33 UTC, load average 1.10 at its start): earlier code (before the rate limits,
# the fenced writes and FerretDB's pushdown build) on a quieter machine, so not a side-by-side
# figure; quoted so that this run's can be set beside them.
PREVIOUS_RUN = "2026-11-27 03:33 UTC"
PREVIOUS_API = {"create": (573.0, 42.0), "get": (898.2, 10.6), "reply": (112.9, 118.7)}


@dataclass(frozen=True)
class Comparison:
    operation: str
    api: LoadResult
    driver: LoadResult
    plan: WrkPlan

    @property
    def throughput_ratio(self) -> float:
        return ratio(self.api.rate, self.driver.rate)

    @property
    def p99_ratio(self) -> float:
        return ratio(self.api.p99_ms, self.driver.p99_ms)


@dataclass(frozen=True)
class Case:
    """One operation: the driver's version of it, the HTTP request wrk sends, and how long and
    how concurrently both run."""

    name: str
    driver: Operation
    request: WrkRequest
    plan: WrkPlan = WRK
    writes_events: bool = False


def auth(project: SeedProject, *, json_body: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {project.api_key}"}
    if json_body:
        headers["Content-Type"] = "application/json"
    return headers


# -- create -----------------------------------------------------------------------------------


def create_request(project: SeedProject) -> WrkRequest:
    body = {
        "subject": SUBJECT,
        "body": BODY,
        "priority": "high",
        "contact_email": "dev@example.com",
    }
    return WrkRequest(
        "POST", ["/v2/support/tickets"], auth(project, json_body=True), json.dumps(body)
    )


async def raw_inserts(db: AsyncDatabase[Document]) -> LoadResult:
    """insert_one of the document the API writes for a new ticket (outbox included)."""
    project = SeedProject(ids.new_id(ids.PROJECT), "enterprise")
    ticket = open_ticket(project, utc_now(), random.Random(1), created_ago=timedelta(0))
    template = stored(ticket, published=False)

    async def insert(_: int) -> None:
        await db.tickets.insert_one({**template, "_id": ids.new_id(ids.TICKET)})

    return await run_driver("create", insert, concurrency=CONCURRENCY, seconds=SECONDS)


async def create_store_work(db: AsyncDatabase[Document]) -> LoadResult:
    """Every store operation one create causes, in order, without HTTP or RabbitMQ, and with
    the same group commit as the API: the key and project lookups (uncached), the SLA timer and
    the ticket (the request), then the relay's ack of the published event (group-committed
    here too; the relay itself writes its acks every 20 ms)."""
    project = await create_project(db, "bench create", "enterprise")
    assert project.api_key is not None
    key_hash = hash_secret(project.api_key)
    ticket = open_ticket(project, utc_now(), random.Random(1), created_ago=timedelta(0))
    template = stored(ticket, published=False)
    created = outbox_entry(template["outbox"][0]).event
    timers, tickets = InsertBatcher(db.sla_timers), InsertBatcher(db.tickets)
    acks = InsertBatcher(db.outbox_acks)

    async def create(_: int) -> None:
        await db.api_keys.find_one({"_id": key_hash})
        await db.projects.find_one({"_id": project.id})
        ticket_id = ids.new_id(ids.TICKET)
        await timers.insert({"_id": ticket_id, "project_id": project.id, "check_at": utc_now()})
        await tickets.insert({**template, "_id": ticket_id})
        data = created.data.model_copy(update={"ticket_id": ticket_id})
        event = created.model_copy(update={"id": ids.new_id(ids.EVENT), "data": data})
        await acks.insert(ack_document(OutboxEntry(event=event)))

    return await run_driver(
        "create's whole store work", create, concurrency=CONCURRENCY, seconds=SECONDS
    )


async def create_once(
    services: Services, amqp_url: str
) -> tuple[LoadResult, LoadResult, int, float]:
    """One raw-insert run and one API run, each on an empty `tickets`; the API's backlog."""
    async with bench_database(services, "api_raw") as raw:
        driver = await raw_inserts(raw.db)
    async with bench_database(services, "api_create") as bench:
        project = await create_project(bench.db, "bench create", "enterprise")
        async with api_server(services, bench.url, amqp_url) as base_url:
            api = await run_wrk("create", base_url, create_request(project), WRK)
            started = time.monotonic()
            left = await wait_for_outbox(bench.db)
    return api, driver, left, time.monotonic() - started


async def measure_create(services: Services, amqp_url: str, section: Section) -> list[Comparison]:
    """The raw inserts and the API alternate CREATE_ROUNDS times (the machine's speed drifts
    within a run); each side's median run is the figure."""
    rounds = [await create_once(services, amqp_url) for _ in range(CREATE_ROUNDS)]
    api = median_run([r[0] for r in rounds])
    driver = median_run([r[1] for r in rounds])
    async with bench_database(services, "api_store") as raw:
        store_work = await create_store_work(raw.db)
    section.note(
        f"create: {CREATE_ROUNDS} rounds, each a raw-insert run then an API run, both on an "
        "empty `tickets`; the table shows each side's median run. Per round, API req/s vs raw "
        "inserts/s: "
        + "; ".join(f"{fmt(a.rate)} vs {fmt(d.rate)}" for a, d, _, _ in rounds)
        + ". The API group-commits concurrent creates (one `insert_many` per batch for the "
        "tickets, one for their SLA timers, one for the relay's acks) and reuses the key's "
        "project and plan for 1 s (its auth cache); the raw baseline is one `insert_one` per "
        "ticket, as the issue asks. After each API run the relay had every event published and "
        "acknowledged within "
        f"{max(r[3] for r in rounds):.1f} s ({sum(r[2] for r in rounds)} events left)."
    )
    return [
        Comparison("create", api, driver, WRK),
        Comparison("create vs its whole store work", api, store_work, WRK),
    ]


# -- rate limits on and off (issue 11) -------------------------------------------------------


@dataclass(frozen=True)
class ApiRun:
    """One API run: its figures, whether that API process sent the `RateLimit` headers, and
    the relay's backlog after it (what was left, and how long the wait took)."""

    result: LoadResult
    limited: bool
    left: int = 0
    drained_s: float = 0.0


@dataclass(frozen=True)
class LimitSide:
    """One of the two API processes: its rate limits on or off, what wrk sends it, a GET that
    tells whether it sends the `RateLimit` headers, and its database when its relay's backlog
    is to be drained after each run."""

    enabled: bool
    base_url: str
    request: WrkRequest
    probe: WrkRequest
    db: AsyncDatabase[Document] | None = None


@dataclass(frozen=True)
class LimitRuns:
    """One operation's API runs with the rate limits on and off, pair by pair."""

    operation: str
    plan: WrkPlan
    on: list[ApiRun]
    off: list[ApiRun]

    @staticmethod
    def median_rate(runs: Sequence[ApiRun]) -> float:
        return statistics.median(r.result.rate for r in runs)

    @property
    def paired(self) -> list[float]:
        """Each pair's throughput with the limits on over off (the two runs seconds apart)."""
        return [ratio(a.result.rate, b.result.rate) for a, b in zip(self.on, self.off, strict=True)]

    @property
    def ratio(self) -> float:
        """The median pair's ratio: the machine's drift cancels within a pair."""
        return statistics.median(self.paired)

    @property
    def switched(self) -> bool:
        """Every API with limits on sent the headers, and none with them off did."""
        return all(r.limited for r in self.on) and not any(r.limited for r in self.off)


def limits_order(pair: int) -> tuple[bool, bool]:
    """Which API goes first in a pair: limits on in even pairs, off in odd ones."""
    return (True, False) if pair % 2 == 0 else (False, True)


async def sends_rate_limit_headers(base_url: str, request: WrkRequest) -> bool:
    """Whether the API answers a GET of `request`'s first path with the `RateLimit` headers."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        response = await client.get(request.paths[0], headers=request.headers)
    return "RateLimit" in response.headers


async def alternate_limits(operation: str, plan: WrkPlan, sides: list[LimitSide]) -> LimitRuns:
    """LIMIT_PAIRS pairs of wrk runs, one against each side, in limits_order."""
    by_enabled = {side.enabled: side for side in sides}
    limited = {s.enabled: await sends_rate_limit_headers(s.base_url, s.probe) for s in sides}
    runs: dict[bool, list[ApiRun]] = {True: [], False: []}
    for pair in range(LIMIT_PAIRS):
        for enabled in limits_order(pair):
            side = by_enabled[enabled]
            label = f"{operation}, rate limits {'on' if enabled else 'off'}"
            result = await run_wrk(label, side.base_url, side.request, plan)
            started = time.monotonic()
            left = 0 if side.db is None else await wait_for_outbox(side.db)
            runs[enabled].append(ApiRun(result, limited[enabled], left, time.monotonic() - started))
    return LimitRuns(operation, plan, runs[True], runs[False])


def list_probe(project: SeedProject) -> WrkRequest:
    return WrkRequest("GET", ["/v2/support/tickets?limit=1"], auth(project))


async def create_limits(services: Services, amqp_url: str) -> LimitRuns:
    """Create against two API processes up side by side, one with its rate limits on and one
    with them off, each on a database of its own (empty at the start)."""
    async with (
        bench_database(services, "api_limits_on") as on_db,
        bench_database(services, "api_limits_off") as off_db,
    ):
        on_project = await create_project(on_db.db, "bench create", "enterprise")
        off_project = await create_project(off_db.db, "bench create", "enterprise")
        async with (
            api_server(services, on_db.url, amqp_url, name="api_limits_on") as on_url,
            api_server(
                services, off_db.url, amqp_url, rate_limits=False, name="api_limits_off"
            ) as off_url,
        ):
            sides = [
                LimitSide(
                    True, on_url, create_request(on_project), list_probe(on_project), on_db.db
                ),
                LimitSide(
                    False, off_url, create_request(off_project), list_probe(off_project), off_db.db
                ),
            ]
            return await alternate_limits("create", WRK, sides)


# -- get, reply, list -------------------------------------------------------------------------


async def seed_projects(db: AsyncDatabase[Document]) -> tuple[SeedProject, SeedProject, list[str]]:
    """The 10,000-ticket and the 100-ticket project, both loaded; the small one's ticket ids."""
    log.info("seeding projects of %s and %s tickets", LARGE_PROJECT, SMALL_PROJECT)
    rng = random.Random(2)
    now = utc_now()
    large = await create_project(db, "bench 10,000 tickets", "pilot")
    small = await create_project(db, "bench 100 tickets", "enterprise")
    await insert_all(db.tickets, project_tickets(large, LARGE_PROJECT, now, rng))
    small_docs = list(project_tickets(small, SMALL_PROJECT, now, rng))
    await insert_all(db.tickets, small_docs)
    return small, large, [str(doc["_id"]) for doc in small_docs]


def raw_get(db: AsyncDatabase[Document], ticket_ids: list[str]) -> Operation:
    rng = random.Random(3)

    async def get(_: int) -> None:
        await db.tickets.find_one({"_id": rng.choice(ticket_ids)})

    return get


def raw_reply(db: AsyncDatabase[Document], ticket_ids: list[str]) -> Operation:
    """The reply's read and its single-document update, as the tickets library writes it:
    fenced on the `fence` it read, setting its own (the outbox's earlier events published)."""
    rng = random.Random(4)

    async def reply(_: int) -> None:
        ticket_id = rng.choice(ticket_ids)
        doc = await db.tickets.find_one({"_id": ticket_id})
        assert doc is not None
        ticket = ticket_from(ticket_record(doc))
        message = ticket.reply("customer", REPLY, utc_now())
        new_events = [OutboxEntry(event=e) for e in ticket.new_events]
        update = {
            "$set": {
                **state_fields(ticket),
                **outbox_fields([], new_events),
                "fence": new_token(),
            },
            "$push": {"messages": {"$each": [message_document(message)]}},
        }
        await db.tickets.update_one({"_id": ticket_id, "fence": doc.get("fence")}, update)

    return reply


def raw_list(db: AsyncDatabase[Document], project_id: str) -> Operation:
    """The list's query (the tickets library's own filter): a page of 20 (plus one, for
    has_more), newest first."""
    query, order = page_query(project_id, None, None, "older")

    async def page(_: int) -> None:
        await (
            db.tickets.find(query, SUMMARY_PROJECTION)
            .sort("_id", order)
            .limit(PAGE + 1)
            .to_list(None)
        )

    return page


def read_cases(
    db: AsyncDatabase[Document],
    small: SeedProject,
    large: SeedProject,
    ticket_ids: list[str],
    plans: dict[str, WrkPlan],
) -> list[Case]:
    """get and reply on the small project's tickets; the list on each project, both with one
    plan (the slower list's), one request at a time: the target is about latency."""
    tickets = "/v2/support/tickets"
    return [
        Case(
            "get",
            raw_get(db, ticket_ids),
            WrkRequest("GET", [f"{tickets}/{t}" for t in ticket_ids], auth(small)),
            plans["get"],
        ),
        Case(
            "reply",
            raw_reply(db, ticket_ids),
            WrkRequest(
                "POST",
                [f"{tickets}/{t}/messages" for t in ticket_ids],
                auth(small, json_body=True),
                json.dumps({"body": REPLY}),
            ),
            plans["reply"],
            writes_events=True,
        ),
        Case(
            f"list (project of {SMALL_PROJECT})",
            raw_list(db, small.id),
            WrkRequest("GET", [f"{tickets}?limit={PAGE}"], auth(small)),
            plans["list"],
        ),
        Case(
            f"list (project of {LARGE_PROJECT:,})",
            raw_list(db, large.id),
            WrkRequest("GET", [f"{tickets}?limit={PAGE}"], auth(large)),
            plans["list"],
        ),
    ]


async def measure_case(case: Case, base_url: str, db: AsyncDatabase[Document]) -> Comparison:
    """The driver's run, then wrk's, each after the relay published what the previous wrote."""
    plan = case.plan
    driver = await run_driver(
        case.name, case.driver, concurrency=plan.connections, seconds=plan.seconds
    )
    if case.writes_events:
        await wait_for_outbox(db)
    api = await run_wrk(case.name, base_url, case.request, plan)
    if case.writes_events:
        await wait_for_outbox(db)
    return Comparison(case.name, api, driver, plan)


@dataclass(frozen=True)
class Alone:
    """What one operation costs with nothing else running: the basis of each run's plan."""

    get: float
    reply: float
    listing: float

    def plans(self) -> dict[str, WrkPlan]:
        return {
            "get": sized_plan(self.get, connections=READ_CONNECTIONS),
            "reply": sized_plan(self.reply, connections=READ_CONNECTIONS),
            "list": sized_plan(self.listing, connections=LIST_CONNECTIONS, samples=8, max_s=20),
        }


async def measure_reads(
    services: Services, amqp_url: str, section: Section
) -> tuple[list[Comparison], LimitRuns]:
    async with bench_database(services, "api") as bench:
        small, large, ticket_ids = await seed_projects(bench.db)
        alone = await calibrate(bench.db, small, large, ticket_ids, section)
        cases = read_cases(bench.db, small, large, ticket_ids, alone.plans())
        async with api_server(services, bench.url, amqp_url) as base_url:
            comparisons = [await measure_case(case, base_url, bench.db) for case in cases]
        get = next(case for case in cases if case.name == "get")
        return comparisons, await get_limits(services, amqp_url, bench.url, get)


async def get_limits(services: Services, amqp_url: str, url: str, get: Case) -> LimitRuns:
    """The get against two API processes up side by side on the same database, one with its
    rate limits on and one with them off."""
    async with (
        api_server(services, url, amqp_url, name="api_limits_on") as on_url,
        api_server(services, url, amqp_url, rate_limits=False, name="api_limits_off") as off_url,
    ):
        sides = [
            LimitSide(True, on_url, get.request, get.request),
            LimitSide(False, off_url, get.request, get.request),
        ]
        return await alternate_limits("get", get.plan, sides)


async def calibrate(
    db: AsyncDatabase[Document],
    small: SeedProject,
    large: SeedProject,
    ticket_ids: list[str],
    section: Section,
) -> Alone:
    """Time one get (median of 5), one reply and one list of each project alone, and note
    them with how the store runs these queries."""
    documents = SMALL_PROJECT + LARGE_PROJECT
    by_id = await query_plan(db, {"_id": ticket_ids[0]})
    fenced = await query_plan(db, {"_id": ticket_ids[0], "fence": ""})
    query, order = page_query(small.id, None, None, "older")
    listing = await query_plan(db, query, {"_id": order}, PAGE + 1)
    get = raw_get(db, ticket_ids)
    alone = Alone(
        get=statistics.median([await time_once(get) for _ in range(5)]),
        reply=await time_once(raw_reply(db, ticket_ids)),
        listing=max([await time_once(raw_list(db, p.id)) for p in (small, large)]),
    )
    section.note(
        f"get, reply and list ran on one `tickets` collection of {documents:,} documents (get "
        f"and reply on the {SMALL_PROJECT}-ticket project). The store's plans: get by `_id`: "
        f"{by_id}; the reply's update (by `_id` and `fence`): {fenced}; list: {listing}. "
        f"Alone, one get took {alone.get * 1000:.1f} ms "
        f"({alone.get / documents * 1e6:.1f} us per document in the collection), one reply's "
        f"read and update {alone.reply * 1000:.0f} ms, and one list {alone.listing * 1000:.0f} ms "
        f"({alone.listing / documents * 1e6:.0f} us per document). Each run's concurrency and "
        "length follow from these."
    )
    return alone


# -- the report -------------------------------------------------------------------------------


def comparison_row(c: Comparison) -> list[str]:
    return [
        c.operation,
        f"{c.plan.connections} x {c.plan.seconds:.0f} s",
        fmt(c.api.rate),
        fmt(c.api.p50_ms),
        fmt(c.api.p99_ms),
        fmt(c.driver.rate),
        fmt(c.driver.p50_ms),
        fmt(c.driver.p99_ms),
        fmt_ratio(c.throughput_ratio),
        fmt_ratio(c.p99_ratio),
        f"{c.api.requests:,} / {c.driver.requests:,}",
        f"{c.api.errors} / {c.driver.errors}",
    ]


HEADERS = [
    "operation",
    "concurrency x time",
    "API req/s",
    "API p50 ms",
    "API p99 ms",
    "driver ops/s",
    "driver p50 ms",
    "driver p99 ms",
    "API/driver throughput",
    "API/driver p99",
    "samples API / driver",
    "errors API / driver",
]


def report(section: Section, comparisons: list[Comparison]) -> None:
    section.table(
        "The API over loopback (wrk: connections x duration) vs the same store operation on the "
        "driver (as many concurrent operations from one process, as long)",
        HEADERS,
        [comparison_row(c) for c in comparisons],
    )
    by_name = {c.operation: c for c in comparisons}
    create = by_name["create"]
    section.verdict(
        f"API create throughput >= {CREATE_RATIO_TARGET:.0%} of raw driver inserts",
        create.throughput_ratio >= CREATE_RATIO_TARGET,
        f"{fmt(create.api.rate)} req/s vs {fmt(create.driver.rate)} inserts/s = "
        f"{create.throughput_ratio:.0%}",
    )
    small = by_name[f"list (project of {SMALL_PROJECT})"]
    large = by_name[f"list (project of {LARGE_PROJECT:,})"]
    api_ratio = ratio(large.api.p99_ms, small.api.p99_ms)
    section.verdict(
        f"list p99 at {LARGE_PROJECT:,} tickets within {LIST_RATIO_TARGET}x of list p99 at "
        f"{SMALL_PROJECT}",
        api_ratio <= LIST_RATIO_TARGET,
        f"{fmt(large.api.p99_ms)} ms vs {fmt(small.api.p99_ms)} ms = {fmt_ratio(api_ratio)} "
        f"(driver: {fmt(large.driver.p99_ms)} vs {fmt(small.driver.p99_ms)} ms = "
        f"{fmt_ratio(ratio(large.driver.p99_ms, small.driver.p99_ms))})",
    )
    errors = [c.operation for c in comparisons if c.api.errors or c.driver.errors]
    if errors:
        section.note(f"errors (non-2xx or failed operations) in: {', '.join(errors)}.")


def limits_rows(runs: LimitRuns) -> list[list[str]]:
    rows = []
    for enabled, side in ((True, runs.on), (False, runs.off)):
        middle = median_run([r.result for r in side])
        sent = [r.limited for r in side]
        rows.append(
            [
                runs.operation,
                "on (quotas 10^9 a minute)" if enabled else "off (RATE_LIMITS_ENABLED=false)",
                f"{runs.plan.connections} x {runs.plan.seconds:.0f} s",
                fmt(LimitRuns.median_rate(side)),
                ", ".join(fmt(r.result.rate) for r in side),
                fmt(middle.p50_ms),
                fmt(middle.p99_ms),
                "yes" if all(sent) else "no" if not any(sent) else "mixed",
                str(sum(r.result.errors for r in side)),
            ]
        )
    return rows


def report_limits(section: Section, limits: list[LimitRuns]) -> None:
    section.table(
        f"Rate limits on vs off (issue 11): two API processes side by side, {LIMIT_PAIRS} pairs "
        "of runs alternating which goes first",
        [
            "operation",
            "rate limits",
            "concurrency x time",
            "median req/s",
            "req/s per pair",
            "p50 ms (median run)",
            "p99 ms (median run)",
            "RateLimit headers sent",
            "errors",
        ],
        [row for runs in limits for row in limits_rows(runs)],
    )
    switched = all(runs.switched for runs in limits)
    detail = "; ".join(
        f"{runs.operation}: {runs.ratio:.0%} of the throughput without them (median of the "
        f"pairs' ratios; medians {fmt(LimitRuns.median_rate(runs.on))} vs "
        f"{fmt(LimitRuns.median_rate(runs.off))} req/s)"
        for runs in limits
    )
    section.verdict(
        f"API create and get throughput with rate limits on within {1 - LIMITS_TARGET:.0%} of "
        "the same API with them off",
        all(runs.ratio >= LIMITS_TARGET for runs in limits) if switched else None,
        detail
        + ("" if switched else " (an API did not switch its limits as asked: see the table)"),
    )
    section.note(
        "rate limits: one API process with its limits on (every plan's quotas at 10^9 a "
        "minute, so the limiter counts every request, shares its counts through the store "
        "every 250 ms and sends its headers, but never refuses) and one with "
        "`RATE_LIMITS_ENABLED=false` (no limiter in the request path, no sharing task), both "
        "up throughout; an idle one only wakes its relay. Create: each process on a database "
        "of its own, empty at the start, its relay's backlog drained after each run; get: both "
        "on the 10,100-ticket collection of the rows above. Each pair's ratio, on over off: "
        + "; ".join(
            f"{runs.operation} " + ", ".join(fmt_ratio(r) for r in runs.paired) for runs in limits
        )
        + ". Events the relays had left unpublished after the runs: "
        + f"{sum(r.left for runs in limits for r in (*runs.on, *runs.off))}."
    )


def note_previous(section: Section, comparisons: list[Comparison]) -> None:
    by_name = {c.operation: c for c in comparisons}
    parts = []
    for name, (rate, p99) in PREVIOUS_API.items():
        now = by_name[name].api
        parts.append(
            f"{name} {fmt(now.rate)} req/s, p99 {fmt(now.p99_ms)} ms (previous run: {fmt(rate)} "
            f"req/s, p99 {fmt(p99)} ms; {fmt_ratio(ratio(now.rate, rate))} of its throughput)"
        )
    section.note(
        "get, create and reply against the previous run (issues 10 and 12: unchanged within "
        f"noise). This run: {'; '.join(parts)}. The previous run ({PREVIOUS_RUN}, the figures "
        "docs/benchmarks.md held before this code) measured earlier code (before the rate "
        "limits, the fenced writes and FerretDB's pushdown build) on a machine with a load "
        "average of 1.10 at its start: it was not measured side by side with this one, so the "
        "difference includes the code, the store's build and the machine's load, not the code "
        "alone; only the figures within this run compare."
    )


async def run(services: Services) -> Section:
    section = Section("api", docs.TITLES["api"])
    async with bench_vhost(services) as amqp_url, sink_queue(amqp_url):
        comparisons = await measure_create(services, amqp_url, section)
        limits = [await create_limits(services, amqp_url)]
        reads, get_limits_runs = await measure_reads(services, amqp_url, section)
        comparisons += reads
        limits.append(get_limits_runs)
    report(section, comparisons)
    report_limits(section, limits)
    note_previous(section, comparisons)
    return section
