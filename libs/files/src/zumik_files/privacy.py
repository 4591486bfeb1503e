"""What privacy requests do to attachments: hand over a file's content for an export, and delete
a project's files, or those of erased tickets, with every chunk.

A file goes with its chunks, its claim and its upload record; the counts are files and chunks.
Uploads still in flight are reached through their upload record (their chunks go, and the upload
then fails instead of writing its file document).
"""

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.clock import Clock, utc_now
from zumik_store.mongo import Document

from zumik_files.store import FileStore, StoredFile

Counts = dict[str, int]
_IN_BATCH = 1000


@dataclass(frozen=True)
class ExportedFile:
    file: StoredFile
    content: AsyncIterator[bytes]


class FilePrivacy:
    def __init__(self, db: AsyncDatabase[Document], *, clock: Clock = utc_now) -> None:
        self.store = FileStore(db, clock=clock)

    async def ensure_indexes(self) -> None:
        await self.store.ensure_indexes()

    async def exported(self, project_id: str, file_id: str) -> ExportedFile | None:
        """The project's file `file_id` and its content, streamed; None when it is gone."""
        file = await self.store.get(file_id)
        if file is None or file.project_id != project_id:
            return None
        return ExportedFile(file, self.store.read(file))

    async def erase_project(self, project_id: str) -> Counts:
        """Every file of the project: attached, not yet attached, and uploads in flight."""
        store = self.store
        by_project = {"project_id": project_id}
        ids: set[str] = set()
        for collection in (store.files, store.uploads, store.claims):
            ids.update([str(doc["_id"]) async for doc in collection.find(by_project, {"_id": 1})])
        return await self._erase(sorted(ids))

    async def erase_tickets(self, project_id: str, ticket_ids: Sequence[str]) -> Counts:
        """The files attached to the messages of these (erased) tickets, and the team's uploads
        for them that no message took."""
        store = self.store
        ids: set[str] = set()
        for start in range(0, len(ticket_ids), _IN_BATCH):
            batch = list(ticket_ids[start : start + _IN_BATCH])
            claims = store.claims.find(
                {"project_id": project_id, "ticket_id": {"$in": batch}}, {"_id": 1}
            )
            ids.update([str(doc["_id"]) async for doc in claims])
            uploads = store.files.find(
                {"project_id": project_id, "metadata.ticket_id": {"$in": batch}}, {"_id": 1}
            )
            ids.update([str(doc["_id"]) async for doc in uploads])
        return await self._erase(sorted(ids))

    async def _erase(self, file_ids: Iterable[str]) -> Counts:
        counts = {"attachments": 0, "attachment_chunks": 0}
        for file_id in file_ids:
            files, chunks = await self.store.delete(file_id)
            counts["attachments"] += files
            counts["attachment_chunks"] += chunks
        return counts
