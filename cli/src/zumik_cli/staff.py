"""`zumik-support staff ...`: Zumik team members and their tokens."""

import argparse
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError
from zumik_accounts.staff import Staff

from zumik_cli.errors import CliError
from zumik_cli.projects import store


async def create(args: argparse.Namespace) -> dict[str, Any]:
    try:
        email = TypeAdapter(EmailStr).validate_python(args.email)
    except ValidationError:
        raise CliError(f"{args.email!r} is not a valid email address.") from None
    async with store() as db:
        member, token = await Staff(db).create(email)
    return {"staff_id": member.id, "email": member.email, "token": token}


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True)
    sub = commands.add_parser("create", help="create a team member and print their token (once)")
    sub.add_argument("--email", required=True)
    sub.set_defaults(command=create)
