"""The team's side (issues 5 and 10): the staff queue and the list against the store's history
(benchmarks/scans.py: issue 10's stores and targets), and one SLA scheduler pass over 100,000
open tickets across 1,000 projects (issue 5's target), in a database of its own.

The scheduler's tickets are a realistic mix: most were opened in the last two hours and are not
due yet (a quarter are community-tier, with no target at all); a backlog opened days ago whose
warning and breach the scheduler already recorded; and a few that just became due for a warning
or a breach, which the measured pass has to record. The queue's first page is also asked once of
that store, for information (issue 5's old shape: 100,000 open tickets).
"""

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import build_runtime
from zumik_api.domain.tickets import Ticket
from zumik_api.settings import Settings
from zumik_contracts.staff import QueueFilters
from zumik_store import mongo
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_tickets.queue import QUEUE_SORT, queue_query
from zumik_tickets.timers import due_query

from benchmarks import docs, scans
from benchmarks.broker import sink_queue
from benchmarks.common import BenchDb, Services, api_server, bench_database, bench_vhost
from benchmarks.load import time_once
from benchmarks.report import Section
from benchmarks.scans import (
    FIRST_SWEEP_S,
    PAGE,
    ApiLog,
    Probe,
    Sweeps,
    probe,
    queue_request,
    raw_queue,
)
from benchmarks.seed import (
    SeedProject,
    create_projects,
    create_staff_token,
    insert_all,
    mixed_tickets,
    sla_timer,
    stored,
)
from benchmarks.stats import fmt
from benchmarks.store import query_plan

log = logging.getLogger("benchmarks")

# How the API's SLA scheduler logs a ticket it could not record (and skips).
SCHEDULER_LOGGER = "zumik_api.scheduler"
SCHEDULER_FAILED_CHECK = "SLA check of ticket %s failed: %s"

PASS_STORE = (1000, 100)  # projects, open tickets per project
DUE_CANDIDATES = 10  # half due for a warning, half for a breach
PASS_TARGET_S = 5.0
PASS_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Dataset:
    tickets: int
    projects: int
    candidates: int
    staff_token: str


# -- the data ---------------------------------------------------------------------------------


def due_tickets(projects: list[SeedProject], per_project: int, count: int) -> dict[int, bool]:
    """`count` ticket indexes (of projects with a first-response target) that just became due,
    each mapped to True for a breach, False for a warning: half and half."""
    dated = [i for i, p in enumerate(projects) if p.plan != "free"]
    count = min(count, len(dated) * per_project)
    rng = random.Random(7)
    chosen: dict[int, bool] = {}
    while len(chosen) < count:
        index = rng.choice(dated) + len(projects) * rng.randrange(per_project)
        chosen.setdefault(index, len(chosen) % 2 == 0)
    return chosen


async def seed(db: AsyncDatabase[Document], shape: tuple[int, int], candidates: int) -> Dataset:
    project_count, per_project = shape
    log.info(
        "seeding %s tickets over %s projects", f"{project_count * per_project:,}", project_count
    )
    projects = await create_projects(db, project_count)
    due = due_tickets(projects, per_project, candidates)
    timers: list[Document] = []

    def documents(tickets: Iterator[Ticket]) -> Iterator[Document]:
        """Each ticket's document, keeping its SLA timer aside."""
        for ticket in tickets:
            timer = sla_timer(ticket)
            if timer is not None:
                timers.append(timer)
            yield stored(ticket)

    inserted = await insert_all(
        db.tickets, documents(mixed_tickets(projects, per_project, due, utc_now()))
    )
    await insert_all(db.sla_timers, timers)
    return Dataset(inserted, project_count, len(due), await create_staff_token(db))


# -- issue 5's queue, for information --------------------------------------------------------


@dataclass(frozen=True)
class OpenQueue:
    """The queue's first page with every seeded ticket open: one API request and one query on
    the driver (issue 5's shape, for information: issue 10 accepts that the queue's cost
    follows the open queue)."""

    tickets: int
    api: Probe
    driver_s: float
    plan: str
    first_sweep: Sweeps


