"""Fixtures for attachments: uploads through the app, what the store holds, staff, events."""

import secrets
from collections.abc import AsyncIterator

import aio_pika
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.staff import Staff
from zumik_contracts.events import SUPPORT_EXCHANGE
from zumik_store.mongo import Document

from tests.integration.files.helpers import EventQueue, StaffUser
from tests.services import Services


@pytest.fixture
async def staff(db: AsyncDatabase[Document]) -> StaffUser:
    email = f"agent.{secrets.token_hex(4)}@zumik.example"
    return StaffUser(email=email, token=(await Staff(db).create(email)).token)


@pytest.fixture
async def events(services: Services) -> AsyncIterator[EventQueue]:
    connection = await aio_pika.connect(services.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        SUPPORT_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(f"test.files.{secrets.token_hex(4)}", exclusive=True)
    await queue.bind(exchange, "ticket.*")
    yield EventQueue(queue)
    await connection.close()
