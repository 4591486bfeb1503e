"""`zumik-support`: the operators' command line. Each command prints one JSON object on stdout;
progress and errors go to stderr, errors with one line and an exit status that says which
(see `zumik_cli.errors`)."""

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from importlib.metadata import version
from typing import Any, NoReturn

from pymongo.errors import PyMongoError
from zumik_store import mongo

from zumik_cli import console, privacy, projects, staff
from zumik_cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, CliError, StoreUnreachable
from zumik_cli.settings import get_settings

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]]

EPILOG = """exit status: 0 done; 1 the command failed; 2 usage; 3 MongoDB unreachable (MONGODB_URL);
4 RabbitMQ unreachable (AMQP_URL); 5 the privacy service did not answer; 130 interrupted."""


def _json_default(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zumik-support",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"zumik-support {version('zumik-cli')}"
    )
    groups = parser.add_subparsers(dest="group", required=True)
    projects.register(groups.add_parser("project", help="projects, plans and API keys"))
    staff.register(groups.add_parser("staff", help="Zumik team members and their tokens"))
    privacy.register(groups.add_parser("privacy", help="data export and erasure requests"))
    console.register(groups.add_parser("console", help="the web console: sign-in links"))
    return parser


def store_hosts(url: str) -> str:
    """Where MONGODB_URL points, without credentials or options."""
    rest = url.split("://", 1)[-1].rsplit("@", 1)[-1]
    return rest.split("/", 1)[0].split("?", 1)[0] or "?"


def _fail(error: CliError) -> NoReturn:
    print(f"zumik-support: {error}", file=sys.stderr)
    sys.exit(error.exit_code)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    command: Command = args.command
    try:
        result = asyncio.run(command(args))
    except CliError as error:
        _fail(error)
    except PyMongoError as error:
        # One line, not a traceback; the type only (the text may quote data).
        if mongo.is_unavailable(error):
            _fail(
                StoreUnreachable(
                    f"cannot reach MongoDB at {store_hosts(get_settings().mongodb_url)} "
                    f"({type(error).__name__}); is it running? MONGODB_URL says where it is."
                )
            )
        print(
            f"zumik-support: MongoDB refused the command ({type(error).__name__})", file=sys.stderr
        )
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        print("zumik-support: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    print(json.dumps(result, default=_json_default))
