"""Issue 10: a query's cost follows what it reads, not the history beside it.

- The list of a 100-ticket project, with 1,000 other tickets in the store and with 100,000.
- The staff queue's first page with 1,000 open tickets beside 1,000 closed ones and beside
  100,000 closed ones.

Each size is a database of its own, all seeded before anything is measured (on FerretDB a
query's cost may follow its collection, so two sizes in one collection would prove nothing).
Every store holds the same listed project (100 tickets: 80 closed, then the 20 newest open) and
the same 980 open tickets in 10 other projects; they differ only in the closed history of other
projects:

| store            | other closed tickets | list: other tickets | queue: open + closed  |
|------------------|----------------------|---------------------|-----------------------|
| `list_1k`        | 20 (1 project)       | 1,000               | (not measured)        |
| `queue_1k`       | 920 (10 projects)    | (not measured)      | 1,000 + 1,000         |
| `100k` (shared)  | 99,920 (1,000)       | 100,900             | 1,000 + 100,000       |

So the queue's two stores hold exactly the target's numbers, and the list's large store a little
more than its 100,000 other tickets. The one 100,000-ticket store serves both operations; each
operation still compares two databases.

Each operation runs through the API (wrk, one connection, as the targets are about latency) and
as its query on the driver (one at a time), with one load plan for both sizes (sized on the
slower), in ROUNDS rounds that alternate which size goes first; each figure is its median
round. The API processes run as in production (their outbox relays sweeping); after one starts,
its first sweep is awaited, and every sweep the relays log meanwhile is reported.
"""

import asyncio
import json
import logging
import math
import random
import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path

import bson
import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.domain.tickets import Ticket
from zumik_contracts.staff import QueueFilters
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_tickets.documents import SUMMARY_PROJECTION
from zumik_tickets.queue import QUEUE_SORT, queue_query
from zumik_tickets.store import page_query
from zumik_tickets.timers import due_query

from benchmarks.api import auth, raw_list
from benchmarks.common import BenchDb, Services, api_server, bench_database, service_log
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
    SeedProject,
    closed_ticket,
    create_project,
    create_projects,
    create_staff_token,
    insert_all,
    mixed_tickets,
    open_ticket,
    settle_sla,
    sla_timer,
    stored,
)
from benchmarks.stats import LoadResult, fmt, fmt_ratio, ratio
from benchmarks.store import query_plan

log = logging.getLogger("benchmarks")

LISTED = 100  # the listed project's tickets
LISTED_OPEN = 20  # of which the newest are open
OPEN_QUEUE = 1_000  # tickets awaiting the team, the listed project's included
OPEN_PROJECTS = 10  # the other open tickets' projects
OTHER_OPEN = OPEN_QUEUE - LISTED_OPEN
PER_PROJECT = 100  # closed tickets per project of the history
LIST_OTHERS = 1_000  # the list's small store: other tickets
QUEUE_CLOSED = 1_000  # the queue's small store: closed tickets
HISTORY_CLOSED = 100_000  # the large store: closed tickets
PAGE = 20
ROUNDS = 3
LIST_RATIO_TARGET = 2.0
QUEUE_RATIO_TARGET = 2.0
SIZE_SAMPLE = 50  # one document in this many is measured (BSON bytes)
FIRST_SWEEP_S = 90.0  # how long to wait for a started API's first outbox sweep, at most
# How long after the last store is seeded the runs start: FerretDB's statistics check (once a
# minute, scripts/ferretdb's sqlite-stats.patch) has then run ANALYZE on the loaded stores, so
# SQLite plans with statistics, as on a store in use, and not with its rules for none.
STATS_SETTLE_S = 65.0
SMALL_SWEEP_S = 5.0
PROBE_TIMEOUT_S = 300.0

SWEEP_LINE = re.compile(r"outbox sweep: (\d+) tickets had unpublished events \(([\d.]+) s\)")
SWEEP_FAILED = "outbox sweep could not read MongoDB"


# -- the stores -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    name: str
    closed_others: int  # closed tickets of other projects than the listed one


