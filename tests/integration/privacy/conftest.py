"""Fixtures for the privacy service: the service in-process on the test database, under a
topology of its own (so parallel runs and a running stack never see each other's commands), a
controllable clock, a tap on the results, and the dead-letter queue."""

import secrets
from collections.abc import AsyncIterator

import aio_pika
import pytest
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.staff import Staff as StaffDirectory
from zumik_privacy.app import PrivacyService, build_privacy
from zumik_privacy.settings import Settings
from zumik_store.mongo import Document

from tests.integration.privacy.helpers import (
    SALT,
    DeadLetters,
    OffsetClock,
    PrivacyClient,
    ResultTap,
    Staff,
)
from tests.services import Services


@pytest.fixture(scope="session")
def privacy_settings(mongodb_url: str, services: Services) -> Settings:
    name = f"zumik.privacy.test.{secrets.token_hex(4)}"
    return Settings(
        mongodb_url=mongodb_url,
        amqp_url=services.amqp_url,
        privacy_subject_salt=SecretStr(SALT),
        privacy_exchange=name,
        privacy_queue_prefix=name,
        privacy_delivery_limit=3,
        privacy_retry_backoff_seconds=0.05,
        # Small chunks, so that even a test's few tickets span several of them.
        privacy_export_chunk_bytes=4096,
        privacy_export_cursor_batch=3,
        privacy_sweep_every_seconds=3600,  # the tests run the sweep themselves
        privacy_claim_lease_seconds=6,
        privacy_ticket_lock_wait_seconds=3,
        privacy_erase_settle_seconds=0.1,
    )


@pytest.fixture(scope="session")
def privacy_clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture(scope="session")
async def privacy_service(
    privacy_settings: Settings, privacy_clock: OffsetClock, db: AsyncDatabase[Document]
) -> AsyncIterator[PrivacyService]:
    service = build_privacy(privacy_settings, privacy_clock)
    await service.start()
    yield service
    await service.stop()
    connection = await aio_pika.connect(privacy_settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in service.topology.queues:
            await channel.queue_delete(queue.name)
        for exchange in service.topology.exchanges:
            await channel.exchange_delete(exchange.name)


@pytest.fixture
def privacy(privacy_service: PrivacyService, privacy_settings: Settings) -> PrivacyClient:
    return PrivacyClient(privacy_settings)


@pytest.fixture
async def results(
    privacy_service: PrivacyService, privacy_settings: Settings
) -> AsyncIterator[ResultTap]:
    connection = await aio_pika.connect(privacy_settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(privacy_service.topology.exchange.name)
        queue = await channel.declare_queue(
            f"test.privacy.results.{secrets.token_hex(4)}", exclusive=True
        )
        await queue.bind(exchange, "privacy.*.completed")
        await queue.bind(exchange, "privacy.*.failed")
        yield ResultTap(queue)


@pytest.fixture
async def dead_letters(
    privacy_service: PrivacyService, privacy_settings: Settings
) -> AsyncIterator[DeadLetters]:
    connection = await aio_pika.connect(privacy_settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(privacy_service.topology.dead_letters.queue.name)
        yield DeadLetters(queue)


@pytest.fixture
async def staff(db: AsyncDatabase[Document]) -> Staff:
    email = f"agent.{secrets.token_hex(4)}@zumik.example"
    token = (await StaffDirectory(db).create(email)).token
    return Staff(email, token)
