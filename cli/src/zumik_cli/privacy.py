"""`zumik-support privacy ...`: send export and erasure commands to the privacy service.

Each command goes over RabbitMQ as a request (direct reply-to) and waits for its result, for at
most `--timeout` seconds. The request id makes a command idempotent: if the wait times out, the
command may still be running, and sending it again with `--request-id` returns its outcome
instead of running it twice.

Progress goes to stderr (the request id first, then what the command is waiting for); stdout
has the result only. An erasure asks for confirmation (`--yes` skips it, and is required where
nobody can answer); `--dry-run` counts what it would delete, without sending anything.
"""

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiormq.exceptions import AMQPError, ChannelNotFoundEntity, PublishError
from faststream.rabbit import Channel, ExchangeType, RabbitExchange
from pydantic import ValidationError
from rich.console import Console
from rich.prompt import Confirm
from zumik_accounts.projects import Projects
from zumik_contracts import ids
from zumik_contracts.privacy import PrivacyCommand, PrivacyResult, command_routing_key
from zumik_messaging.connection import make_broker
from zumik_privacy_records.download import ExportUnavailable, download_export
from zumik_store import mongo
from zumik_tickets.privacy import TicketPrivacy

from zumik_cli.errors import BrokerUnreachable, CliError, NoAnswer
from zumik_cli.projects import store
from zumik_cli.settings import Settings, get_settings

REQUEST_ID_PREFIX = "prq"
DEFAULT_TIMEOUT_SECONDS = 300.0
CONNECT_TIMEOUT_SECONDS = 10.0


class PrivacyCliError(CliError):
    """A failed privacy command; the message says what to do."""


