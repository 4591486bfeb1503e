"""Privacy benchmark: export and erase a project of 10,000 tickets (3 messages each).

    uv run python -m benchmarks.privacy

Runs on the local store (MONGODB_URL's server, default the local FerretDB) in databases of its
own, `zumik_bench_privacy_<size>`, dropped afterwards. Tickets are seeded with `insert_many` in
the API's document layout. Each measurement runs the privacy service's command processor (what a
command runs once it left RabbitMQ) in a fresh subprocess, so its peak RSS is that operation's
own: the export at 1,000 and 10,000 tickets (plus the CLI's download of it), then the erasure.

Targets (issue 4): erasing 10,000 tickets in under 10 s; the export's peak memory at 10,000
tickets within 1.5x of its peak at 1,000.
"""

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.tickets import Ticket
from zumik_contracts import ids
from zumik_contracts.privacy import PrivacyCommand
from zumik_privacy.app import STORE_TIMEOUT_SECONDS, build_processor
from zumik_privacy.handling import CommandProcessor
from zumik_privacy.owners import Owners
from zumik_privacy.settings import Settings
from zumik_privacy_records.download import download_export
from zumik_store import mongo
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_tickets.documents import ticket_document  # the one definition of the layout
from zumik_tickets.indexes import ensure_indexes as ensure_ticket_indexes

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000, 10_000)
MESSAGES_PER_TICKET = 3
INSERT_BATCH = 1_000
ERASE_TARGET_SECONDS = 10.0
MEMORY_RATIO_TARGET = 1.5
TICKETS = "tickets"
PROJECTS = "projects"
# Seeding and clean-up: no store timeout to speak of (the workers use the service's own).
SEED_TIMEOUT_SECONDS = 1800.0


def server_url() -> str:
    base, _, query = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/").partition("?")
    scheme, _, rest = base.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/" + (f"?{query}" if query else "")


def database_url(name: str) -> str:
    base, _, query = server_url().partition("?")
    return f"{base}{name}" + (f"?{query}" if query else "")


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux, VmHWM: `ru_maxrss` would also count the
    parent's resident memory at the fork, which would hide a child's smaller peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(url: str) -> Settings:
    # Production defaults, except the salt (the benchmark never reads the environment's).
    return Settings(mongodb_url=url, privacy_subject_salt=SecretStr("benchmark-subject-salt"))


async def ensure_indexes(db: AsyncDatabase[Document], url: str) -> None:
    """What the API and the privacy service create at start-up: the tickets' indexes and the
    indexes of every owner the privacy service calls."""
    await ensure_ticket_indexes(db)
    await Owners.on(db, _settings(url), utc_now).ensure_indexes()


async def seed(db: AsyncDatabase[Document], project_id: str, count: int) -> float:
    """`count` tickets of 3 messages each (opening, team reply, customer reply)."""
    started = time.perf_counter()
    now = utc_now()
    calendar = BusinessCalendar.parse("UTC", "mon-fri 09:00-17:00", "")
    await db[PROJECTS].insert_one(
        {
            "_id": project_id,
            "name": "Benchmark",
            "plan": "enterprise",
            "created_at": now,
            "updated_at": now,
        }
    )
    batch: list[Document] = []
    for number in range(count):
        ticket = Ticket.open(
            project_id=project_id,
            plan="enterprise",
            subject=f"Benchmark ticket {number}",
            body=f"Streaming stops after about 30 seconds (ticket {number}). " * 4,
            priority="normal",
            contact_email=f"customer{number % 500}@example.com",
            now=now,
            calendar=calendar,
        )
        ticket.reply("support", "Thanks, we are looking into it. " * 4, now)
        ticket.reply("customer", "It also happens with the Python SDK. " * 4, now)
        # As stored once a later change dropped the published events: an empty outbox.
        batch.append(ticket_document(ticket, [], fence=""))
        if len(batch) == INSERT_BATCH:
            await db[TICKETS].insert_many(batch)
            batch = []
    if batch:
        await db[TICKETS].insert_many(batch)
    return time.perf_counter() - started


def _processor_on(db: AsyncDatabase[Document], url: str) -> CommandProcessor:
    """What the privacy service runs a command with, on the owners of `db`."""
    settings = _settings(url)
    return build_processor(Owners.on(db, settings, utc_now), settings, utc_now)


async def _export_worker(url: str, project_id: str) -> dict[str, Any]:
    client = mongo.connect(url, timeout_seconds=STORE_TIMEOUT_SECONDS)
    try:
        db = mongo.database(client)
        processor = _processor_on(db, url)
        baseline = peak_rss_mb()
        command = PrivacyCommand(id=ids.new_id("prq"), type="export", project_id=project_id)
        started = time.perf_counter()
        outcome = await processor.process(command.model_dump_json().encode())
        export_seconds = time.perf_counter() - started
        export_peak = peak_rss_mb()
        reference = outcome.result.export
        assert reference is not None, outcome.result
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "export.json"
            started = time.perf_counter()
            await download_export(db, reference, path)
            download_seconds = time.perf_counter() - started
            file_bytes = path.stat().st_size
    finally:
        await client.close()
    return {
        "tickets": reference.count,
        "chunks": reference.chunk_count,
        "file_mb": file_bytes / 1e6,
        "export_seconds": export_seconds,
        "download_seconds": download_seconds,
        "baseline_rss_mb": baseline,
        "export_peak_rss_mb": export_peak,
        "download_peak_rss_mb": peak_rss_mb(),
    }


