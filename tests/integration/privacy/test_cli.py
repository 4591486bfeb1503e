"""`zumik-support privacy ...`: one JSON object on stdout; failures on stderr, non-zero exit."""

import secrets
import socket

import aio_pika
import httpx
from pymongo.asynchronous.database import AsyncDatabase
from yarl import URL
from zumik_privacy.app import PrivacyService
from zumik_privacy.settings import Settings
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.privacy.helpers import (
    Subject,
    find_anywhere,
    open_ticket,
    run_privacy_cli,
    unique_email,
)


async def test_cli_erase_prints_the_receipt(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy_settings: Settings,
    privacy_service: PrivacyService,
) -> None:
    erin = Subject(unique_email("Erin"))
    await open_ticket(api, project, erin)

    run = await run_privacy_cli(
        privacy_settings, "privacy", "erase", "--project", project.id, "--email", erin.email
    )

    receipt = run.json()
    assert receipt["object"] == "erasure_receipt"
    assert receipt["project_id"] == project.id
    assert receipt["scope"]["kind"] == "subject"
    assert receipt["counts"]["tickets"] == 1
    assert receipt["replayed"] is False
    assert erin.email.lower() not in run.stdout.lower()
    assert await find_anywhere(db, erin.needles) == []

    again = await run_privacy_cli(
        privacy_settings, "privacy", "erase", "--project", project.id, "--email", erin.email,
        "--request-id", receipt["request_id"],
    )  # fmt: skip
    assert again.json() == {**receipt, "replayed": True}


async def test_cli_reports_a_failed_command(
    privacy_settings: Settings, privacy_service: PrivacyService
) -> None:
    run = await run_privacy_cli(
        privacy_settings, "privacy", "erase", "--project", "prj_00000000000000000000000000"
    )

    assert run.returncode == 1
    assert run.stdout == ""
    assert "unknown_project" in run.stderr


async def test_cli_refuses_an_invalid_email_before_sending(
    project: ApiProject, privacy_settings: Settings, privacy_service: PrivacyService
) -> None:
    run = await run_privacy_cli(
        privacy_settings, "privacy", "erase", "--project", project.id, "--email", "nope"
    )

    assert run.returncode == 1
    assert "invalid contact_email" in run.stderr


async def test_cli_gives_up_after_its_timeout_with_a_clear_error(
    project: ApiProject, privacy_settings: Settings
) -> None:
    # A topology whose queue nobody consumes: the command is accepted and never answered.
    name = f"zumik.privacy.test.idle.{secrets.token_hex(4)}"
    connection = await aio_pika.connect(privacy_settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC)
        queue = await channel.declare_queue(name, exclusive=True)
        await queue.bind(exchange, "privacy.erase")
        idle = privacy_settings.model_copy(update={"privacy_exchange": name})

        run = await run_privacy_cli(
            idle, "privacy", "erase", "--project", project.id, "--timeout", "1"
        )

        await exchange.delete()
    assert run.returncode == 1
    assert "no result from the privacy service within 1 s" in run.stderr
    assert "--request-id prq_" in run.stderr


async def test_cli_says_when_nothing_receives_commands(
    project: ApiProject, privacy_settings: Settings
) -> None:
    nowhere = privacy_settings.model_copy(
        update={"privacy_exchange": f"zumik.privacy.test.none.{secrets.token_hex(4)}"}
    )

    run = await run_privacy_cli(
        nowhere, "privacy", "export", "--project", project.id, "--out", "x.json"
    )

    assert run.returncode == 1
    assert "is the privacy service running?" in run.stderr


async def test_cli_goes_on_to_the_next_node_when_one_is_down(
    privacy_settings: Settings, privacy_service: PrivacyService
) -> None:
    """`AMQP_URL` listing a node that is down first and the live one second: the command gets
    through (the CLI connects to the first node that answers, whichever it tries first)."""
    with socket.socket() as probe:  # a port nothing listens on, once closed
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    live = URL(privacy_settings.amqp_url)
    listed = privacy_settings.model_copy(
        update={
            "amqp_url": f"amqp://{live.raw_user}:{live.raw_password}@127.0.0.1:{dead},"
            f"{live.raw_host}:{live.port}{live.raw_path}"
        }
    )

    run = await run_privacy_cli(
        listed, "privacy", "erase", "--project", "prj_00000000000000000000000000"
    )

    assert run.returncode == 1
    assert "unknown_project" in run.stderr  # the service got the command and answered it
