"""Commands are idempotent by request id; bad ones fail cleanly, touch nothing and are
dead-lettered; every result is also published on the exchange."""

import json
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.mongo import Document
from zumik_cli.privacy import new_request_id

from tests.conftest import ApiProject
from tests.integration.privacy.helpers import (
    DeadLetters,
    PrivacyClient,
    ResultTap,
    Subject,
    collection_counts,
    get_ticket,
    open_ticket,
    unique_email,
)


async def test_a_repeated_erasure_returns_the_same_receipt_and_does_nothing(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
    results: ResultTap,
) -> None:
    erin = Subject(unique_email("Erin"))
    await open_ticket(api, project, erin)
    request_id = new_request_id()

    first = await privacy.erase(project.id, email=erin.email, request_id=request_id)
    # Erin writes in again; a redelivery of the old command must not erase the new ticket.
    new_ticket = await open_ticket(api, project, erin, replies=0)
    second = await privacy.erase(project.id, email=erin.email, request_id=request_id)

    assert not first.replayed
    assert second.replayed
    assert second.receipt == first.receipt
    assert (await get_ticket(api, project, new_ticket))[0] == 200
    assert await db.privacy_receipts.count_documents({"_id": request_id}) == 1
    for expected in (first, second):
        routing_key, body = await results.for_request(request_id)
        assert routing_key == "privacy.erase.completed"
        assert body == json.loads(expected.model_dump_json())


async def test_a_repeated_export_returns_the_same_reference(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
) -> None:
    await open_ticket(api, project, Subject(unique_email("Erin")))
    request_id = new_request_id()

    first = await privacy.export(project.id, request_id=request_id)
    chunks = await db.privacy_export_chunks.count_documents({"export_id": request_id})
    second = await privacy.export(project.id, request_id=request_id)

    assert not first.replayed
    assert second.replayed
    assert second.export == first.export
    assert await db.privacy_exports.count_documents({"_id": request_id}) == 1
    assert await db.privacy_export_chunks.count_documents({"export_id": request_id}) == chunks


VALID_PROJECT = "prj_00000000000000000000000000"


def _command(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


# (case, body builder given (request id, project id), routing key, code, result routing key)
BAD_COMMANDS = [
    ("malformed JSON", lambda r, p: b'{"id": "' + r.encode() + b'", "type": "erase",', "privacy.erase", "malformed_json", "privacy.command.failed"),
    ("not an object", lambda r, p: b'["erase"]', "privacy.erase", "invalid_command", "privacy.command.failed"),
    ("unknown type", lambda r, p: _command(id=r, type="delete", project_id=p), "privacy.erase", "unknown_type", "privacy.command.failed"),
    ("no type", lambda r, p: _command(id=r, project_id=p), "privacy.export", "unknown_type", "privacy.command.failed"),
    ("missing project", lambda r, p: _command(id=r, type="erase"), "privacy.erase", "missing_project", "privacy.erase.failed"),
    ("unknown project", lambda r, p: _command(id=r, type="erase", project_id=VALID_PROJECT), "privacy.erase", "unknown_project", "privacy.erase.failed"),
    ("malformed project id", lambda r, p: _command(id=r, type="export", project_id="acme"), "privacy.export", "unknown_project", "privacy.export.failed"),
    ("invalid email", lambda r, p: _command(id=r, type="erase", project_id=p, contact_email="erin at example"), "privacy.erase", "invalid_email", "privacy.erase.failed"),
    ("empty email", lambda r, p: _command(id=r, type="erase", project_id=p, contact_email=""), "privacy.erase", "invalid_email", "privacy.erase.failed"),
    ("misspelt field", lambda r, p: _command(id=r, type="erase", project_id=p, contact_mail="e@example.com"), "privacy.erase", "invalid_command", "privacy.erase.failed"),
    ("no request id", lambda r, p: _command(type="erase", project_id=p), "privacy.erase", "invalid_command", "privacy.erase.failed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "routing_key", "code", "result_key"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_COMMANDS],
)
async def test_a_bad_command_fails_cleanly_touches_nothing_and_is_dead_lettered(
    body: Any,
    routing_key: str,
    code: str,
    result_key: str,
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
    results: ResultTap,
    dead_letters: DeadLetters,
) -> None:
    erin = Subject(unique_email("Erin"))
    ticket_id = await open_ticket(api, project, erin)
    before = await collection_counts(db)
    ticket_before = await get_ticket(api, project, ticket_id)
    request_id = new_request_id()
    raw: bytes = body(request_id, project.id)

    result = await privacy.send_raw(raw, routing_key, request_id)

    assert result.status == "failed"
    assert result.error is not None
    assert result.error.code == code
    assert result.receipt is None
    assert result.export is None
    readable_id = request_id if request_id.encode() in raw and code != "malformed_json" else None
    assert result.request_id == readable_id
    assert erin.email.lower() not in result.model_dump_json().lower()
    published_key, published = await results.for_request(readable_id)
    assert published_key == result_key
    assert published["error"]["code"] == code
    dead = await dead_letters.find(request_id)  # the CLI sets message_id = request id
    assert dead.body == raw
    assert dead.headers["x-death"][0]["reason"] == "rejected"  # type: ignore[index]
    assert await collection_counts(db) == before
    assert await get_ticket(api, project, ticket_id) == ticket_before


async def test_a_request_id_reused_for_another_command_is_refused(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
    dead_letters: DeadLetters,
) -> None:
    erin = Subject(unique_email("Erin"))
    await open_ticket(api, project, erin)
    request_id = new_request_id()
    await privacy.export(project.id, request_id=request_id)

    reused = await privacy.send("erase", project.id, email=erin.email, request_id=request_id)

    assert reused.status == "failed"
    assert reused.error is not None
    assert reused.error.code == "request_id_reused"
    assert await db.tickets.count_documents({"_id": erin.ticket_ids[0]}) == 1
    await dead_letters.find(request_id)