def progress() -> Console:
    """Where progress goes: stderr (stdout is for the result)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def waiting(what: str) -> Iterator[None]:
    """A spinner on a terminal; one line otherwise."""
    console = progress()
    if console.is_terminal:
        with console.status(what):
            yield
    else:
        console.print(what)
        yield


def new_request_id() -> str:
    return ids.new_id(REQUEST_ID_PREFIX)


def _command(args: argparse.Namespace, command_type: str) -> PrivacyCommand:
    try:
        return PrivacyCommand.model_validate(
            {
                "id": args.request_id or new_request_id(),
                "type": command_type,
                "project_id": args.project,
                "contact_email": args.email,
            }
        )
    except ValidationError as error:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}))
        raise PrivacyCliError(f"invalid {fields or 'command'}") from None


async def send_command(
    settings: Settings, body: bytes, routing_key: str, *, request_id: str, wait_seconds: float
) -> PrivacyResult:
    """Publish a command and wait for its result (raw `body`, so tests can send bad ones)."""
    exchange = RabbitExchange(settings.privacy_exchange, type=ExchangeType.TOPIC, declare=False)
    try:
        # Any node of the cluster `AMQP_URL` lists: the first that answers.
        broker = make_broker(
            settings.amqp_url,
            # on_return_raises: an unroutable command (nobody bound the queue) fails at once
            # instead of timing out.
            default_channel=Channel(publisher_confirms=True, on_return_raises=True),
            logger=None,
        )
    except ValueError as error:  # its message masks passwords
        raise PrivacyCliError(f"AMQP_URL: {error}") from None
    try:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                await broker.connect()
        except (OSError, AMQPError, TimeoutError) as error:
            raise BrokerUnreachable(
                f"cannot reach RabbitMQ ({type(error).__name__}); is it running? "
                "AMQP_URL says where it is."
            ) from None
        try:
            # Passive: the CLI checks the exchange is there, it never creates it.
            await broker.declare_exchange(exchange)
        except ChannelNotFoundEntity:
            raise NoAnswer(
                f"the exchange {exchange.name!r} does not exist: is the privacy service running?"
            ) from None
        try:
            response = await broker.request(
                body,
                exchange=exchange,
                routing_key=routing_key,
                timeout=wait_seconds,
                persist=True,
                message_id=request_id,
                correlation_id=request_id,
                content_type="application/json",
            )
        except TimeoutError:
            raise NoAnswer(
                f"no result from the privacy service within {wait_seconds:g} s. The command may "
                f"still be running: send it again with --request-id {request_id} to get its "
                "outcome (it will not run twice)."
            ) from None
        except PublishError:
            raise NoAnswer(
                f"nothing receives privacy commands on {exchange.name!r}: is the "
                "privacy service running?"
            ) from None
    finally:
        with contextlib.suppress(Exception):  # the outcome (or error) is already known
            await broker.stop()
    try:
        return PrivacyResult.model_validate_json(response.body)
    except ValidationError:
        raise PrivacyCliError("the privacy service sent a result this CLI cannot read") from None


async def _run(command: PrivacyCommand, wait_seconds: float) -> PrivacyResult:
    progress().print(f"privacy {command.type}: request id {command.id}")
    with waiting(f"waiting for the privacy service (at most {wait_seconds:g} s)"):
        result = await send_command(
            get_settings(),
            command.model_dump_json().encode(),
            command_routing_key(command.type),
            request_id=command.id,
            wait_seconds=wait_seconds,
        )
    if result.status == "failed":
        error = result.error
        reason = f"{error.code}: {error.message}" if error is not None else "no reason given"
        raise PrivacyCliError(f"{command.type} {command.id} failed ({reason})")
    return result


def _output_path(value: str) -> Path:
    path = Path(value).resolve()
    if not path.parent.is_dir():
        raise PrivacyCliError(f"no such directory: {path.parent}")
    return path


async def export(args: argparse.Namespace) -> dict[str, Any]:
    command = _command(args, "export")
    out = await asyncio.to_thread(_output_path, args.out)
    result = await _run(command, args.timeout)
    reference = result.export
    if reference is None:
        raise PrivacyCliError("the privacy service's result has no export reference")
    client = mongo.connect(get_settings().mongodb_url)
    try:
        with waiting(f"downloading export {reference.export_id} ({reference.bytes:,} bytes)"):
            await download_export(mongo.database(client), reference, out)
    except ExportUnavailable as error:
        raise PrivacyCliError(f"cannot download export {reference.export_id}: {error}") from None
    finally:
        await client.close()
    return {
        "object": "privacy_export_file",
        "request_id": reference.request_id,
        "export_id": reference.export_id,
        "project_id": reference.project_id,
        "scope": reference.scope.model_dump(),
        "count": reference.count,
        "bytes": reference.bytes,
        "sha256": reference.sha256,
        "expires_at": reference.expires_at,
        "replayed": result.replayed,
        "path": str(out),
    }


async def dry_run(command: PrivacyCommand) -> dict[str, Any]:
    """What the erasure would delete of the project, its keys and its tickets; nothing is sent
    and nothing changes."""
    async with store() as db:
        exists = await Projects(db).get(command.project_id) is not None
        if not exists:
            raise PrivacyCliError(f"No project {command.project_id!r}.")
        whole_project = command.contact_email is None
        keys = len(await Projects(db).keys(command.project_id)) if whole_project else 0
        tickets = await TicketPrivacy(db).count(command.project_id, command.contact_email)
    return {
        "object": "erasure_preview",
        "dry_run": True,
        "project_id": command.project_id,
        "scope": {"kind": "project" if whole_project else "subject"},
        "counts": {"projects": int(whole_project), "api_keys": keys, **tickets},
        "note": "The erasure also deletes what is kept beside these (sessions, stored "
        "responses, delivery records, SLA timers, exports); its receipt counts everything.",
    }


def confirm(command: PrivacyCommand, assume_yes: bool) -> None:
    if assume_yes:
        return
    what = (
        f"every ticket, key and record of project {command.project_id}, and the project itself"
        if command.contact_email is None
        else f"the tickets of one data subject in project {command.project_id}"
    )
    if not sys.stdin.isatty():
        raise CliError(f"erasing {what} needs confirmation: pass --yes (or see --dry-run).")
    if not Confirm.ask(f"Erase {what}? This cannot be undone", console=progress(), default=False):
        raise CliError("not erased.")


async def erase(args: argparse.Namespace) -> dict[str, Any]:
    command = _command(args, "erase")
    if args.dry_run:
        return await dry_run(command)
    confirm(command, args.yes)
    result = await _run(command, args.timeout)
    if result.receipt is None:
        raise PrivacyCliError("the privacy service's result has no receipt")
    return {
        "object": "erasure_receipt",
        **result.receipt.model_dump(mode="json"),
        "replayed": result.replayed,
    }


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--project", required=True, help="the project id (prj_...)")
        sub.add_argument("--email", help="only this data subject's tickets (their contact_email)")
        sub.add_argument(
            "--request-id", help="the command's id; reuse one to get an earlier command's outcome"
        )
        sub.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT_SECONDS,
            help=f"seconds to wait for the result (default {DEFAULT_TIMEOUT_SECONDS:g})",
        )

    sub = commands.add_parser("export", help="export a project's or a data subject's tickets")
    common(sub)
    sub.add_argument("--out", required=True, help="the JSON file to write")
    sub.set_defaults(command=export)

    sub = commands.add_parser("erase", help="erase a project, or a data subject's tickets in it")
    common(sub)
    sub.add_argument("--yes", action="store_true", help="erase without asking for confirmation")
    sub.add_argument(
        "--dry-run",
        action="store_true",
        help="print the counts of what would be deleted, and delete nothing",
    )
    sub.set_defaults(command=erase)
