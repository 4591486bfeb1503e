"""`zumik-support project ...`: create projects, change plans, issue API keys."""

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects, UnknownPlan, parse_plan
from zumik_contracts.tickets import PLANS, Plan
from zumik_store import mongo
from zumik_store.mongo import Document

from zumik_cli.errors import CliError
from zumik_cli.settings import get_settings


class ProjectError(CliError):
    """An unknown plan or project."""


@asynccontextmanager
async def store() -> AsyncIterator[AsyncDatabase[Document]]:
    """The database named by MONGODB_URL, with its indexes in place."""
    client = mongo.connect(get_settings().mongodb_url)
    try:
        db = mongo.database(client)
        await Projects(db).ensure_indexes()
        yield db
    finally:
        await client.close()


@asynccontextmanager
async def _projects() -> AsyncIterator[Projects]:
    async with store() as db:
        yield Projects(db)


def _plan(value: str) -> Plan:
    try:
        return parse_plan(value)
    except UnknownPlan as error:
        raise ProjectError(str(error)) from None


async def create(args: argparse.Namespace) -> dict[str, Any]:
    plan = _plan(args.plan)
    async with _projects() as projects:
        project = await projects.create(args.name, plan)
        api_key = await projects.new_api_key(project.id)
    return {"project_id": project.id, "name": project.name, "plan": plan, "api_key": api_key}


async def set_plan(args: argparse.Namespace) -> dict[str, Any]:
    plan = _plan(args.plan)
    async with _projects() as projects:
        if not await projects.set_plan(args.project_id, plan):
            raise ProjectError(f"No project {args.project_id!r}.")
    return {"project_id": args.project_id, "plan": plan}


async def new_key(args: argparse.Namespace) -> dict[str, Any]:
    async with _projects() as projects:
        if await projects.get(args.project_id) is None:
            raise ProjectError(f"No project {args.project_id!r}.")
        api_key = await projects.new_api_key(args.project_id)
    return {"project_id": args.project_id, "api_key": api_key}


async def list_all(_: argparse.Namespace) -> dict[str, Any]:
    async with _projects() as projects:
        found = await projects.all()
    return {
        "object": "list",
        "data": [
            {"project_id": p.id, "name": p.name, "plan": p.plan, "created_at": p.created_at}
            for p in found
        ],
    }


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True)
    plans = f"one of: {', '.join(PLANS)}"

    sub = commands.add_parser("create", help="create a project and its first API key")
    sub.add_argument("--name", required=True)
    sub.add_argument("--plan", required=True, help=plans)
    sub.set_defaults(command=create)

    sub = commands.add_parser("set-plan", help="change a project's plan (new tickets only)")
    sub.add_argument("project_id")
    sub.add_argument("plan", help=plans)
    sub.set_defaults(command=set_plan)

    sub = commands.add_parser("new-key", help="issue another API key, for rotation")
    sub.add_argument("project_id")
    sub.set_defaults(command=new_key)

    sub = commands.add_parser("list", help="list projects")
    sub.set_defaults(command=list_all)
