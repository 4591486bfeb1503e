"""Claims and limits on the real store: a file purged while being attached is no file; claims no
ticket write confirmed are settled by the purge; uploads finishing together stay within the
quota; HAR scrubs beyond the per-process limit wait their turn."""

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters.files import StoredFiles
from zumik_api.bootstrap import Runtime, ticket_service
from zumik_api.domain.errors import UnknownAttachment
from zumik_api.domain.scope import ProjectScope
from zumik_api.domain.tickets import Ticket
from zumik_api.service.attachments import SETTLE_AFTER
from zumik_api.service.ports import Customer, FileClaim, StoredFileView
from zumik_api.service.tickets import TicketService
from zumik_contracts import ids
from zumik_files.sniff import SNIFF_BYTES
from zumik_files.store import CLAIMS, FILES, UPLOADS, FileStore, QuotaExceeded, StoredFile, Upload
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.files.har import capture


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


class NeverConfirmed(StoredFiles):
    """Files whose claims are not confirmed: the process died right after the ticket write."""

    async def confirm(self, file_id: str, message_id: str) -> None:
        raise ConnectionError("the process died")


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


async def test_claims_no_write_confirmed_are_settled_by_the_purge(
    runtime: Runtime, own_db: AsyncDatabase[Document], project: ApiProject
) -> None:
    clock = Clock()
    store = FileStore(own_db, clock=clock)
    confirmed, kept, stuck = [await _stored(store, project.id) for _ in range(3)]
    service = _service(runtime, StoredFiles(store), clock)
    ticket = await _open(service, project, [confirmed.id])
    unconfirming = _service(runtime, NeverConfirmed(store), clock)
    scope = ProjectScope(project.id)
    written = await unconfirming.reply(scope, ticket.id, "More.", attachments=[kept.id])
    # Claimed, then its process died before the ticket write.
    await store.claim(stuck, ticket_id=ticket.id, message_id="msg_never_written", internal=False)

    claims = {doc["_id"]: doc async for doc in own_db[CLAIMS].find()}
    assert [claims[f.id]["confirmed"] for f in (confirmed, kept, stuck)] == [True, False, False]
    clock.now += SETTLE_AFTER - timedelta(seconds=1)
    assert await service.settle_attachment_claims() == 0  # too recent
    clock.now += timedelta(seconds=2)
    assert await service.settle_attachment_claims() == 1

    claims = {doc["_id"]: doc async for doc in own_db[CLAIMS].find()}
    assert set(claims) == {confirmed.id, kept.id}
    assert claims[kept.id]["message_id"] == written.messages[-1].id
    assert claims[kept.id]["confirmed"] is True
    stuck_doc = await own_db[FILES].find_one({"_id": stuck.id})
    assert stuck_doc is not None
    assert "message_id" not in stuck_doc["metadata"]
    # The purge of unattached files now takes the file nobody got, and only that one.
    assert await store.purge_unattached(timedelta(minutes=1)) == 1
    assert await store.get(stuck.id) is None
    assert all([await store.get(f.id) for f in (confirmed, kept)])


async def test_uploads_finishing_together_stay_within_the_quota(
    own_db: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(own_db, project_quota_bytes=10_000, max_file_bytes=8_000)
    project_id = f"prj_together_{secrets.token_hex(4)}"
    usage, reads = store.usage, dict[object, int]()
    both_in = asyncio.Barrier(2)

    async def usage_read_together(project_id: str) -> int:
        """Each upload's second read (its check once all of it is in) at the same moment."""
        task = asyncio.current_task()
        reads[task] = reads.get(task, 0) + 1
        if reads[task] == 2:
            await both_in.wait()
        return await usage(project_id)

    monkeypatch.setattr(store, "usage", usage_read_together)

    async def upload(name: str) -> StoredFile | None:
        try:
            return await store.upload(
                Upload(ids.new_id(ids.FILE), project_id, f"{name}.txt", None, "customer"),
                _content(b"x" * 6_000),
            )
        except QuotaExceeded:
            return None

    async with asyncio.timeout(30):
        stored = await asyncio.gather(upload("a"), upload("b"))

    kept = sum(file.size for file in stored if file is not None)
    assert kept <= 10_000
    assert await usage(project_id) == kept
    assert await own_db[UPLOADS].count_documents({}) == 0


async def test_har_scrubs_beyond_the_limit_wait_their_turn(
    own_db: AsyncDatabase[Document],
) -> None:
    store = FileStore(own_db, max_concurrent_scrubs=1)
    har = capture(entries=3, padding=4 * SNIFF_BYTES).content
    head, rest = har[:SNIFF_BYTES], har[SNIFF_BYTES:]
    first_holds, first_may_end, second_scrubbing = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def first() -> AsyncIterator[bytes]:
        yield head
        first_holds.set()  # sniffed as a HAR: its turn taken
        await first_may_end.wait()
        yield rest

    async def second() -> AsyncIterator[bytes]:
        yield head
        second_scrubbing.set()
        yield rest

    def upload(name: str) -> Upload:
        return Upload(ids.new_id(ids.FILE), "prj_turns", name, None, "customer")

    async with asyncio.timeout(30):
        one = asyncio.create_task(store.upload(upload("one.har"), first()))
        await first_holds.wait()
        two = asyncio.create_task(store.upload(upload("two.har"), second()))
        # Files other than HAR do not wait.
        text = await store.upload(upload("notes.txt"), _content(b"plain text"))
        await asyncio.sleep(0.5)
        assert not second_scrubbing.is_set()
        first_may_end.set()
        stored = [await one, await two]

    assert text.content_type.startswith("text/plain")
    assert [f.content_type for f in stored] == ["application/har+json"] * 2
    assert stored[0].size == stored[1].size
