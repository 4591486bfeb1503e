"""The `Files` port on the files library (`zumik_files`), which owns the attachment store; the
library's refusals become the service's."""

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime
from typing import cast

from zumik_contracts import ids
from zumik_files import store as file_store
from zumik_files.scrub import InvalidHar
from zumik_files.sniff import UnsupportedFileType
from zumik_files.store import Claim, FileStore, StoredFile, Upload

from zumik_api.service.ports import (
    FileClaim,
    FileRefused,
    FileTooLarge,
    NewUpload,
    StorageFull,
    StoredFileView,
)
from zumik_api.service.tickets import ProjectGone


class StoredFiles:
    def __init__(self, store: FileStore) -> None:
        self._store = store

    async def upload(self, upload: NewUpload, content: AsyncIterable[bytes]) -> StoredFileView:
        stored = Upload(
            file_id=ids.new_id(ids.FILE),
            project_id=upload.project_id,
            filename=upload.filename,
            declared_type=upload.declared_type,
            uploaded_by=upload.uploaded_by,
            ticket_id=upload.ticket_id,
        )
        try:
            return await self._store.upload(stored, content)
        except UnsupportedFileType as error:
            raise FileRefused("file_type_not_allowed", error.message) from None
        except InvalidHar as error:
            raise FileRefused("invalid_har", error.message) from None
        except file_store.FileTooLarge as error:
            raise FileTooLarge(error.limit) from None
        except file_store.QuotaExceeded as error:
            raise StorageFull(error.quota) from None
        except file_store.UploadCancelled:  # the project was erased while the file came in
            raise ProjectGone(upload.project_id) from None

    async def get(self, file_id: str) -> StoredFileView | None:
        return await self._store.get(file_id)

    def content(self, file: StoredFileView) -> AsyncIterator[bytes]:
        return self._store.read(cast(StoredFile, file))

    async def claim_of(self, file_id: str) -> FileClaim | None:
        return await self._store.claim_of(file_id)

    async def claim(
        self, file: StoredFileView, *, ticket_id: str, message_id: str, internal: bool
    ) -> FileClaim:
        return await self._store.claim(
            cast(StoredFile, file), ticket_id=ticket_id, message_id=message_id, internal=internal
        )

    async def take_over(
        self,
        holder: FileClaim,
        *,
        ticket_id: str,
        message_id: str,
        internal: bool,
    ) -> FileClaim:
        return await self._store.take_over(
            cast(Claim, holder), ticket_id=ticket_id, message_id=message_id, internal=internal
        )

    async def release(self, file_id: str, message_id: str) -> None:
        await self._store.release(file_id, message_id)

    async def confirm(self, file_id: str, message_id: str) -> None:
        await self._store.confirm(file_id, message_id)

    async def unconfirmed_claims(self, claimed_before: datetime) -> Sequence[FileClaim]:
        return await self._store.unconfirmed_claims(claimed_before)

    async def delete(self, file_id: str) -> None:
        await self._store.delete(file_id)
