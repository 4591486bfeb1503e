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
ORDER = ("api", "events", "staff", "privacy")
TITLES = {
    "api": "Tickets API v2 (issue 2)",
    "events": "Ticket events and the notifier (issue 3)",
    "staff": "Staff queue and SLA scheduler (issue 5)",
    "privacy": "Privacy (benchmarks/privacy.py)",
}

HEADER = """# Benchmarks

`make bench` (that is, `uv run python -m benchmarks`) starts the local services if needed, runs
every benchmark and rewrites this file with the figures of that run; `uv run python -m benchmarks
api|events|staff|privacy` runs one and replaces only its block. The speed targets of issues 2, 3
and 5 are checked here, not by timed tests. The machine is shared and noisy, so no absolute time
below means much on its own: the figures that matter are the medians, p99s and ratios measured
side by side in one run.
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
- Between two measured runs the API's relay is left to publish its backlog, so one run's events
  do not load the next.

### What the figures mean on FerretDB

The local store is FerretDB 1.24 on SQLite, and it runs no query from an index. Its SQLite
query compares `_ferretdb_sjson->'$._id'` while its unique index is on `_ferretdb_sjson->"_id"`,
so even a lone `_id` filter is a full table scan (in SQLite, cheap per document); any other
filter, and every sort, is evaluated in Go over the whole collection (about 10x dearer per
document). `explain` confirms it (`SCAN`, `sortPushdown: false`); each section quotes the plan.
So here a request's cost grows with the size of the whole `tickets` collection, and not with
the size of a project or of a page. On MongoDB 7 the same queries use the compound indexes in
`adapters/mongo.py` and do not scan.

That is why the list benchmark loads both projects (100 and 10,000 tickets) into one database
before measuring either: the ratio then isolates what the target is about, the dependence on
the project's ticket count. The staff queue spans every project, so its two sizes are two
collections of different sizes and FerretDB cannot meet that target by construction; the
scheduler pass and the relay also pay a full scan for every ticket they read or update. Those
figures describe FerretDB's scan cost, not the code's index use; the driver-side figures beside
them show how much of each time is the store's.
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
    return "\n".join(parts)


def write(sections: list[Section], machine: Machine, path: Path = DOC) -> Path:
    blocks = existing_blocks(path.read_text()) if path.exists() else {}
    for section in sections:
        blocks[section.key] = markdown_section(section, run_line(section, machine))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(blocks, machine))
    return path
