"""`uv run zumik-support project ...`: JSON on stdout, errors on stderr, keys that work."""

import asyncio
import secrets
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_store.mongo import Document

from tests.cli import CliRun, run_cli
from tests.conftest import ProjectFactory

TICKETS = "/v2/support/tickets"


async def cli(mongodb_url: str, *args: str) -> CliRun:
    return await run_cli({"MONGODB_URL": mongodb_url}, *args)


def unique_name() -> str:
    return f"CLI project {secrets.token_hex(4)}"


async def open_ticket(api: httpx.AsyncClient, api_key: str) -> httpx.Response:
    return await api.post(
        TICKETS,
        json={"subject": "From the CLI", "body": "Does my key work?"},
        headers={"Authorization": f"Bearer {api_key}"},
    )


async def listed_projects(mongodb_url: str) -> dict[str, dict[str, Any]]:
    result = (await cli(mongodb_url, "project", "list")).json()
    assert result["object"] == "list"
    return {item["project_id"]: item for item in result["data"]}


async def test_create_prints_the_project_and_a_working_key(
    api: httpx.AsyncClient, mongodb_url: str
) -> None:
    name = unique_name()
    created = (
        await cli(mongodb_url, "project", "create", "--name", name, "--plan", "pilot")
    ).json()
    assert {"project_id", "api_key", "plan"} <= set(created)
    assert created["project_id"].startswith("prj_")
    assert created["api_key"].startswith("zsk_")
    assert created["plan"] == "pilot"

    response = await open_ticket(api, created["api_key"])
    assert response.status_code == 201, response.text
    assert response.json()["plan_tier"] == "pilot"
    assert response.json()["sla"]["tier"] == "priority"

    listed = await listed_projects(mongodb_url)
    assert listed[created["project_id"]]["name"] == name
    assert listed[created["project_id"]]["plan"] == "pilot"


async def test_set_plan_changes_the_plan_for_new_tickets(
    api: httpx.AsyncClient, mongodb_url: str, db: AsyncDatabase[Document]
) -> None:
    created = (
        await cli(mongodb_url, "project", "create", "--name", unique_name(), "--plan", "free")
    ).json()
    before = (await open_ticket(api, created["api_key"])).json()
    assert before["sla"]["tier"] == "community"

    changed = (await cli(mongodb_url, "project", "set-plan", created["project_id"], "base")).json()
    assert changed["project_id"] == created["project_id"]
    assert changed["plan"] == "base"

    after = (await open_ticket(api, created["api_key"])).json()
    assert (after["plan_tier"], after["sla"]["tier"]) == ("base", "standard")
    kept = await api.get(
        f"{TICKETS}/{before['id']}", headers={"Authorization": f"Bearer {created['api_key']}"}
    )
    assert (kept.json()["plan_tier"], kept.json()["sla"]["tier"]) == ("free", "community")
    stored = await Projects(db).get(created["project_id"])
    assert stored is not None
    assert stored.plan == "base"


async def test_new_key_gives_a_second_working_key_for_the_same_project(
    api: httpx.AsyncClient, mongodb_url: str
) -> None:
    created = (
        await cli(mongodb_url, "project", "create", "--name", unique_name(), "--plan", "base")
    ).json()
    second = (await cli(mongodb_url, "project", "new-key", created["project_id"])).json()
    assert second["project_id"] == created["project_id"]
    assert second["api_key"].startswith("zsk_")
    assert second["api_key"] != created["api_key"]

    with_second = await open_ticket(api, second["api_key"])
    assert with_second.status_code == 201, with_second.text
    with_first = await open_ticket(api, created["api_key"])
    assert with_first.status_code == 201, with_first.text
    # Both keys see the same project's tickets.
    for key in (created["api_key"], second["api_key"]):
        page = await api.get(TICKETS, headers={"Authorization": f"Bearer {key}"})
        assert {t["id"] for t in page.json()["data"]} == {
            with_first.json()["id"],
            with_second.json()["id"],
        }


def assert_refused(run: CliRun, *mentions: str) -> None:
    assert run.returncode != 0
    assert run.stdout == ""
    assert run.stderr.strip()
    for text in mentions:
        assert text in run.stderr


async def test_unknown_plan_is_refused_and_creates_nothing(
    mongodb_url: str, make_project: ProjectFactory, db: AsyncDatabase[Document]
) -> None:
    name = unique_name()
    existing = await make_project(plan="free")
    create_run, set_plan_run = await asyncio.gather(
        cli(mongodb_url, "project", "create", "--name", name, "--plan", "gold"),
        cli(mongodb_url, "project", "set-plan", existing.id, "platinum"),
    )
    assert_refused(create_run, "gold", "free", "base", "pilot", "enterprise")
    assert_refused(set_plan_run, "platinum")
    assert await db.projects.count_documents({"name": name}) == 0
    stored = await Projects(db).get(existing.id)
    assert stored is not None
    assert stored.plan == "free"


async def test_unknown_project_is_refused(mongodb_url: str, db: AsyncDatabase[Document]) -> None:
    missing = "prj_" + "0" * 26
    set_plan_run, new_key_run = await asyncio.gather(
        cli(mongodb_url, "project", "set-plan", missing, "enterprise"),
        cli(mongodb_url, "project", "new-key", missing),
    )
    assert_refused(set_plan_run, missing)
    assert_refused(new_key_run, missing)
    assert await Projects(db).get(missing) is None
    assert await db.api_keys.count_documents({"project_id": missing}) == 0
