"""`zumik-support staff ...`: Zumik team members and their tokens."""

import argparse
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError
from zumik_accounts.staff import Staff

from zumik_cli.durations import duration
from zumik_cli.errors import CliError
from zumik_cli.projects import store


async def create(args: argparse.Namespace) -> dict[str, Any]:
    try:
        email = TypeAdapter(EmailStr).validate_python(args.email)
    except ValidationError:
        raise CliError(f"{args.email!r} is not a valid email address.") from None
    async with store() as db:
        issued = await Staff(db).create(email, expires_in=args.expires_in)
    return {
        "staff_id": issued.member.id,
        "email": issued.member.email,
        "token": issued.token,
        "expires_at": issued.expires_at,
    }


async def list_all(_: argparse.Namespace) -> dict[str, Any]:
    async with store() as db:
        members = await Staff(db).members()
    return {
        "object": "list",
        "data": [
            {"staff_id": info.id, "email": email, **info.as_dict()} for email, info in members
        ],
    }


async def revoke(args: argparse.Namespace) -> dict[str, Any]:
    async with store() as db:
        revoked = await Staff(db).revoke(args.staff_id)
    if not revoked:
        raise CliError(f"No team member {args.staff_id!r}.")
    return {"staff_id": args.staff_id, "revoked": True, "tokens": revoked}


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True)
    sub = commands.add_parser("create", help="create a team member and print their token (once)")
    sub.add_argument("--email", required=True)
    sub.add_argument(
        "--expires-in", type=duration, help="the token stops working after this long, e.g. 90d"
    )
    sub.set_defaults(command=create)

    sub = commands.add_parser("list", help="list team members (never their tokens)")
    sub.set_defaults(command=list_all)

    sub = commands.add_parser(
        "revoke", help="revoke a member's tokens (and end their console sessions)"
    )
    sub.add_argument("staff_id", help="the member's id (stf_...), from `staff list`")
    sub.set_defaults(command=revoke)
