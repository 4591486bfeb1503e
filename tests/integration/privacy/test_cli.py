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
        privacy_settings,
        "privacy",
        "erase",
        "--project",
        project.id,
        "--email",
        erin.email,
        "--yes",
    )
    assert f"request id {run.json()['request_id']}" in run.stderr  # said first, on stderr

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
        "--request-id", receipt["request_id"], "--yes",
    )  # fmt: skip
    assert again.json() == {**receipt, "replayed": True}


async def test_cli_reports_a_failed_command(
    privacy_settings: Settings, privacy_service: PrivacyService
) -> None:
    run = await run_privacy_cli(
        privacy_settings, "privacy", "erase", "--project", "prj_00000000000000000000000000", "--yes"
    )

    assert run.returncode == 1
    assert run.stdout == ""
    assert "unknown_project" in run.stderr


async def test_cli_refuses_an_invalid_email_before_sending(
    project: ApiProject, privacy_settings: Settings, privacy_service: PrivacyService
) -> None:
    run = await run_privacy_cli(
        privacy_settings, "privacy", "erase", "--project", project.id, "--email", "nope", "--yes"
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
            idle, "privacy", "erase", "--project", project.id, "--timeout", "1", "--yes"
        )

        await exchange.delete()
    assert run.returncode == 5
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

    assert run.returncode == 5
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
        listed, "privacy", "erase", "--project", "prj_00000000000000000000000000", "--yes"
    )

    assert run.returncode == 1
    assert "unknown_project" in run.stderr  # the service got the command and answered it


async def test_cli_erase_needs_confirmation_and_dry_run_counts_without_erasing(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy_settings: Settings,
    privacy_service: PrivacyService,
) -> None:
    erin = Subject(unique_email("Erin"))
    await open_ticket(api, project, erin)
    await open_ticket(api, project, erin)

    # Nobody to ask (no terminal) and no --yes: refused, nothing sent.
    refused = await run_privacy_cli(privacy_settings, "privacy", "erase", "--project", project.id)
    assert refused.returncode == 1
    assert "needs confirmation: pass --yes" in refused.stderr
    assert refused.stdout == ""

    preview = (
        await run_privacy_cli(
            privacy_settings, "privacy", "erase", "--project", project.id, "--dry-run"
        )
    ).json()
    assert preview["object"] == "erasure_preview"
    assert preview["dry_run"] is True
    assert preview["scope"] == {"kind": "project"}
    assert preview["counts"]["projects"] == 1
    assert preview["counts"]["api_keys"] >= 1
    assert preview["counts"]["tickets"] >= 2
    dry_run = ("privacy", "erase", "--project", project.id, "--email", erin.email, "--dry-run")
    subject = (await run_privacy_cli(privacy_settings, *dry_run)).json()
    assert subject["counts"]["tickets"] == 2
    assert subject["counts"]["messages"] >= 2
    assert (subject["counts"]["projects"], subject["counts"]["api_keys"]) == (0, 0)
    # Nothing was erased.
    assert len(await find_anywhere(db, erin.needles)) > 0


async def test_cli_says_in_one_line_when_rabbitmq_is_unreachable(
    project: ApiProject, privacy_settings: Settings
) -> None:
    down = privacy_settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1/"})
    run = await run_privacy_cli(down, "privacy", "erase", "--project", project.id, "--yes")
    assert run.returncode == 4
    assert run.stderr.strip().splitlines()[-1].startswith("zumik-support: cannot reach RabbitMQ")
    assert "Traceback" not in run.stderr
