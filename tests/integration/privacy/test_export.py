"""An export holds every ticket exactly as the API shows it, checks out, and expires."""

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_privacy.app import PrivacyService
from zumik_privacy.settings import Settings
from zumik_privacy_records.download import ExportUnavailable, download_export
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.privacy.helpers import (
    OffsetClock,
    PrivacyClient,
    Staff,
    Subject,
    get_ticket,
    internal_note,
    open_ticket,
    run_privacy_cli,
    tickets_bytes,
    unique_email,
)


async def test_cli_export_matches_what_the_api_shows(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    other_project: ApiProject,
    staff: Staff,
    privacy_settings: Settings,
    privacy_service: PrivacyService,
    tmp_path: Path,
) -> None:
    erin, olga = Subject(unique_email("Erin")), Subject(unique_email("Olga"))
    for _ in range(3):
        await open_ticket(api, project, erin, replies=2)
    await open_ticket(api, project, olga)
    await internal_note(api, staff, erin.ticket_ids[0], erin)
    await open_ticket(api, other_project, Subject(unique_email("Nina")))
    out = tmp_path / "export.json"

    run = await run_privacy_cli(
        privacy_settings, "privacy", "export", "--project", project.id, "--out", str(out)
    )

    printed = run.json()
    exported_bytes = out.read_bytes()
    exported = json.loads(exported_bytes)
    assert printed["path"] == str(out.resolve())
    assert printed["count"] == exported["count"] == 4
    assert printed["sha256"] == exported["sha256"]
    assert hashlib.sha256(tickets_bytes(exported_bytes)).hexdigest() == exported["sha256"]
    assert exported["object"] == "privacy_export"
    assert exported["project_id"] == project.id
    assert exported["scope"] == {"kind": "project", "subject_hash": None}
    assert exported["request_id"] == printed["request_id"]
    # Several chunks (the tests' chunks are 4 KiB), reassembled in order.
    assert exported["chunk_count"] > 1
    shown = {t: (await get_ticket(api, project, t))[1] for t in erin.ticket_ids + olga.ticket_ids}
    assert {t["id"]: t for t in exported["tickets"]} == shown
    assert [t["id"] for t in exported["tickets"]] == sorted(shown)  # oldest first
    assert erin.bodies[-1] not in exported_bytes.decode()  # the internal note stays internal


async def test_subject_export_holds_only_the_subjects_tickets(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
    tmp_path: Path,
) -> None:
    erin, olga = Subject(unique_email("Erin")), Subject(unique_email("Olga"))
    await open_ticket(api, project, erin)
    await open_ticket(api, project, olga)
    await open_ticket(api, project, erin, replies=0)

    result = await privacy.export(project.id, email=erin.email.lower())

    reference = result.export
    assert reference is not None
    assert reference.scope.kind == "subject"
    assert reference.scope.subject_hash
    assert reference.count == 2
    out = tmp_path / "erin.json"
    await download_export(db, reference, out)
    assert out.stat().st_mode & 0o777 == 0o600  # personal data: only its owner reads it
    exported = json.loads(out.read_bytes())
    assert [t["id"] for t in exported["tickets"]] == erin.ticket_ids
    for ticket in exported["tickets"]:
        assert ticket == (await get_ticket(api, project, ticket["id"]))[1]
    assert olga.email.lower() not in out.read_text().lower()


async def test_an_empty_project_exports_an_empty_list(
    project: ApiProject, privacy: PrivacyClient, db: AsyncDatabase[Document], tmp_path: Path
) -> None:
    result = await privacy.export(project.id)

    assert result.export is not None
    assert result.export.count == 0
    await download_export(db, result.export, tmp_path / "empty.json")
    assert json.loads((tmp_path / "empty.json").read_bytes())["tickets"] == []


async def test_expired_exports_are_deleted_by_the_sweep(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    privacy: PrivacyClient,
    privacy_service: PrivacyService,
    privacy_clock: OffsetClock,
    privacy_settings: Settings,
    tmp_path: Path,
) -> None:
    await open_ticket(api, project, Subject(unique_email("Erin")), replies=3)
    result = await privacy.export(project.id)
    reference = result.export
    assert reference is not None
    retention = timedelta(hours=privacy_settings.privacy_export_retention_hours)
    assert reference.expires_at == reference.generated_at + retention
    mine = {"export_id": reference.export_id}
    chunks = await db.privacy_export_chunks.count_documents(mine)
    assert chunks == reference.chunk_count >= 1

    try:
        privacy_clock.offset = retention - timedelta(minutes=1)
        await privacy_service.sweep_expired_exports()
        assert await db.privacy_exports.count_documents({"_id": reference.export_id}) == 1
        assert await db.privacy_export_chunks.count_documents(mine) == chunks

        privacy_clock.offset = retention + timedelta(minutes=1)
        swept = await privacy_service.sweep_expired_exports()
    finally:
        privacy_clock.offset = timedelta(0)

    assert swept.exports >= 1
    assert swept.chunks >= chunks
    assert await db.privacy_exports.count_documents({"_id": reference.export_id}) == 0
    assert await db.privacy_export_chunks.count_documents(mine) == 0
    with pytest.raises(ExportUnavailable):
        await download_export(db, reference, tmp_path / "late.json")
    # Once swept, the same request id makes a fresh export.
    again = await privacy.export(project.id, request_id=reference.request_id)
    assert again.export is not None
    assert not again.replayed
    assert again.export.generated_at > reference.generated_at
