"""Helpers for the privacy tests: sending commands, seeding a project's personal data, scanning
the whole database for it, reading results and dead letters, and running the CLI."""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from pymongo.asynchronous.database import AsyncDatabase
from zumik_cli.privacy import new_request_id, send_command
from zumik_cli.settings import Settings as CliSettings
from zumik_contracts.privacy import CommandType, PrivacyResult, command_routing_key
from zumik_privacy.settings import Settings
from zumik_store.clock import utc_now
from zumik_store.mongo import Document

from tests.amqp import take_until
from tests.cli import CliRun, run_cli
from tests.conftest import ApiProject

SALT = "test-salt-not-secret"
TICKETS = "/v2/support/tickets"
STAFF = "/v2/support/staff"


class OffsetClock:
    """The real clock, moved forward by `offset` (to reach an export's expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


@dataclass(frozen=True)
class Staff:
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class PrivacyClient:
    """Sends commands the way the CLI does: request/reply over the test topology."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send_raw(
        self, body: bytes, routing_key: str, request_id: str | None = None
    ) -> PrivacyResult:
        return await send_command(
            CliSettings(
                mongodb_url=self.settings.mongodb_url,
                amqp_url=self.settings.amqp_url,
                privacy_exchange=self.settings.privacy_exchange,
            ),
            body,
            routing_key,
            request_id=request_id or new_request_id(),
            wait_seconds=30,
        )

    async def send(
        self,
        command_type: CommandType,
        project_id: str,
        *,
        email: str | None = None,
        request_id: str | None = None,
    ) -> PrivacyResult:
        request_id = request_id or new_request_id()
        command: dict[str, Any] = {"id": request_id, "type": command_type, "project_id": project_id}
        if email is not None:
            command["contact_email"] = email
        return await self.send_raw(
            json.dumps(command).encode(), command_routing_key(command_type), request_id
        )

    async def export(self, project_id: str, **kwargs: Any) -> PrivacyResult:
        result = await self.send("export", project_id, **kwargs)
        assert result.status == "completed", result
        return result

    async def erase(self, project_id: str, **kwargs: Any) -> PrivacyResult:
        result = await self.send("erase", project_id, **kwargs)
        assert result.status == "completed", result
        return result


class ResultTap:
    """A queue bound to every result on the test exchange."""

    def __init__(self, queue: AbstractQueue) -> None:
        self.queue = queue

    async def for_request(
        self, request_id: str | None, within: float = 10.0
    ) -> tuple[str, dict[str, Any]]:
        """(routing key, body) of the first result for `request_id` (None: an unreadable one)."""
        message = await take_until(
            self.queue, lambda m: json.loads(m.body)["request_id"] == request_id, within=within
        )
        body: dict[str, Any] = json.loads(message.body)
        return str(message.routing_key), body


class DeadLetters:
    """Reads the service's dead-letter queue."""

    def __init__(self, queue: AbstractQueue) -> None:
        self.queue = queue

    async def find(self, message_id: str, within: float = 10.0) -> AbstractIncomingMessage:
        return await take_until(self.queue, lambda m: m.message_id == message_id, within=within)


@dataclass
class Subject:
    """One data subject's footprint in a project."""

    email: str
    ticket_ids: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)

    @property
    def needles(self) -> list[str]:
        return [self.email, *self.bodies]


def expected_hash(email: str) -> str:
    return hmac.new(SALT.encode(), email.lower().encode(), hashlib.sha256).hexdigest()


def unique_email(name: str) -> str:
    # Mixed case, as people type them: erasure must find every casing.
    return f"{name}.{secrets.token_hex(4)}@Example.com"


