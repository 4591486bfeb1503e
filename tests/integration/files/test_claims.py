"""Claims on the real store: a file purged while being attached is no file."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.files import StoredFiles
from zumik_api.bootstrap import Runtime, ticket_service
from zumik_api.domain.errors import UnknownAttachment
from zumik_api.domain.tickets import Ticket
from zumik_api.service.ports import Customer, FileClaim, StoredFileView
from zumik_api.service.tickets import TicketService
from zumik_contracts import ids
from zumik_files.store import CLAIMS, FileStore, StoredFile, Upload
from zumik_store.mongo import Document

from tests.conftest import ApiProject


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _content(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _stored(store: FileStore, project_id: str, data: bytes = b"a trace") -> StoredFile:
    upload = Upload(ids.new_id(ids.FILE), project_id, "trace.txt", None, "customer")
    return await store.upload(upload, _content(data))


def _service(runtime: Runtime, files: StoredFiles, clock: Clock) -> TicketService:
    """The app's ticket use cases (the shared database's tickets) on files of the test's own."""
    return ticket_service(
        runtime.store, runtime.directory, runtime.settings, clock, runtime.relay.notify, files
    )


async def _open(service: TicketService, project: ApiProject, file_ids: list[str]) -> Ticket:
    return await service.open(
        Customer(project.id),
        subject="Exports are empty",
        body="See the trace.",
        priority="normal",
        contact_email=None,
        attachments=file_ids,
    )


class PurgedBeforeTheClaim(StoredFiles):
    """Files the purge deletes after the request checked them, just before their claim."""

    def __init__(self, store: FileStore) -> None:
        super().__init__(store)
        self.store = store

    async def claim(
        self, file: StoredFileView, *, ticket_id: str, message_id: str, internal: bool
    ) -> FileClaim:
        await self.store.delete(file.id)
        return await super().claim(
            file, ticket_id=ticket_id, message_id=message_id, internal=internal
        )


async def test_a_file_purged_while_it_is_attached_is_no_file(
    runtime: Runtime, own_db: AsyncDatabase[Document], project: ApiProject
) -> None:
    store = FileStore(own_db)
    file = await _stored(store, project.id)
    service = _service(runtime, PurgedBeforeTheClaim(store), Clock())

    with pytest.raises(UnknownAttachment) as unknown:
        await _open(service, project, [file.id])

    assert unknown.value.param == "attachments.0"
    assert await own_db[CLAIMS].count_documents({}) == 0  # no claim outlives its file
    # The store alone: a claim on a file deleted since it was read is the purge's.
    gone = await _stored(store, project.id)
    await store.delete(gone.id)
    claim = await store.claim(gone, ticket_id="tkt_x", message_id="msg_x", internal=False)
    assert claim.purging
    assert not claim.fresh
    assert await own_db[CLAIMS].count_documents({}) == 0
