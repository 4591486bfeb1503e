"""Fixtures for attachments: uploads through the app, what the store holds, staff, events."""

import secrets
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.staff import Staff
from zumik_store.mongo import Document

from tests.amqp import support_tap
from tests.integration.files.helpers import EventQueue, StaffUser
from tests.services import Services


@pytest.fixture
async def staff(db: AsyncDatabase[Document]) -> StaffUser:
    email = f"agent.{secrets.token_hex(4)}@zumik.example"
    return StaffUser(email=email, token=(await Staff(db).create(email)).token)


@pytest.fixture
async def events(services: Services) -> AsyncIterator[EventQueue]:
    async with support_tap(services.amqp_url, "files", "ticket.*") as queue:
        yield EventQueue(queue)