LIST_SMALL = Shape("list_1k", LIST_OTHERS - OTHER_OPEN)
QUEUE_SMALL = Shape("queue_1k", QUEUE_CLOSED - (LISTED - LISTED_OPEN))
HISTORY = Shape("100k", HISTORY_CLOSED - (LISTED - LISTED_OPEN))


@dataclass(frozen=True)
class Store:
    """A seeded database: its listed project, a staff token, and what it holds."""

    name: str
    bench: BenchDb
    listed: SeedProject
    staff_token: str
    open: int
    closed: int
    mean_bytes: float
    seed_s: float

    @property
    def tickets(self) -> int:
        return self.open + self.closed

    @property
    def others(self) -> int:
        """Tickets of other projects than the listed one."""
        return self.tickets - LISTED

    @property
    def list_label(self) -> str:
        return f"the project + {self.others:,} others"

    @property
    def queue_label(self) -> str:
        return f"{self.open:,} open + {self.closed:,} closed"


def listed_tickets(project: SeedProject, now: datetime, rng: random.Random) -> Iterator[Ticket]:
    """The listed project's: its closed history first, then its open tickets (ids follow the
    order they are made in, so the list's first page is the open ones)."""
    for _ in range(LISTED - LISTED_OPEN):
        yield closed_ticket(project, now, rng)
    for _ in range(LISTED_OPEN):
        ticket = open_ticket(project, now, rng, created_ago=timedelta(hours=rng.uniform(0, 48)))
        settle_sla(ticket, now)
        yield ticket


def history(projects: list[SeedProject], count: int, now: datetime) -> Iterator[Ticket]:
    rng = random.Random(11)
    for index in range(count):
        yield closed_ticket(projects[index % len(projects)], now, rng)


async def seed_store(bench: BenchDb, shape: Shape) -> Store:
    """The listed project, the other open tickets and the closed history of `shape`, with the
    open tickets' SLA timers and a staff token."""
    log.info("seeding the %s store (%s closed tickets)", shape.name, f"{shape.closed_others:,}")
    started = time.monotonic()
    db = bench.db
    now = utc_now()
    listed = await create_project(db, "bench listed project", "enterprise")
    open_projects = await create_projects(db, OPEN_PROJECTS)
    closed_projects = await create_projects(
        db, max(1, math.ceil(shape.closed_others / PER_PROJECT))
    )
    timers: list[Document] = []
    sizes: list[int] = []
    counts = {"open": 0, "closed": 0}

    def documents(tickets: Iterator[Ticket]) -> Iterator[Document]:
        for index, ticket in enumerate(tickets):
            timer = sla_timer(ticket)
            if timer is not None:
                timers.append(timer)
            counts["closed" if ticket.status == "closed" else "open"] += 1
            doc = stored(ticket)
            if index % SIZE_SAMPLE == 0:
                sizes.append(len(bson.encode(doc)))
            yield doc

    tickets = chain(
        listed_tickets(listed, now, random.Random(10)),
        mixed_tickets(open_projects, OTHER_OPEN // OPEN_PROJECTS, {}, now),
        history(closed_projects, shape.closed_others, now),
    )
    await insert_all(db.tickets, documents(tickets))
    await insert_all(db.sla_timers, timers)
    token = await create_staff_token(db)
    return Store(
        shape.name,
        bench,
        listed,
        token,
        counts["open"],
        counts["closed"],
        statistics.mean(sizes),
        time.monotonic() - started,
    )


# -- the queue's requests ---------------------------------------------------------------------


def raw_queue(db: AsyncDatabase[Document]) -> Operation:
    """The queue's first page as the tickets library asks for it: 20 (plus one, for has_more)."""

    async def page(_: int) -> None:
        await (
            db.tickets.find(queue_query(QueueFilters(), None, utc_now()), SUMMARY_PROJECTION)
            .sort(QUEUE_SORT)
            .limit(PAGE + 1)
            .to_list(None)
        )

    return page


def queue_request(token: str) -> WrkRequest:
    return WrkRequest(
        "GET", [f"/v2/support/staff/queue?limit={PAGE}"], {"Authorization": f"Bearer {token}"}
    )


def list_request(project: SeedProject) -> WrkRequest:
    return WrkRequest("GET", [f"/v2/support/tickets?limit={PAGE}"], auth(project))


@dataclass(frozen=True)
class Probe:
    """One request: how long it took, and how the API answered."""

    seconds: float
    status: int
    body: str

    @property
    def failure(self) -> str | None:
        if 200 <= self.status < 300:
            return None
        return f"HTTP {self.status} `{error_code(self.body)}` after {self.seconds:.1f} s"


def error_code(body: str) -> str:
    """The API's error code (its error envelope's `error.code`), else the body's opening."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return body[:80]
    return str(code)


async def probe(base_url: str, request: WrkRequest) -> Probe:
    """One GET of the request's first path, timed."""
    async with httpx.AsyncClient(base_url=base_url, timeout=PROBE_TIMEOUT_S) as client:
        started = time.monotonic()
        response = await client.get(request.paths[0], headers=request.headers)
        return Probe(time.monotonic() - started, response.status_code, response.text)


# -- the relay's sweeps, from the API's log ---------------------------------------------------


@dataclass(frozen=True)
class ApiLog:
    """Where one API process logs, from the offset its run started at."""

    path: Path
    offset: int

    @classmethod
    def before_start(cls, services: Services, name: str) -> "ApiLog":
        path = service_log(services, name)
        return cls(path, path.stat().st_size if path.exists() else 0)

    def text(self) -> str:
        if not self.path.exists():
            return ""
        with self.path.open("rb") as file:
            file.seek(self.offset)
            return file.read().decode(errors="replace")

    def sweeps(self) -> "Sweeps":
        if not self.path.exists():
            return Sweeps([], 0, logged=False)
        text = self.text()
        return Sweeps(
            [float(m.group(2)) for m in SWEEP_LINE.finditer(text)], text.count(SWEEP_FAILED)
        )

    async def first_sweep(self, within_s: float) -> None:
        """Wait until the relay logged its first sweep (one that took over a second, or failed),
        or `within_s` passed (a quick sweep logs nothing)."""
        deadline = time.monotonic() + within_s
        for _ in range(int(within_s * 2) + 1):
            if self.sweeps().seconds or time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.5)


