"""Writes docs/benchmarks.md: the machine, the method, and each benchmark's latest figures.

Each benchmark's figures sit between markers, so running one benchmark replaces its own block
and keeps the others' from their last run.
"""

import re
from pathlib import Path

from benchmarks.common import ROOT
from benchmarks.machine import Machine
from benchmarks.report import Section, markdown_section

DOC = ROOT / "docs" / "benchmarks.md"
ORDER = ("api", "events", "staff", "privacy", "files", "cluster")
TITLES = {
    "api": "Tickets API v2 and its rate limits (issues 2 and 11)",
    "events": "Ticket events and the notifier (issue 3)",
    "staff": "Store scans, staff queue and SLA scheduler (issues 5 and 10)",
    "privacy": "Privacy (benchmarks/privacy.py)",
    "files": "Attachments (issue 14)",
    "cluster": "RabbitMQ cluster failover (issue 15)",
}

HEADER = """# Benchmarks

`make bench` starts the local services if they are not running, then runs `uv run python -m
benchmarks`: every benchmark, each printing its tables and a PASS/FAIL line per target, and this
file rewritten with the figures of that run. `uv run python -m benchmarks api|events|staff|privacy`
runs some and replaces only their blocks (`--no-docs` leaves this file alone). The speed and
memory targets of issues 2 to 5, 10 and 11 are checked here, not by timed tests. The machine is
shared and noisy, so no absolute time below means much on its own: what matters are the medians,
p99s and ratios measured side by side in one run. A full run takes about twenty minutes on the
two-core machine below, most of it the API's paired and alternating rounds and the seeding of
two 100,000-ticket stores.
"""

METHOD = """## Method

- **Isolation.** Every benchmark uses its own throw-away MongoDB database
  (`zumik_bench_<purpose>_<random>`, dropped afterwards) and its own RabbitMQ vhost (deleted
  afterwards), with a quorum queue bound to `zumik.support` with `#` so the relay's `mandatory`
  publishes route, as they do when the notifier or an ops queue is bound.
- **The real processes.** The API runs as `zumik-api` (uvicorn, one process, its outbox relay
  running, the SLA scheduler off) on a free loopback port; the notifier as `zumik-notifier`. Load
  only ever goes to `127.0.0.1`.
- **Load.** HTTP load comes from `wrk` (Debian's package, installed if missing); a Lua `done()`
  prints the exact request count, duration and the p50/p99 of wrk's latency histogram.
  The end-to-end run needs each ticket's id and the instant its POST returned, so it uses an
  open-loop Python client instead (a POST starts every 10 ms whatever the earlier ones do), and
  a loopback webhook receiver in its own thread records when each ticket's webhook arrived.
- **The driver side.** Beside each API figure, the same store operation runs straight on PyMongo
  from one process, with the same concurrency: the ticket document's `insert_one`, `find_one` by
  `_id`, the reply's read plus its single-document update, the list's page query. Ratios are
  API/driver.
- **Seed data** is written with `insert_many` in batches of 1,000, in documents built by the
  repository's own code (`Ticket.open` and the ticket adapter's document mapping), with their
  outbox already published unless the benchmark is about the outbox.
- **Slow operations get sized runs.** Each run's concurrency and length follow from what one
  operation costs alone (timed first): 16 connections for create, 4 for get and reply, one at a
  time for the list and the staff queue (their targets are about latency), for long enough to
  collect about ten samples within a bound. The sample counts are in the tables: a p99 over a
  few samples is close to their maximum. When one staff-queue request outlasts a third of the
  longest run, that single timed request is the figure.
- Between two measured runs that write events, the API's relay is left to publish its backlog,
  so one run's events do not load the next.
- **Alternating rounds for the ratios.** This machine's speed drifts by a fifth or more within
  minutes. So create (raw inserts, then the API) and the relay (its fast path, then raw
  publishes) each run three alternating rounds, every round on a fresh database, and issue 10's
  list and queue three rounds over their stores, alternating which goes first; the tables show
  each side's median round and the notes or columns list every round. The rate limits (issue
  11) are measured on two API processes up side by side, limits on and off, in seven pairs of
  runs seconds apart (alternating which goes first): the figure is the median pair's ratio.
- **Separate stores for sizes.** Issue 10 compares a query with a small and a large history
  beside it: each size is a database of its own (one 100,000-ticket store serves both the list
  and the queue), seeded before anything is measured, and the runs start once FerretDB has
  computed its planner statistics for them.

### What the figures mean on FerretDB

The local store is FerretDB 1.24 on SQLite, built by `scripts/services` with the patches in
`scripts/ferretdb/`: a lone `_id` filter uses its index, and a filter's top-level equalities on
strings, ObjectIds and booleans are pushed down to SQLite, which searches the API's indexes for
them (with planner statistics that FerretDB refreshes once a minute). What a build does not push
down runs in Go: every row the pushed-down part lets through is decoded, filtered and sorted
there (a fraction of a millisecond per ticket), and a filter with nothing to push down (a range
on a date, say) scans the whole collection. Each section quotes the plans `explain` gave in its
run: "SQLite full SCAN" or "index SEARCH" with the indexes used, and whether the filter and the
sort were pushed down (a build with `sqlite-sort-pushdown.patch` reads a find sorted by `_id` in
index order and stops at the page). A FerretDB that was already running keeps its old build
until it is restarted.

So on this store a list costs in proportion to the project's tickets (to the page, when its
sort by `_id` is pushed down), the staff queue's page to the tickets awaiting the team (all of
them, since its sort is done in Go), the scheduler's candidate query to its `sla_timers` (a
range on `check_at`, scanned), and the relay's sweep to the tickets written in the minutes it
walks (an equality on `outbox_minute` each), plus one scan to find the oldest ticket when it has
more than a day to walk and, once per store, one for the tickets
written before `outbox_minute` existed; on MongoDB 7 the same queries are ranges on the compound
indexes the tickets library creates.

The API section's list benchmark (issue 2) loads both projects (100 and 10,000 tickets) into
one database before measuring either, so that its ratio isolates the dependence on the
project's ticket count; issue 10's compare stores of different histories, each its own
database. The driver-side figures beside each API figure show how much of its time is the
store's.
"""


