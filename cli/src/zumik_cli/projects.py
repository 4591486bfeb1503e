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

from zumik_cli.durations import duration
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
        issued = await projects.new_api_key(project.id, expires_in=args.expires_in)
    return {
        "project_id": project.id,
        "name": project.name,
        "plan": plan,
        "api_key": issued.api_key,
        "key_id": issued.key_id,
        "expires_at": issued.expires_at,
    }


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
        issued = await projects.new_api_key(args.project_id, expires_in=args.expires_in)
    return {
        "project_id": args.project_id,
        "api_key": issued.api_key,
        "key_id": issued.key_id,
        "expires_at": issued.expires_at,
    }


async def keys(args: argparse.Namespace) -> dict[str, Any]:
    async with _projects() as projects:
        if await projects.get(args.project_id) is None:
            raise ProjectError(f"No project {args.project_id!r}.")
        found = await projects.keys(args.project_id)
    return {"object": "list", "data": [key.as_dict() for key in found]}


async def revoke_key(args: argparse.Namespace) -> dict[str, Any]:
    async with _projects() as projects:
        revoked = await projects.revoke_key(args.key_id)
    if revoked is None:
        raise ProjectError(f"No API key {args.key_id!r}.")
    return {"revoked": True, "project_id": revoked.owner_id, **revoked.as_dict()}


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

    def expiry(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--expires-in",
            type=duration,
            help="the key stops working after this long, e.g. 90d or 12h",
        )

    sub = commands.add_parser("create", help="create a project and its first API key")
    sub.add_argument("--name", required=True)
    sub.add_argument("--plan", required=True, help=plans)
    expiry(sub)
    sub.set_defaults(command=create)

    sub = commands.add_parser("set-plan", help="change a project's plan (new tickets only)")
    sub.add_argument("project_id")
    sub.add_argument("plan", help=plans)
    sub.set_defaults(command=set_plan)

    sub = commands.add_parser("new-key", help="issue another API key, for rotation")
    sub.add_argument("project_id")
    expiry(sub)
    sub.set_defaults(command=new_key)

    sub = commands.add_parser("keys", help="list a project's API keys (never the keys themselves)")
    sub.add_argument("project_id")
    sub.set_defaults(command=keys)

    sub = commands.add_parser(
        "revoke-key", help="revoke an API key (and end the console sessions it opened)"
    )
    sub.add_argument("key_id", help="the key's id (key_...), from `project keys`")
    sub.set_defaults(command=revoke_key)

    sub = commands.add_parser("list", help="list projects")
    sub.set_defaults(command=list_all)