@dataclass(frozen=True)
class Sweeps:
    """The sweeps a relay logged: those that took over a second (their seconds), and how many
    of them failed (the store's time limit ran out)."""

    seconds: list[float]
    failed: int
    logged: bool = True  # False: the log was gone (something removed the log directory)

    def describe(self) -> str:
        if not self.logged:
            return "unknown (its log was removed meanwhile)"
        if not self.seconds:
            return "no sweep over 1 s"
        times = ", ".join(f"{s:.1f}" for s in self.seconds)
        failed = f", {self.failed} of them cut by the store's time limit" if self.failed else ""
        return f"{len(self.seconds)} sweep(s) over 1 s ({times} s{failed})"


# -- side by side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One operation on one store: the API's request and the same query on the driver."""

    label: str
    store: Store
    base_url: str
    request: WrkRequest
    driver: Operation


@dataclass
class Rounds:
    """A target's runs, round by round: the API's under wrk, and the driver's."""

    target: Target
    api: list[LoadResult] = field(default_factory=list)
    driver: list[LoadResult] = field(default_factory=list)

    @staticmethod
    def median_p99(runs: list[LoadResult]) -> float:
        figures = [r.p99_ms for r in runs if not math.isnan(r.p99_ms)]
        return statistics.median(figures) if figures else math.nan

    @staticmethod
    def median_p50(runs: list[LoadResult]) -> float:
        figures = [r.p50_ms for r in runs if not math.isnan(r.p50_ms)]
        return statistics.median(figures) if figures else math.nan

    @property
    def api_errors(self) -> int:
        return sum(r.errors for r in self.api)


async def alone(target: Target) -> float:
    """One driver query's time with nothing else running (median of 3)."""
    return statistics.median([await time_once(target.driver) for _ in range(3)])


