"""What the store is and how it runs a query: its version, and a one-line query plan."""

import re
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document


async def store_version(db: AsyncDatabase[Document]) -> str:
    info = await db.command("buildInfo")
    if "ferretdbVersion" in info:
        return (
            f"FerretDB {info['ferretdbVersion']} (SQLite backend, MongoDB {info['version']} wire)"
        )
    return f"MongoDB {info.get('version', '?')}"


def _sqlite_steps(plan: str) -> tuple[bool, list[str]]:
    """Whether SQLite's plan reads a whole table (a SCAN of it without an index), and each
    step that reads the collection (`search` or `scan` of an index, named by the keys FerretDB
    names it after, or `table scan`), each once."""
    full = False
    steps: list[str] = []
    found = re.findall(r"\b(SEARCH|SCAN) (\S+)(?: USING (?:COVERING )?INDEX (\S+))?", plan)
    for kind, table, index in found:
        if table.startswith("("):  # a subquery's own rows, not the collection's
            continue
        if index:
            step = f"{kind.lower()} {index.removeprefix(f'{table}_')}"
        else:
            full = True
            step = "table scan"
        if step not in steps:
            steps.append(step)
    return full, steps


def _mongo_stages(plan: dict[str, Any]) -> list[str]:
    stages = [str(plan.get("stage", "?"))]
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), dict):
            stages += _mongo_stages(plan[key])
    return stages


async def query_plan(
    db: AsyncDatabase[Document],
    filter_: dict[str, Any],
    sort: dict[str, int] | None = None,
    limit: int | None = None,
    collection: str = "tickets",
) -> str:
    """How the store runs `find(filter).sort(sort).limit(limit)` on `collection`, in a few words."""
    command: dict[str, Any] = {"find": collection, "filter": filter_}
    if sort:
        command["sort"] = sort
    if limit:
        command["limit"] = limit
    try:
        result = await db.command("explain", command)
    except Exception as error:
        return f"explain failed: {type(error).__name__}"
    if "filterPushdown" in result:  # FerretDB
        plan = " ".join(result.get("queryPlanner", {}).get("Plan", []))
        full, steps = _sqlite_steps(plan)
        access = "full SCAN" if full else "index SEARCH"
        using = f" ({', '.join(steps)})" if steps and steps != ["table scan"] else ""
        return (
            f"SQLite {access}{using}; filter pushdown {result['filterPushdown']}, "
            f"sort pushdown {result.get('sortPushdown')}"
        )
    winning = result.get("queryPlanner", {}).get("winningPlan", {})
    return " <- ".join(_mongo_stages(winning))
