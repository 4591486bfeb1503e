"""`zumik-support console link`: a one-time sign-in link, for operators who should not handle
raw API keys. It signs its bearer in to the project's Support tab once, within minutes."""

import argparse
from datetime import timedelta
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError
from zumik_accounts.projects import Projects
from zumik_accounts.sessions import Sessions

from zumik_cli.errors import CliError
from zumik_cli.projects import store
from zumik_cli.settings import get_settings

LINK_MINUTES = 15


async def link(args: argparse.Namespace) -> dict[str, Any]:
    try:
        email = TypeAdapter(EmailStr).validate_python(args.email)
    except ValidationError:
        raise CliError(f"{args.email!r} is not a valid email address.") from None
    lifetime = timedelta(minutes=args.minutes)
    async with store() as db:
        if await Projects(db).get(args.project) is None:
            raise CliError(f"No project {args.project!r}.")
        token = await Sessions(db).new_link(args.project, email, lifetime)
    base = get_settings().console_url.rstrip("/")
    return {
        "project_id": args.project,
        "email": email,
        "url": f"{base}/#/link/{token}",
        "expires_in_minutes": args.minutes,
    }


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True)
    sub = commands.add_parser("link", help="print a one-time console sign-in link")
    sub.add_argument("--project", required=True, help="the project id (prj_...)")
    sub.add_argument("--email", required=True, help="who signs in (prefills contact_email)")
    sub.add_argument(
        "--minutes",
        type=int,
        default=LINK_MINUTES,
        choices=range(1, 61),
        metavar="1-60",
        help=f"how long the link works (default {LINK_MINUTES})",
    )
    sub.set_defaults(command=link)
