"""Commands are idempotent by request id; bad ones fail cleanly, touch nothing and are
dead-lettered; every result is also published on the exchange."""

import json
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import Runtime
from zumik_cli.privacy import new_request_id
from zumik_contracts.privacy import ErasureCounts
from zumik_store.clock import utc_now
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.privacy.helpers import (
    DeadLetters,
    PrivacyClient,
    ResultTap,
    Subject,
    collection_counts,
    expected_hash,
    find_anywhere,
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


async def test_an_interrupted_erasure_is_taken_over_and_finished(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
) -> None:
    erin = Subject(unique_email("Erin"))
    await open_ticket(api, project, erin)
    request_id = new_request_id()
    started_at = utc_now() - timedelta(minutes=5)
    # A worker died mid-erasure: its claim is still running, its lease ran out, and it had
    # recorded some counts.
    await db.privacy_receipts.insert_one(
        {
            "_id": request_id,
            "type": "erase",
            "request_id": request_id,
            "project_id": project.id,
            "scope": "subject",
            "subject_hash": expected_hash(erin.email),
            "state": "running",
            "token": "dead-worker",
            "expires_at": utc_now() - timedelta(seconds=1),
            "started_at": started_at,
            "counts": {**ErasureCounts().model_dump(), "notification_deliveries": 3},
        }
    )

    result = await privacy.erase(project.id, email=erin.email, request_id=request_id)

    receipt = result.receipt
    assert receipt is not None
    assert not result.replayed
    assert receipt.started_at == started_at
    assert receipt.counts.notification_deliveries == 3  # what the dead worker had done
    assert receipt.counts.tickets == 1
    assert await find_anywhere(db, erin.needles) == []


UNKNOWN_PROJECT = "prj_00000000000000000000000000"


def bad_body(case: str, request_id: str, project_id: str) -> bytes:
    """The body of each kind of bad command."""
    erase = {"id": request_id, "type": "erase", "project_id": project_id}
    bodies: dict[str, Any] = {
        "malformed JSON": b'{"id": "' + request_id.encode() + b'", "type": "erase",',
        "not an object": b'["erase"]',
        "unknown type": {**erase, "type": "delete"},
        "no type": {"id": request_id, "project_id": project_id},
        "missing project": {"id": request_id, "type": "erase"},
        "unknown project": {**erase, "project_id": UNKNOWN_PROJECT},
        "malformed project id": {**erase, "type": "export", "project_id": "acme"},
        "invalid email": {**erase, "contact_email": "erin at example"},
        "empty email": {**erase, "contact_email": ""},
        "misspelt field": {**erase, "contact_mail": "erin@example.com"},
        "no request id": {"type": "erase", "project_id": project_id},
    }
    body = bodies[case]
    return body if isinstance(body, bytes) else json.dumps(body).encode()


# (case, routing key it is sent with, failure code, routing key of the published failure)
BAD_COMMANDS = [
    ("malformed JSON", "privacy.erase", "malformed_json", "privacy.command.failed"),
    ("not an object", "privacy.erase", "invalid_command", "privacy.command.failed"),
    ("unknown type", "privacy.erase", "unknown_type", "privacy.command.failed"),
    ("no type", "privacy.export", "unknown_type", "privacy.command.failed"),
    ("missing project", "privacy.erase", "missing_project", "privacy.erase.failed"),
    ("unknown project", "privacy.erase", "unknown_project", "privacy.erase.failed"),
    ("malformed project id", "privacy.export", "unknown_project", "privacy.export.failed"),
    ("invalid email", "privacy.erase", "invalid_email", "privacy.erase.failed"),
    ("empty email", "privacy.erase", "invalid_email", "privacy.erase.failed"),
    ("misspelt field", "privacy.erase", "invalid_command", "privacy.erase.failed"),
    ("no request id", "privacy.erase", "invalid_command", "privacy.erase.failed"),
]


@pytest.mark.parametrize(("case", "routing_key", "code", "result_key"), BAD_COMMANDS)
async def test_a_bad_command_fails_cleanly_touches_nothing_and_is_dead_lettered(
    case: str,
    routing_key: str,
    code: str,
    result_key: str,
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
    results: ResultTap,
    dead_letters: DeadLetters,
    runtime: Runtime,
) -> None:
    erin = Subject(unique_email("Erin"))
    ticket_id = await open_ticket(api, project, erin)
    await runtime.relay.flush()  # its acks are written in the background
    before = await collection_counts(db)
    ticket_before = await get_ticket(api, project, ticket_id)
    request_id = new_request_id()
    raw = bad_body(case, request_id, project.id)

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
    [death] = cast(list[dict[str, Any]], dead.headers["x-death"])
    assert death["reason"] == "rejected"
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