async def open_ticket(
    api: httpx.AsyncClient, project: ApiProject, subject: Subject, *, replies: int = 1
) -> str:
    """A ticket of `subject` with `replies` customer replies; every POST under an
    Idempotency-Key, so the idempotency log holds whole responses too."""
    body = f"My email is {subject.email}; opening note {secrets.token_hex(6)}"
    response = await api.post(
        TICKETS,
        json={"subject": "Help with my account", "body": body, "contact_email": subject.email},
        headers={**project.headers, "Idempotency-Key": secrets.token_hex(8)},
    )
    assert response.status_code == 201, response.text
    ticket_id = str(response.json()["id"])
    subject.ticket_ids.append(ticket_id)
    subject.bodies.append(body)
    for _ in range(replies):
        reply = f"Follow-up {secrets.token_hex(6)} from {subject.email}"
        response = await api.post(
            f"{TICKETS}/{ticket_id}/messages",
            json={"body": reply},
            headers={**project.headers, "Idempotency-Key": secrets.token_hex(8)},
        )
        assert response.status_code == 200, response.text
        subject.bodies.append(reply)
    return ticket_id


async def internal_note(
    api: httpx.AsyncClient, staff: Staff, ticket_id: str, subject: Subject
) -> None:
    note = f"Internal: {subject.email} called about {secrets.token_hex(6)}"
    response = await api.post(
        f"{STAFF}/tickets/{ticket_id}/messages",
        json={"body": note, "internal": True},
        headers=staff.headers,
    )
    assert response.status_code == 200, response.text
    subject.bodies.append(note)


async def record_deliveries(
    db: AsyncDatabase[Document], project_id: str, ticket_ids: list[str]
) -> None:
    """Delivery log entries as the notifier writes them (ids only)."""
    now = utc_now()
    for ticket_id in ticket_ids:
        await db.notification_deliveries.insert_one(
            {
                "_id": f"evt_{secrets.token_hex(8)}:webhook",
                "project_id": project_id,
                "ticket_id": ticket_id,
                "channel": "webhook",
                "state": "delivered",
                "created_at": now,
                "updated_at": now,
            }
        )


async def get_ticket(
    api: httpx.AsyncClient, project: ApiProject, ticket_id: str
) -> tuple[int, dict[str, Any]]:
    response = await api.get(f"{TICKETS}/{ticket_id}", headers=project.headers)
    body: dict[str, Any] = response.json()
    return response.status_code, body


def _searchable(value: Any) -> str:
    """A document as text, bytes included (idempotency responses, export chunks)."""

    def default(item: Any) -> str:
        if isinstance(item, bytes):
            return item.decode("utf-8", "replace")
        if isinstance(item, datetime):
            return item.isoformat()
        return str(item)

    return json.dumps(value, default=default, ensure_ascii=False)


async def find_anywhere(db: AsyncDatabase[Document], needles: list[str]) -> list[str]:
    """Every (collection, needle) where a needle appears, case-insensitively, in any document of
    any collection of the database."""
    lowered = [n.lower() for n in needles]
    hits: list[str] = []
    for name in sorted(await db.list_collection_names()):
        async for doc in db[name].find({}):
            text = _searchable(doc).lower()
            hits.extend(f"{name}: {needle}" for needle in lowered if needle in text)
    return hits


async def collection_counts(db: AsyncDatabase[Document]) -> dict[str, int]:
    """Documents per collection; not the ones that come and go by themselves: `ticket_locks`
    (a lease per ticket change) and `rate_limits` (the API's counts, shared in the background)."""
    return {
        name: await db[name].count_documents({})
        for name in sorted(await db.list_collection_names())
        if name not in ("ticket_locks", "rate_limits")
    }


async def run_privacy_cli(settings: Settings, *args: str) -> CliRun:
    env = {
        "MONGODB_URL": settings.mongodb_url,
        "AMQP_URL": settings.amqp_url,
        "PRIVACY_EXCHANGE": settings.privacy_exchange,
        "PRIVACY_QUEUE_PREFIX": settings.privacy_queue_prefix,
    }
    return await run_cli(env, *args)


def tickets_bytes(exported: bytes) -> bytes:
    """The bytes the export's sha256 covers: after `"tickets": ` up to the closing `]`."""
    start = exported.index(b'"tickets": ') + len(b'"tickets": ')
    end = exported.rindex(b"]") + 1
    return exported[start:end]