async def _erase_worker(url: str, project_id: str) -> dict[str, Any]:
    client = mongo.connect(url, timeout_seconds=STORE_TIMEOUT_SECONDS)
    try:
        db = mongo.database(client)
        processor = _processor_on(db, url)
        command = PrivacyCommand(id=ids.new_id("prq"), type="erase", project_id=project_id)
        started = time.perf_counter()
        outcome = await processor.process(command.model_dump_json().encode())
        seconds = time.perf_counter() - started
        receipt = outcome.result.receipt
        assert receipt is not None, outcome.result
        left = await db[TICKETS].count_documents({"project_id": project_id})
    finally:
        await client.close()
    return {
        "erase_seconds": seconds,
        "erased_tickets": receipt.counts.tickets,
        "tickets_left": left,
        "erase_peak_rss_mb": peak_rss_mb(),
    }


def _in_subprocess(kind: str, url: str, project_id: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.privacy", "--worker", kind, url, project_id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


async def run(sizes: tuple[int, int] = SIZES) -> dict[str, Any]:
    """Figures per size; the targets compare the larger size with the smaller one."""
    figures: dict[str, Any] = {"sizes": {}}
    for size in sizes:
        name = f"zumik_bench_privacy_{size}"
        url = database_url(name)
        client = mongo.connect(url, timeout_seconds=SEED_TIMEOUT_SECONDS)
        try:
            await client.drop_database(name)
            db = mongo.database(client)
            await ensure_indexes(db, url)
            project_id = ids.new_id(ids.PROJECT)
            seed_seconds = await seed(db, project_id, size)
            exported = await asyncio.to_thread(_in_subprocess, "export", url, project_id)
            erased = await asyncio.to_thread(_in_subprocess, "erase", url, project_id)
            figures["sizes"][size] = {"seed_seconds": seed_seconds, **exported, **erased}
        finally:
            await client.drop_database(name)
            await client.close()
    small, large = (figures["sizes"][size] for size in sizes)
    ratio = large["export_peak_rss_mb"] / small["export_peak_rss_mb"]
    figures["export_peak_ratio"] = ratio
    figures["erase_largest_seconds"] = large["erase_seconds"]
    figures["targets_met"] = {
        "erase_under_10_s": large["erase_seconds"] < ERASE_TARGET_SECONDS,
        "export_memory_within_1_5x": ratio <= MEMORY_RATIO_TARGET,
    }
    return figures


def print_table(figures: dict[str, Any]) -> None:
    print(f"privacy benchmark on {server_url()} ({MESSAGES_PER_TICKET} messages per ticket)")
    header = (
        f"{'tickets':>8} {'seed s':>7} {'export s':>9} {'download s':>11} {'file MB':>8} "
        f"{'idle MB':>8} {'export peak MB':>15} {'download peak MB':>17} {'erase s':>8} "
        f"{'erase peak MB':>14}"
    )
    print(header)
    for size, row in figures["sizes"].items():
        print(
            f"{size:>8} {row['seed_seconds']:>7.1f} {row['export_seconds']:>9.2f} "
            f"{row['download_seconds']:>11.2f} {row['file_mb']:>8.1f} "
            f"{row['baseline_rss_mb']:>8.1f} {row['export_peak_rss_mb']:>15.1f} "
            f"{row['download_peak_rss_mb']:>17.1f} "
            f"{row['erase_seconds']:>8.2f} {row['erase_peak_rss_mb']:>14.1f}"
        )
    met = figures["targets_met"]
    print(
        f"erase {max(figures['sizes']):,} tickets: {figures['erase_largest_seconds']:.2f} s "
        f"(target < {ERASE_TARGET_SECONDS:g} s: {'met' if met['erase_under_10_s'] else 'MISSED'})"
    )
    print(
        f"export peak RSS {max(figures['sizes']):,} / {min(figures['sizes']):,}: "
        f"{figures['export_peak_ratio']:.2f}x "
        f"(target <= {MEMORY_RATIO_TARGET:g}x: "
        f"{'met' if met['export_memory_within_1_5x'] else 'MISSED'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", choices=("export", "erase"))
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="two ticket counts, smaller first (default %(default)s; e.g. 1000,100000)",
    )
    parser.add_argument("url", nargs="?")
    parser.add_argument("project_id", nargs="?")
    args = parser.parse_args()
    if args.worker == "export":
        print(json.dumps(asyncio.run(_export_worker(args.url, args.project_id))))
    elif args.worker == "erase":
        print(json.dumps(asyncio.run(_erase_worker(args.url, args.project_id))))
    else:
        small, large = (int(n) for n in args.sizes.split(","))
        print_table(asyncio.run(run((small, large))))


if __name__ == "__main__":
    main()
