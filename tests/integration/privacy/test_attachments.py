"""Attachments under privacy requests: an export carries each file (base64, with its sha256); an
erasure deletes the files and every chunk, and a file whose message was erased is 404."""

import base64
import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_files.store import CHUNKS, CLAIMS, FILES, UPLOADS
from zumik_privacy_records.download import download_export
from zumik_store.mongo import Document

from tests.conftest import ApiProject, ProjectFactory
from tests.integration.privacy.helpers import (
    STAFF,
    TICKETS,
    PrivacyClient,
    Staff,
    Subject,
    find_anywhere,
    open_ticket,
    tickets_bytes,
    unique_email,
)

FILES_PATH = "/v2/support/files"


async def _upload(
    api: httpx.AsyncClient, headers: dict[str, str], name: str, content: bytes, path: str = ""
) -> dict[str, Any]:
    response = await api.post(
        path or FILES_PATH,
        headers=headers,
        data={"purpose": "support_attachment"},
        files={"file": (name, content, "application/octet-stream")},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _reply_with(
    api: httpx.AsyncClient, project: ApiProject, ticket_id: str, file_ids: list[str]
) -> str:
    response = await api.post(
        f"{TICKETS}/{ticket_id}/messages",
        headers=project.headers,
        json={"body": "Attached.", "attachments": file_ids},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["messages"][-1]["id"])


async def _attach_subject_files(
    api: httpx.AsyncClient, project: ApiProject, staff: Staff, subject: Subject
) -> list[str]:
    """A log naming the subject and a binary file on their reply, a team file on a team reply,
    and a team file on an internal note."""
    ticket_id = await open_ticket(api, project, subject, replies=0)
    log = f"2026-11-26 user={subject.email} trace={secrets.token_hex(8)}\n".encode()
    binary = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(700_000)
    files = [
        await _upload(api, project.headers, "app.log", log),
        await _upload(api, project.headers, "screen.png", binary),
    ]
    await _reply_with(api, project, ticket_id, [f["id"] for f in files])
    team_path = f"{STAFF}/tickets/{ticket_id}/files"
    public = await _upload(
        api, staff.headers, "fix.txt", f"for {subject.email}".encode(), team_path
    )
    note = await _upload(api, staff.headers, "note.txt", b"team only", team_path)
    for file, internal in ((public, False), (note, True)):
        response = await api.post(
            f"{STAFF}/tickets/{ticket_id}/messages",
            headers=staff.headers,
            json={"body": "Team file.", "internal": internal, "attachments": [file["id"]]},
        )
        assert response.status_code == 200, response.text
    subject.bodies.append(log.decode().strip())
    return [f["id"] for f in [*files, public, note]]


async def _file_traces(db: AsyncDatabase[Document], file_ids: list[str]) -> dict[str, int]:
    return {
        "files": await db[FILES].count_documents({"_id": {"$in": file_ids}}),
        "chunks": await db[CHUNKS].count_documents({"files_id": {"$in": file_ids}}),
        "claims": await db[CLAIMS].count_documents({"_id": {"$in": file_ids}}),
        "uploads": await db[UPLOADS].count_documents({"_id": {"$in": file_ids}}),
    }


async def test_an_export_carries_each_attachment_with_its_sha256(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    staff: Staff,
    privacy: PrivacyClient,
    tmp_path: Path,
) -> None:
    erin = Subject(unique_email("Erin"))
    file_ids = await _attach_subject_files(api, project, staff, erin)

    result = await privacy.export(project.id, email=erin.email)

    assert result.export is not None
    out = tmp_path / "erin.json"
    await download_export(db, result.export, out)
    exported_bytes = out.read_bytes()
    assert hashlib.sha256(tickets_bytes(exported_bytes)).hexdigest() == result.export.sha256
    exported = json.loads(exported_bytes)
    [ticket] = exported["tickets"]
    attachments = [a for m in ticket["messages"] for a in m["attachments"]]
    assert [a["id"] for a in attachments] == file_ids[:3]  # not the internal note's
    for attachment in attachments:
        content = base64.b64decode(attachment["content_base64"], validate=True)
        assert hashlib.sha256(content).hexdigest() == attachment["sha256"]
        assert len(content) == attachment["size"]
        download = await api.get(
            f"{FILES_PATH}/{attachment['id']}/content", headers=project.headers
        )
        assert download.content == content
    # Apart from the files' two fields, each ticket is what the API shows.
    for message in ticket["messages"]:
        for attachment in message["attachments"]:
            del attachment["sha256"], attachment["content_base64"]
    shown = await api.get(f"{TICKETS}/{ticket['id']}", headers=project.headers)
    assert ticket["messages"] == shown.json()["messages"]


async def test_subject_erasure_deletes_the_files_and_every_chunk(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    staff: Staff,
    privacy: PrivacyClient,
) -> None:
    erin, olga = Subject(unique_email("Erin")), Subject(unique_email("Olga"))
    erin_files = await _attach_subject_files(api, project, staff, erin)
    olga_files = await _attach_subject_files(api, project, staff, olga)
    before = await _file_traces(db, olga_files)

    result = await privacy.erase(project.id, email=erin.email)

    receipt = result.receipt
    assert receipt is not None
    assert receipt.counts.attachments == 4
    assert receipt.counts.attachment_chunks >= 6  # the 700 kB image took three
    assert await _file_traces(db, erin_files) == {
        "files": 0,
        "chunks": 0,
        "claims": 0,
        "uploads": 0,
    }
    assert await find_anywhere(db, erin.needles) == []
    for file_id in erin_files:
        for suffix in ("", "/content"):
            customer = await api.get(f"{FILES_PATH}/{file_id}{suffix}", headers=project.headers)
            team = await api.get(f"{STAFF}/files/{file_id}{suffix}", headers=staff.headers)
            assert customer.status_code == team.status_code == 404
    assert await _file_traces(db, olga_files) == before


async def test_project_erasure_deletes_every_file_of_the_project(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    make_project: ProjectFactory,
    staff: Staff,
    privacy: PrivacyClient,
) -> None:
    project = await make_project()
    neighbour = await make_project(name="Neighbour")
    erin = Subject(unique_email("Erin"))
    attached = await _attach_subject_files(api, project, staff, erin)
    unattached = await _upload(api, project.headers, "spare.txt", b"never attached")
    # An upload whose process died mid-way: chunks and its record, no file document.
    await db[UPLOADS].insert_one({"_id": "file_dead", "project_id": project.id, "started_at": 0})
    await db[CHUNKS].insert_one({"files_id": "file_dead", "n": 0, "data": b"partial"})
    kept = await _upload(api, neighbour.headers, "theirs.txt", b"neighbour's")

    result = await privacy.erase(project.id)

    receipt = result.receipt
    assert receipt is not None
    assert receipt.counts.attachments == 5
    every = [*attached, unattached["id"], "file_dead"]
    assert await _file_traces(db, every) == {"files": 0, "chunks": 0, "claims": 0, "uploads": 0}
    for collection in (FILES, UPLOADS, CLAIMS):
        assert await db[collection].count_documents({"project_id": project.id}) == 0
    assert await find_anywhere(db, erin.needles) == []
    still = await api.get(f"{FILES_PATH}/{kept['id']}/content", headers=neighbour.headers)
    assert still.content == b"neighbour's"