async def open_queue_once(
    services: Services, amqp_url: str, bench: BenchDb, data: Dataset
) -> OpenQueue:
    api_log = ApiLog.before_start(services, "api_100k_open")
    async with api_server(services, bench.url, amqp_url, name="api_100k_open") as base_url:
        await api_log.first_sweep(FIRST_SWEEP_S)
        first_sweep = api_log.sweeps()
        probed = await probe(base_url, queue_request(data.staff_token))
    seconds = await time_once(raw_queue(bench.db))
    first_page = queue_query(QueueFilters(), None, utc_now())
    access = await query_plan(bench.db, first_page, dict(QUEUE_SORT), PAGE + 1)
    return OpenQueue(data.tickets, probed, seconds, access, first_sweep)


# -- the scheduler ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PassOutcome:
    seconds: float
    candidates: int | None
    recorded: int | None
    error: str | None = None


@dataclass(frozen=True)
class PassRun:
    due: int
    first: PassOutcome
    idle: PassOutcome
    plan: str
    id_plan: str
    fenced_plan: str


def short_error(error: Exception) -> str:
    text = str(error).split(", full error")[0]
    return f"{type(error).__name__}: ...{text[-90:]}" if len(text) > 90 else text


async def finish_leftover_records(within_s: float = 120.0) -> None:
    """A failed pass leaves its other tickets' writes running (asyncio.gather does not cancel
    them); let them end before their client closes."""
    leftovers = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "SlaScheduler._record"
    ]
    if leftovers:
        await asyncio.wait(leftovers, timeout=within_s)