async def side_by_side(
    name: str, targets: list[Target], *, samples: int, min_s: float, max_s: float
) -> tuple[list[Rounds], WrkPlan]:
    """ROUNDS rounds over the targets (each round in the other order than the last), every
    target under one plan sized on the slowest one alone: wrk, then the driver."""
    slowest = max([await alone(t) for t in targets])
    plan = sized_plan(slowest, connections=1, samples=samples, min_s=min_s, max_s=max_s)
    rounds = [Rounds(t) for t in targets]
    for index in range(ROUNDS):
        for runs in rounds if index % 2 == 0 else rounds[::-1]:
            target = runs.target
            label = f"{name} ({target.label}), round {index + 1}"
            runs.api.append(await run_wrk(label, target.base_url, target.request, plan))
            runs.driver.append(
                await run_driver(label, target.driver, concurrency=1, seconds=plan.seconds)
            )
    return rounds, plan


# -- the measurement --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResults:
    stores: list[Store]
    lists: list[Rounds]
    list_plan: WrkPlan
    queues: list[Rounds]
    queue_plan: WrkPlan
    plans: list[list[str]]
    plans_changed: list[list[str]]  # the plans before the runs that differ from after
    sweeps: list[tuple[str, Sweeps]]
    first_sweep: Sweeps
    settled_s: float  # from the last store's seeding to the first run


async def store_plans(store: Store, *, listing: bool, queue: bool) -> list[list[str]]:
    db = store.bench.db
    rows = []
    if listing:
        query, order = page_query(store.listed.id, None, None, "older")
        rows.append(
            [
                "list (`project_id`, by `_id` desc, 21)",
                store.name,
                await query_plan(db, query, {"_id": order}, PAGE + 1),
            ]
        )
    if queue:
        first_page = queue_query(QueueFilters(), None, utc_now())
        rows.append(
            [
                "queue's first page (`awaiting_team`, 4-key sort, 21)",
                store.name,
                await query_plan(db, first_page, dict(QUEUE_SORT), PAGE + 1),
            ]
        )
        rows.append(
            [
                "scheduler's candidates (`sla_timers.check_at` <= now)",
                store.name,
                await query_plan(db, due_query(utc_now()), collection="sla_timers"),
            ]
        )
        sweep = {"outbox_at": {"$gt": datetime(1970, 1, 1, tzinfo=UTC), "$lte": utc_now()}}
        rows.append(
            [
                "relay's sweep (`outbox_at` range, by `outbox_at`, 1,000)",
                store.name,
                await query_plan(db, sweep, {"outbox_at": 1}, 1000),
            ]
        )
    return rows


async def all_plans(list_small: Store, queue_small: Store, large: Store) -> list[list[str]]:
    return (
        await store_plans(list_small, listing=True, queue=False)
        + await store_plans(queue_small, listing=False, queue=True)
        + await store_plans(large, listing=True, queue=True)
    )


