"""Fixtures for the Zumik team's side: staff tokens and a tap on `zumik.support`."""

import secrets
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.staff import Staff
from zumik_store.mongo import Document

from tests.amqp import support_tap
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
    async with support_tap(services.amqp_url, "staff") as queue:
        yield EventTap(queue)