ANALYSIS = """## Reading the results

When a target fails on the local store, the section's own figures say why:

- **Create throughput.** A create needs the API key's project and its plan (two `_id` reads,
  which the API's 1 s auth cache spares nearly every request) and makes three writes: the SLA
  timer, the ticket and, after the publish, the relay's ack. The API group-commits each kind
  across concurrent requests (one `insert_many` per batch), so its writes cost the store less
  than the baseline's one `insert_one` per ticket, whose sixteen concurrent writers fight for
  SQLite's single write lock. What is left is CPU: the API process (FastAPI, pydantic, PyMongo,
  the relay's publish) and FerretDB share two cores with wrk and RabbitMQ. The row "create vs
  its whole store work" runs the uncached store operations from the driver, with the same group
  commit.
- **Relay throughput.** The fast path is what the API does after each write: publish with a
  confirm, then its ack, in one insert every 20 ms. Raw publishes of the same message with the
  same number in flight are the baseline; both are bound by CPU on this machine, the relay
  paying a little more per event (its bookkeeping and the ack). The sweep path reads the
  outboxes first (a full scan on FerretDB) and looks up each event's ack by `_id`.
- **End to end.** At 100 tickets/s the API, the notifier, FerretDB, RabbitMQ and the load
  generator share two cores, and the path crosses RabbitMQ three times (the event, the
  notifier's job, the delivery) with four group-committed writes (ticket, timer, delivery claim
  and outcome). The latency grows with CPU saturation, not with a queue that never drains:
  webhooks counted missing had not arrived when the bounded wait ended (the event tests show
  none is lost).
- **Staff queue.** The page query's `awaiting_team` equality is pushed down, so the store reads
  only the tickets awaiting the team, but decodes and sorts every one of them in Go for a page of
  twenty: its time follows the open queue, not the closed history and not the page (issue 10
  accepts this; issue 5's old target, 100,000 open tickets against 1,000, cannot be met on this
  store, and its figure is kept for information). On MongoDB it is a range on the index
  (awaiting_team, queue_class, queue_due, created_at, _id), read for one page.
- **Scheduler pass.** The candidate query is a range on `sla_timers.check_at` (one small entry
  per ticket with an SLA event still to come), which FerretDB scans in Go: the next pass, with
  nothing left to record, is about that scan alone. Every due ticket then costs a read and a
  fenced `update_one` by `_id` and `fence`, both served by the `_id` index. A write that fails
  (on FerretDB, `SQLITE_BUSY` when a writer waits past SQLite's lock timeout) is logged and
  skipped, and a later pass records that ticket; the table's error column counts them. On
  MongoDB the candidate query is a range on the `check_at` index.
"""


def _markers(key: str) -> tuple[str, str]:
    return f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"


def existing_blocks(text: str) -> dict[str, str]:
    blocks: dict[str, str] = {}
    for key in ORDER:
        start, end = _markers(key)
        found = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), text, re.DOTALL)
        if found:
            blocks[key] = found.group(1)
    return blocks


def run_line(section: Section, machine: Machine) -> str:
    load = ", ".join(f"{value:.2f}" for value in machine.load_average)
    return (
        f"_Run {machine.started:%Y-%m-%d %H:%M} UTC on {machine.cpus} x {machine.cpu_model}, "
        f"load average at start {load}; took {section.seconds:.0f} s._"
    )


def render(blocks: dict[str, str], machine: Machine) -> str:
    parts = [HEADER, "## Machine (latest run)\n", machine.markdown() + "\n", METHOD, "## Results\n"]
    for key in ORDER:
        start, end = _markers(key)
        body = blocks.get(key) or f"### {TITLES[key]}\n\n_Not run yet._\n"
        parts.append(f"{start}\n{body}{end}\n")
    parts.append(ANALYSIS)
    return "\n".join(parts)


def write(sections: list[Section], machine: Machine, path: Path = DOC) -> Path:
    blocks = existing_blocks(path.read_text()) if path.exists() else {}
    for section in sections:
        blocks[section.key] = markdown_section(section, run_line(section, machine))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(blocks, machine))
    return path