async def measure(services: Services, amqp_url: str) -> ScanResults:
    async with (
        bench_database(services, "scan_list_1k") as list_db,
        bench_database(services, "scan_queue_1k") as queue_db,
        bench_database(services, "scan_100k") as history_db,
    ):
        list_small = await seed_store(list_db, LIST_SMALL)
        queue_small = await seed_store(queue_db, QUEUE_SMALL)
        large = await seed_store(history_db, HISTORY)
        seeded = time.monotonic()
        logs = {
            name: ApiLog.before_start(services, f"api_{name}")
            for name in (large.name, list_small.name, queue_small.name)
        }
        async with api_server(services, large.bench.url, amqp_url, name="api_100k") as large_url:
            await logs[large.name].first_sweep(FIRST_SWEEP_S)
            first_sweep = logs[large.name].sweeps()
            await asyncio.sleep(max(0.0, STATS_SETTLE_S - (time.monotonic() - seeded)))
            settled_s = time.monotonic() - seeded
            plans_before = await all_plans(list_small, queue_small, large)
            async with api_server(
                services, list_small.bench.url, amqp_url, name=f"api_{list_small.name}"
            ) as small_url:
                await logs[list_small.name].first_sweep(SMALL_SWEEP_S)
                lists, list_plan = await side_by_side(
                    "list",
                    [
                        Target(
                            list_small.list_label,
                            list_small,
                            small_url,
                            list_request(list_small.listed),
                            raw_list(list_small.bench.db, list_small.listed.id),
                        ),
                        Target(
                            large.list_label,
                            large,
                            large_url,
                            list_request(large.listed),
                            raw_list(large.bench.db, large.listed.id),
                        ),
                    ],
                    samples=100,
                    min_s=8,
                    max_s=12,
                )
            async with api_server(
                services, queue_small.bench.url, amqp_url, name=f"api_{queue_small.name}"
            ) as small_url:
                await logs[queue_small.name].first_sweep(SMALL_SWEEP_S)
                queues, queue_plan = await side_by_side(
                    "queue",
                    [
                        Target(
                            queue_small.queue_label,
                            queue_small,
                            small_url,
                            queue_request(queue_small.staff_token),
                            raw_queue(queue_small.bench.db),
                        ),
                        Target(
                            large.queue_label,
                            large,
                            large_url,
                            queue_request(large.staff_token),
                            raw_queue(large.bench.db),
                        ),
                    ],
                    samples=40,
                    min_s=8,
                    max_s=20,
                )
        plans = await all_plans(list_small, queue_small, large)
        all_sweeps = [(name, logs[name].sweeps()) for name in logs]
    return ScanResults(
        [list_small, queue_small, large],
        lists,
        list_plan,
        queues,
        queue_plan,
        plans,
        [p for p in plans_before if p not in plans],
        all_sweeps,
        first_sweep,
        settled_s,
    )


# -- the report -------------------------------------------------------------------------------


def rounds_row(label: str, others: str, runs: Rounds) -> list[str]:
    return [
        label,
        others,
        f"{sum(r.requests for r in runs.api):,}",
        fmt(Rounds.median_p50(runs.api)),
        fmt(Rounds.median_p99(runs.api)),
        ", ".join(fmt(r.p99_ms) for r in runs.api),
        f"{sum(r.requests for r in runs.driver):,}",
        fmt(Rounds.median_p50(runs.driver)),
        fmt(Rounds.median_p99(runs.driver)),
        ", ".join(fmt(r.p99_ms) for r in runs.driver),
        str(runs.api_errors),
    ]


ROUNDS_HEADERS = [
    "store",
    "what the query competes with",
    "API samples",
    "API p50 ms",
    "API p99 ms",
    "API p99 per round",
    "driver samples",
    "driver p50 ms",
    "driver p99 ms",
    "driver p99 per round",
    "API errors",
]


def ratio_verdict(
    section: Section, target: str, small: Rounds, large: Rounds, limit: float
) -> None:
    api_small, api_large = Rounds.median_p99(small.api), Rounds.median_p99(large.api)
    driver_ratio = ratio(Rounds.median_p99(large.driver), Rounds.median_p99(small.driver))
    api_ratio = ratio(api_large, api_small)
    errors = small.api_errors + large.api_errors
    section.verdict(
        target,
        api_ratio <= limit and errors == 0,
        f"{fmt(api_large)} ms vs {fmt(api_small)} ms = {fmt_ratio(api_ratio)} "
        f"(driver: {fmt_ratio(driver_ratio)})"
        + (f"; {errors} API requests failed" if errors else ""),
    )


