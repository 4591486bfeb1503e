"""Erasure leaves nothing of what it erased anywhere in the database, and nothing else changes."""

import asyncio
import json
import secrets
from datetime import timedelta

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_store.clock import utc_now
from zumik_store.lease import Leases
from zumik_store.mongo import Document

from tests.conftest import ApiProject, ProjectFactory
from tests.integration.privacy.helpers import (
    PrivacyClient,
    Staff,
    Subject,
    expected_hash,
    find_anywhere,
    get_ticket,
    internal_note,
    open_ticket,
    record_deliveries,
    unique_email,
)


async def test_subject_erasure_removes_every_trace_and_nothing_else(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    staff: Staff,
    privacy: PrivacyClient,
) -> None:
    erin, olga = Subject(unique_email("Erin")), Subject(unique_email("Olga"))
    for _ in range(2):
        await open_ticket(api, project, erin)
    await internal_note(api, staff, erin.ticket_ids[0], erin)
    await open_ticket(api, project, olga, replies=2)
    await record_deliveries(db, project.id, erin.ticket_ids + olga.ticket_ids)
    stored_export = await privacy.export(project.id)  # holds Erin's tickets too
    assert stored_export.export is not None
    assert stored_export.export.count == 3
    olga_before = [await get_ticket(api, project, t) for t in olga.ticket_ids]

    # Another casing than the tickets': the same person.
    result = await privacy.erase(project.id, email=erin.email.upper())

    receipt = result.receipt
    assert receipt is not None
    assert not result.replayed
    assert receipt.scope.kind == "subject"
    assert receipt.scope.subject_hash == expected_hash(erin.email)
    assert receipt.counts.tickets == 2
    assert receipt.counts.messages == 5  # 2 openings, 2 replies, 1 internal note
    assert receipt.counts.idempotency_keys == 4  # 2 creations, 2 replies
    assert receipt.counts.notification_deliveries == 2
    assert receipt.counts.exports == 1
    assert receipt.counts.export_chunks >= 1
    assert receipt.counts.projects == receipt.counts.api_keys == 0
    assert receipt.started_at <= receipt.completed_at

    assert await find_anywhere(db, erin.needles) == []
    for ticket_id in erin.ticket_ids:
        assert (await get_ticket(api, project, ticket_id))[0] == 404
    assert [await get_ticket(api, project, t) for t in olga.ticket_ids] == olga_before
    assert await db.idempotency_keys.count_documents({"ticket_id": olga.ticket_ids[0]}) == 3
    assert await db.notification_deliveries.count_documents({"ticket_id": olga.ticket_ids[0]}) == 1
    assert await db.projects.count_documents({"_id": project.id}) == 1

    stored = await db.privacy_receipts.find_one({"_id": result.request_id})
    assert stored is not None
    assert stored["state"] == "completed"
    text = json.dumps(stored, default=str).lower()
    assert erin.email.lower() not in text
    assert "@" not in text


async def test_project_erasure_removes_the_project_and_its_keys(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    make_project: ProjectFactory,
    staff: Staff,
    privacy: PrivacyClient,
) -> None:
    project = await make_project()
    second_key = (await Projects(db).new_api_key(project.id)).api_key
    neighbour = await make_project(plan="base", name="Neighbour")
    erin, olga, nina = (Subject(unique_email(n)) for n in ("Erin", "Olga", "Nina"))
    await open_ticket(api, project, erin)
    await open_ticket(api, project, olga, replies=2)
    await internal_note(api, staff, olga.ticket_ids[0], olga)
    neighbour_ticket = await open_ticket(api, neighbour, nina)
    await record_deliveries(db, project.id, erin.ticket_ids + olga.ticket_ids)
    # A lease left behind by an API replica that died mid-write.
    await db.ticket_locks.insert_one(
        {"_id": erin.ticket_ids[0], "token": "dead", "expires_at": utc_now()}
    )
    await privacy.export(project.id)
    await privacy.export(project.id, email=olga.email)
    neighbour_before = await get_ticket(api, neighbour, neighbour_ticket)

    result = await privacy.erase(project.id)

    receipt = result.receipt
    assert receipt is not None
    assert receipt.scope.kind == "project"
    assert receipt.scope.subject_hash is None
    counts = receipt.counts
    assert (counts.projects, counts.api_keys, counts.tickets) == (1, 2, 2)
    assert counts.messages is None  # not read, deleted with their tickets
    assert counts.outbox_events is None
    assert counts.idempotency_keys == 5
    assert counts.notification_deliveries == 2
    assert counts.ticket_locks == 1
    assert counts.exports == 2
    assert counts.export_chunks >= 2

    assert await find_anywhere(db, erin.needles + olga.needles) == []
    for name in await db.list_collection_names():
        if name != "privacy_receipts":  # the receipt names the project, as proof
            assert await db[name].count_documents({"project_id": project.id}) == 0, name
    assert await db.projects.count_documents({"_id": project.id}) == 0
    for api_key in (project.api_key, second_key):
        response = await api.get(
            "/v2/support/tickets", headers={"Authorization": f"Bearer {api_key}"}
        )
        assert response.status_code == 401
    assert await get_ticket(api, neighbour, neighbour_ticket) == neighbour_before
    assert nina.email.lower() in json.dumps(neighbour_before).lower()


async def test_subject_erasure_waits_for_an_api_write_in_progress(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
) -> None:
    erin = Subject(unique_email("Erin"))
    ticket_id = await open_ticket(api, project, erin, replies=0)
    locks = Leases(db.ticket_locks, ttl=timedelta(seconds=15))

    async with locks.hold(ticket_id, wait_seconds=5):  # an API request is changing the ticket
        erasure = asyncio.create_task(privacy.erase(project.id, email=erin.email))
        await asyncio.sleep(0.5)
        assert not erasure.done()
        assert await db.tickets.count_documents({"_id": ticket_id}) == 1
        # The write lands before the erasure goes ahead.
        await db.tickets.update_one(
            {"_id": ticket_id}, {"$set": {"subject": f"Changed {secrets.token_hex(4)}"}}
        )

    result = await erasure
    assert result.receipt is not None
    assert result.receipt.counts.tickets == 1
    assert await db.tickets.count_documents({"_id": ticket_id}) == 0
    assert await db.ticket_locks.count_documents({"_id": ticket_id}) == 0
