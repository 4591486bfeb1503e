"""`scripts/store-figures`: how the customer's list and the team's queue grow with tickets.

Opens one ticket through the API (in-process), copies its document to reach each size, and
times a first page (20) of the project's list, at the store and over HTTP, and of the team's
queue: the fastest of several runs, the one least disturbed by other work on the machine. Then
adds as many tickets to another project, to show what they cost this project's list.
"""

import asyncio
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from zumik_accounts.projects import Projects
from zumik_api.bootstrap import build_runtime, create_app
from zumik_api.settings import Settings
from zumik_contracts.staff import QueueFilters
from zumik_store import mongo
from zumik_store.clock import utc_now
from zumik_tickets.queue import SupportQueue

from tests.services import with_database

RUNS = 7
BATCH = 500


async def fastest(call: Callable[[], Awaitable[object]], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return min(samples)


def copies(template: dict[str, Any], count: int, **changes: str) -> list[dict[str, Any]]:
    return [
        {**template, "_id": f"spt_{secrets.token_hex(13)[:26]}", **changes} for _ in range(count)
    ]


async def measure(server: str, sizes: list[int]) -> None:
    url = with_database(server, f"zumik_figures_{secrets.token_hex(3)}")
    settings = Settings(mongodb_url=url, sla_scheduler_enabled=False, store_timeout_seconds=10)
    runtime = build_runtime(settings)
    app = create_app(settings, runtime)
    db = runtime.db
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://figures") as api,
        ):
            projects = Projects(db)
            project = await projects.create("Figures", "enterprise")
            other = await projects.create("Other", "base")
            headers = {
                "Authorization": f"Bearer {(await projects.new_api_key(project.id)).api_key}"
            }
            body = {"subject": "Figures", "body": "A message of a usual length. " * 8}
            created = await api.post("/v2/support/tickets", json=body, headers=headers)
            assert created.status_code == 201, created.text
            template = await db.tickets.find_one({"_id": created.json()["id"]})
            assert template is not None
            template["outbox"] = []
            queue = SupportQueue(db)

            async def page() -> object:
                return await runtime.store.page(
                    project.id, limit=20, status=None, cursor=None, direction="older"
                )

            async def listed() -> object:
                return await api.get("/v2/support/tickets?limit=20", headers=headers)

            async def queued() -> object:
                return await queue.page(QueueFilters(), limit=20, cursor=None, now=utc_now())

            print("tickets in the project,other tickets,store page ms,HTTP list ms,queue ms")
            have = 1
            for size in sizes:
                new = copies(template, size - have)
                for start in range(0, len(new), BATCH):
                    await db.tickets.insert_many(new[start : start + BATCH])
                have = max(have, size)
                figures = [await fastest(page), await fastest(listed), await fastest(queued, 5)]
                print(f"{size},0," + ",".join(f"{ms:.0f}" for ms in figures), flush=True)
            new = copies(template, have, project_id=other.id)
            for start in range(0, len(new), BATCH):
                await db.tickets.insert_many(new[start : start + BATCH])
            figures = [await fastest(page), await fastest(listed)]
            print(f"{have},{have}," + ",".join(f"{ms:.0f}" for ms in figures) + ",-")
    finally:
        # The runtime closed its client when the app stopped: one of our own drops the database.
        cleanup = mongo.connect(url, timeout_seconds=30)
        try:
            await cleanup.drop_database(db.name)
        finally:
            await cleanup.close()


if __name__ == "__main__":
    asyncio.run(measure(sys.argv[1], [int(n) for n in sys.argv[2].split(",")]))