def report(section: Section, results: ScanResults) -> None:
    list_small, list_large = results.lists
    queue_small, queue_large = results.queues
    section.table(
        "Issue 10's stores (one database each; documents built by the repository's own code, "
        "their size measured as BSON on one in fifty)",
        [
            "store",
            "tickets",
            "open (awaiting the team)",
            "closed",
            "other tickets than the listed project's",
            "mean BSON bytes",
            "seeded in s",
        ],
        [
            [
                s.name,
                f"{s.tickets:,}",
                f"{s.open:,}",
                f"{s.closed:,}",
                f"{s.others:,}",
                f"{s.mean_bytes:,.0f}",
                f"{s.seed_s:.0f}",
            ]
            for s in results.stores
        ],
    )
    lp, qp = results.list_plan, results.queue_plan
    section.table(
        f"GET /v2/support/tickets?limit={PAGE} of the 100-ticket project under wrk, and its query "
        f"on the driver: 1 connection x {lp.seconds:.0f} s each, {ROUNDS} rounds alternating the "
        "stores; medians of the rounds",
        ROUNDS_HEADERS,
        [
            rounds_row(s.target.store.name, f"{s.target.store.others:,} other tickets", s)
            for s in (list_small, list_large)
        ],
    )
    section.table(
        f"GET /v2/support/staff/queue?limit={PAGE} under wrk, and its query on the driver: "
        f"1 connection x {qp.seconds:.0f} s each, {ROUNDS} rounds alternating the stores; "
        "medians of the rounds",
        ROUNDS_HEADERS,
        [rounds_row(s.target.store.name, s.target.label, s) for s in (queue_small, queue_large)],
    )
    section.table(
        "The store's plans (explain, after the runs)",
        ["query", "store", "plan"],
        results.plans,
    )
    ratio_verdict(
        section,
        f"a 100-ticket project's list p99 with {list_large.target.store.others:,} other tickets "
        f"in the store within {LIST_RATIO_TARGET:.0f}x of its p99 with {LIST_OTHERS:,}",
        list_small,
        list_large,
        LIST_RATIO_TARGET,
    )
    ratio_verdict(
        section,
        f"the staff queue's first page p99 with {HISTORY_CLOSED:,} closed and {OPEN_QUEUE:,} "
        f"open tickets within {QUEUE_RATIO_TARGET:.0f}x of its p99 with {QUEUE_CLOSED:,} closed "
        f"and {OPEN_QUEUE:,} open",
        queue_small,
        queue_large,
        QUEUE_RATIO_TARGET,
    )
    section.note(
        "issue 10's stores: every one holds the listed project (100 tickets: 80 closed, the 20 "
        f"newest open) and the same {OTHER_OPEN} open tickets in {OPEN_PROJECTS} other projects "
        "(most opened in the last two hours, a tenth days ago), and differs only in the closed "
        "history of other projects (opened 3 to 365 days ago, answered, closed). The list's "
        f"large store is the queue's: {HISTORY_CLOSED:,} closed tickets, so the list competes "
        f"with {list_large.target.store.others:,} other tickets there (a little more than the "
        "target's 100,000). Each run's plan: one connection, sized on the slower store's query "
        "alone, the same for both stores."
    )
    for query in ("list", "queue's first page"):
        compared = [(store, plan) for q, store, plan in results.plans if q.startswith(query)]
        if len({plan for _, plan in compared}) > 1:
            section.note(
                f"the store planned the {query} differently in its two stores: "
                + "; ".join(f"`{store}`: {plan}" for store, plan in compared)
                + ". SQLite chooses by its statistics: where most rows match, reading the "
                "table can cost it less than searching the index."
            )
    changed = "; ".join(
        f"{query} on `{store}`: {plan}" for query, store, plan in results.plans_changed
    )
    section.note(
        f"the runs began {results.settled_s:.0f} s after the last store was seeded, so that "
        "FerretDB's once-a-minute statistics check had run ANALYZE on the loaded stores (SQLite "
        "then plans with statistics, as on a store in use). The plans above are from after the "
        "runs; "
        + (
            f"before them they differed: {changed}."
            if changed
            else "before them they were the same."
        )
    )
    sweeps = "; ".join(f"`{name}`: {s.describe()}" for name, s in results.sweeps)
    section.note(
        "the APIs ran as in production, their outbox relays sweeping. The relay's sweep is a "
        "range on `outbox_at`, which the store does not push down (see its plan): a scan of "
        "the whole collection, at most every 30 s and at most 5% of the relay's time. Each "
        "API's first sweep was awaited before measuring (on the 100,000-ticket store: "
        f"{results.first_sweep.describe()}). Sweeps logged while the APIs ran: {sweeps}."
    )
