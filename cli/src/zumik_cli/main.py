"""`zumik-support`: the operators' command line. Each command prints one JSON object on stdout;
errors go to stderr with a non-zero exit."""

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

from zumik_cli import console, privacy, projects, staff
from zumik_cli.errors import CliError

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]]


def _json_default(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zumik-support", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)
    projects.register(groups.add_parser("project", help="projects, plans and API keys"))
    staff.register(groups.add_parser("staff", help="Zumik team members and their tokens"))
    privacy.register(groups.add_parser("privacy", help="data export and erasure requests"))
    console.register(groups.add_parser("console", help="the web console: sign-in links"))
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    command: Command = args.command
    try:
        result = asyncio.run(command(args))
    except CliError as error:
        print(f"zumik-support: {error}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result, default=_json_default))
