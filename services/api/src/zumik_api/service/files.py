"""Files: uploads, and who may read them.

Who sees a file (anyone else gets the 404 of a file that does not exist):

- the team: every file;
- a customer: a file of their project that is attached to a public message, or that they
  uploaded and no message took yet. Never the team's uploads before they are attached, nor the
  files of internal notes.
"""

from collections.abc import AsyncIterable, AsyncIterator

from zumik_api.domain.errors import FileNotFound
from zumik_api.domain.scope import ProjectScope, Scope, TeamScope
from zumik_api.service.ports import Customer, Files, NewUpload, Plans, StoredFileView
from zumik_api.service.tickets import ProjectGone, TicketService


class FileService:
    def __init__(self, files: Files, tickets: TicketService, plans: Plans) -> None:
        self._files = files
        self._tickets = tickets
        self._plans = plans

    async def upload_as_customer(
        self,
        customer: Customer,
        *,
        filename: str,
        declared_type: str | None,
        content: AsyncIterable[bytes],
    ) -> StoredFileView:
        upload = NewUpload(customer.project_id, filename, declared_type, "customer")
        return await self._upload(upload, content)

    async def upload_as_team(
        self,
        scope: TeamScope,
        ticket_id: str,
        *,
        filename: str,
        declared_type: str | None,
        content: AsyncIterable[bytes],
    ) -> StoredFileView:
        """A file for the team to attach to a message of `ticket_id` (it belongs to the
        ticket's project)."""
        ticket = await self._tickets.get(scope, ticket_id)
        upload = NewUpload(ticket.project_id, filename, declared_type, "support", ticket.id)
        return await self._upload(upload, content)

    async def _upload(self, upload: NewUpload, content: AsyncIterable[bytes]) -> StoredFileView:
        file = await self._files.upload(upload, content)
        if not await self._plans.still_exists(upload.project_id):
            # Let in by a cached key while the project was being erased: don't stay behind it.
            await self._files.delete(file.id)
            raise ProjectGone(upload.project_id)
        return file

    async def discard(self, file: StoredFileView) -> None:
        """Delete a file just uploaded (the rest of its request turned out wrong)."""
        await self._files.delete(file.id)

    async def get(self, scope: Scope, file_id: str) -> StoredFileView:
        file = await self._files.get(file_id)
        if file is None or not scope.allows(file.project_id):
            raise FileNotFound(file_id)
        claim = await self._files.claim_of(file_id)
        if claim is not None and claim.message_id is None:  # being purged
            raise FileNotFound(file_id)
        if isinstance(scope, ProjectScope):
            visible = file.uploaded_by == "customer" if claim is None else not claim.internal
            if not visible:
                raise FileNotFound(file_id)
        return file

    async def content(
        self, scope: Scope, file_id: str
    ) -> tuple[StoredFileView, AsyncIterator[bytes]]:
        file = await self.get(scope, file_id)
        return file, self._files.content(file)