class FailedChecks(logging.Handler):
    """The scheduler's per-ticket failures, which it logs and skips rather than raises: the
    error types of the tickets a pass could not record."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == SCHEDULER_FAILED_CHECK and len(record.args or ()) == 2:
            assert isinstance(record.args, tuple)
            self.errors[str(record.args[1])] += 1

    def summary(self) -> str | None:
        if not self.errors:
            return None
        kinds = ", ".join(f"{kind} x{count}" for kind, count in self.errors.most_common())
        return f"{self.errors.total()} tickets failed: {kinds}"


@contextlib.contextmanager
def failed_checks() -> Iterator[FailedChecks]:
    handler = FailedChecks()
    logger = logging.getLogger(SCHEDULER_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def timed_pass(settings: Settings) -> PassOutcome:
    """One SlaScheduler.run_pass() with the API's own wiring (its composition root, with the
    lease re-check it turns on for FerretDB): its time and what it found, or the error that
    ended it; the scheduler itself skips a ticket whose write failed (on FerretDB, say, with
    SQLITE_BUSY or a store timeout), and those failures are the error shown."""
    runtime = build_runtime(settings)
    try:
        runtime.store.confirm_leases = await mongo.is_ferretdb(runtime.client)
        started = time.monotonic()
        with failed_checks() as failures:
            try:
                async with asyncio.timeout(PASS_TIMEOUT_S):
                    result = await runtime.scheduler.run_pass()
                return PassOutcome(
                    time.monotonic() - started,
                    result.candidates,
                    result.recorded,
                    failures.summary(),
                )
            except Exception as error:
                elapsed = time.monotonic() - started
                await finish_leftover_records()
                return PassOutcome(elapsed, None, None, short_error(error))
    finally:
        await runtime.client.close()


async def measure_pass(bench: BenchDb, amqp_url: str, due: int) -> PassRun:
    """A pass with the just-due tickets to record, then the next one, with nothing left."""
    settings = Settings(mongodb_url=bench.url, amqp_url=amqp_url, sla_scheduler_enabled=False)
    log.info("timing SLA scheduler passes")
    first = await timed_pass(settings)
    idle = await timed_pass(settings)
    some = await bench.db.tickets.find_one({}, {"_id": 1, "fence": 1})
    assert some is not None
    return PassRun(
        due,
        first,
        idle,
        await query_plan(bench.db, due_query(utc_now()), collection="sla_timers"),
        await query_plan(bench.db, {"_id": some["_id"]}),
        await query_plan(bench.db, {"_id": some["_id"], "fence": some.get("fence")}),
    )


# -- the report -------------------------------------------------------------------------------


def pass_row(name: str, outcome: PassOutcome) -> list[str]:
    def count(value: int | None) -> str:
        return "-" if value is None else str(value)

    return [
        name,
        fmt(outcome.seconds, 2),
        count(outcome.candidates),
        count(outcome.recorded),
        outcome.error or "",
    ]


def skipped(outcome: PassOutcome) -> str:
    """The tickets a completed pass skipped (the scheduler logs a failed write and goes on)."""
    return f" ({outcome.error})" if outcome.error else ""


def report_pass(section: Section, run: PassRun, tickets: int) -> None:
    first, idle = run.first, run.idle
    section.table(
        f"SlaScheduler.run_pass() over {tickets:,} open tickets ({run.due} just due)",
        ["pass", "seconds", "candidates", "recorded", "error"],
        [pass_row("the first pass", first), pass_row("the next pass", idle)],
    )
    completed = first.error is None and first.recorded == run.due
    detail = (
        f"the first pass took {first.seconds:.2f} s "
        + (
            f"and failed ({first.error})"
            if first.candidates is None
            else f"and recorded {first.recorded}" + skipped(first)
        )
        + f"; the next one took {idle.seconds:.2f} s"
        + (
            f" and failed ({idle.error})"
            if idle.candidates is None
            else f" with {idle.candidates} left" + skipped(idle)
        )
    )
    section.verdict(
        f"an SLA scheduler pass over {tickets:,} tickets < {PASS_TARGET_S:.0f} s",
        completed and first.seconds < PASS_TARGET_S,
        detail,
    )
    section.note(
        f"the pass's candidate query on this store: {run.plan}. Each due ticket then costs a "
        "read by `_id` and an `update_one` by `_id` and `fence` (the tickets library's fenced "
        f"write) under its lease; a lookup by `_id`: {run.id_plan}; the fenced write's filter: "
        f"{run.fenced_plan}."
    )


def report_open_queue(section: Section, run: OpenQueue) -> None:
    failure = run.api.failure
    api = f"failed ({failure})" if failure else f"answered in {run.api.seconds * 1000:,.0f} ms"
    section.note(
        f"for information (issue 5's shape, not a target any more): the queue's first page with "
        f"all {run.tickets:,} tickets of the scheduler's store open, one request each: the API "
        f"{api}, the driver's query took {fmt(run.driver_s * 1000, 0)} ms; plan: "
        f"{run.plan}. Every open ticket awaits the team, so the page reads and sorts all of them "
        "on this store (no sort pushdown): its cost follows the open queue, as issue 10 accepts. "
        f"(That API's first outbox sweep: {run.first_sweep.describe()}.)"
    )


async def run(services: Services) -> Section:
    section = Section("staff", docs.TITLES["staff"])
    async with bench_vhost(services) as amqp_url, sink_queue(amqp_url):
        scanned = await scans.measure(services, amqp_url)
        async with bench_database(services, "staff") as bench:
            started = time.monotonic()
            data = await seed(bench.db, PASS_STORE, DUE_CANDIDATES)
            section.note(
                f"the scheduler's store: {data.tickets:,} open tickets over {data.projects:,} "
                f"projects ({data.candidates} of them just due), seeded in "
                f"{time.monotonic() - started:.0f} s, a database of its own."
            )
            passed = await measure_pass(bench, amqp_url, data.candidates)
            open_queue = await open_queue_once(services, amqp_url, bench, data)
    scans.report(section, scanned)
    report_pass(section, passed, data.tickets)
    report_open_queue(section, open_queue)
    return section
