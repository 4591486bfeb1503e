"""Fixtures for the Zumik team's side: staff tokens and a tap on `zumik.support`."""

import secrets
from collections.abc import AsyncIterator

import aio_pika
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.staff import Staff
from zumik_contracts.events import SUPPORT_EXCHANGE
from zumik_store.mongo import Document

from tests.integration.staff.helpers import EventTap, StaffUser
from tests.services import Services


@pytest.fixture
async def staff(db: AsyncDatabase[Document]) -> StaffUser:
    email = f"agent.{secrets.token_hex(4)}@zumik.example"
    issued = await Staff(db).create(email)
    member, token = issued.member, issued.token
    assert member.email == email
    return StaffUser(email=email, token=token)


@pytest.fixture
async def event_tap(services: Services) -> AsyncIterator[EventTap]:
    connection = await aio_pika.connect(services.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        SUPPORT_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(f"test.staff.{secrets.token_hex(4)}", exclusive=True)
    await queue.bind(exchange, "#")
    yield EventTap(queue)
    await connection.close()
