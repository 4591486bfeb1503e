"""Data export: every ticket of a project (or of one data subject), as the API shows it.

The tickets library streams the public tickets with a cursor; each is serialised into a byte
stream, the JSON array of public ticket objects, which the privacy records library cuts into
fixed-size chunks as it grows. So memory holds one cursor batch and one chunk, however many
tickets there are, and the result message carries only a reference and the stream's SHA-256.
The manifest (keyed by request id) is the request's claim and, once completed, the reference.
Exports expire: a periodic sweep deletes those whose `expires_at` passed.

Attachments are embedded: each attachment object of an exported message also carries the file's
`sha256` and its content as `content_base64`, streamed from the file store into the export a
chunk at a time (base64 of whole 3-byte groups, so the pieces join into one valid string), so a
25 MB file is never held whole either. The team's internal notes, and so their files, are not
exported, as in the customer API.
"""

import asyncio
import base64
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from zumik_contracts.privacy import ExportReference, PrivacyCommand
from zumik_contracts.tickets import SupportTicket
from zumik_privacy_records.claims import Claim, ClaimLost, Completed, Conflict
from zumik_privacy_records.exports import ChunkWriter, reference_from
from zumik_store.clock import Clock
from zumik_store.mongo import Document

from zumik_privacy.commands import (
    command_identity,
    reused_request_id,
    scope_of,
    unknown_project,
)
from zumik_privacy.owners import Owners

log = logging.getLogger("zumik_privacy.exports")


@dataclass(frozen=True)
class ExportOutcome:
    reference: ExportReference
    replayed: bool


class Exporter:
    def __init__(
        self,
        owners: Owners,
        *,
        subject_salt: bytes,
        retention: timedelta,
        chunk_size: int,
        cursor_batch: int,
        clock: Clock,
    ) -> None:
        self._owners = owners
        self._records = owners.records
        self._claims = owners.records.exports
        self._salt = subject_salt
        self._retention = retention
        self._chunk_size = chunk_size
        self._cursor_batch = cursor_batch
        self._clock = clock

    async def run(self, command: PrivacyCommand) -> ExportOutcome:
        scope = scope_of(command, self._salt)
        identity = command_identity(command, scope)
        if await self._claims.find(command.id) is None:
            await self._check_new(command)
        now = self._clock()
        outcome = await self._claims.claim(
            command.id,
            identity,
            {
                "request_id": command.id,
                "started_at": now,
                "generated_at": now,
                "retained_until": now + self._retention,
            },
        )
        if isinstance(outcome, Conflict):
            raise reused_request_id(command)
        if isinstance(outcome, Completed):
            return ExportOutcome(reference_from(outcome.record), replayed=True)
        async with self._claims.held(outcome) as claim:
            record = await self._write(command, claim)
        return ExportOutcome(reference_from(record), replayed=False)

    async def _check_new(self, command: PrivacyCommand) -> None:
        """Before anything is written: the project exists and the id is not an erasure's."""
        if await self._records.receipts.find(command.id) is not None:
            raise reused_request_id(command)
        if await self._owners.projects.get(command.project_id) is None:
            raise unknown_project(command)

    async def _write(self, command: PrivacyCommand, claim: Claim) -> Document:
        record = claim.record
        if claim.resumed:  # a previous worker's partial chunks
            await self._records.delete_chunks(command.id)
        writer = self._records.chunk_writer(
            export_id=command.id,
            writer=claim.token,
            project_id=command.project_id,
            chunk_size=self._chunk_size,
            expires_at=record["retained_until"],
            before_store=lambda: self._still_claimed(claim),
        )
        try:
            count = await self._stream_tickets(command, record["generated_at"], writer)
            await writer.finish()
            return await self._claims.complete(
                claim,
                {
                    "count": count,
                    "bytes": writer.size,
                    "sha256": writer.sha256,
                    "chunk_size": writer.chunk_size,
                    "chunk_count": writer.chunk_count,
                    "writer": claim.token,
                    "completed_at": self._clock(),
                },
            )
        except BaseException:
            # Nobody will read these; don't leave personal data behind until the sweep.
            await asyncio.shield(self._records.delete_chunks(command.id, claim.token))
            raise

    async def _stream_tickets(
        self, command: PrivacyCommand, as_of: datetime, out: ChunkWriter
    ) -> int:
        count = 0
        await out.write(b"[")
        tickets = self._owners.tickets.export(
            command.project_id, command.contact_email, as_of, batch=self._cursor_batch
        )
        async for ticket in tickets:
            if count:
                await out.write(b",")
            if any(message.attachments for message in ticket.messages):
                await self._write_with_files(command.project_id, ticket, out)
            else:
                await out.write(ticket.model_dump_json().encode())
            count += 1
        await out.write(b"]")
        return count

    async def _write_with_files(
        self, project_id: str, ticket: SupportTicket, out: ChunkWriter
    ) -> None:
        """The ticket's JSON, each attachment with its `sha256` and `content_base64`."""
        fields = ticket.model_dump(mode="json")
        messages = fields.pop("messages")
        await out.write(_open_object(fields) + b',"messages":[')
        for index, message in enumerate(messages):
            attachments = message.pop("attachments")
            prefix = b"," if index else b""
            await out.write(prefix + _open_object(message) + b',"attachments":[')
            for number, attachment in enumerate(attachments):
                await out.write((b"," if number else b"") + _open_object(attachment))
                await self._write_file(project_id, attachment["id"], out)
                await out.write(b"}")
            await out.write(b"]}")
        await out.write(b"]}")

    async def _write_file(self, project_id: str, file_id: str, out: ChunkWriter) -> None:
        exported = await self._owners.files.exported(project_id, file_id)
        if exported is None:  # gone meanwhile (erased): say so rather than fail the export
            await out.write(b',"sha256":null,"content_base64":null')
            return
        await out.write(f',"sha256":"{exported.file.sha256}","content_base64":"'.encode())
        rest = b""
        async for piece in exported.content:
            data = rest + piece
            whole = len(data) - len(data) % 3
            await out.write(base64.b64encode(data[:whole]))
            rest = data[whole:]
        await out.write(base64.b64encode(rest) + b'"')

    async def _still_claimed(self, claim: Claim) -> None:
        """Stop writing once the manifest is gone (an erasure deleted it) or was taken over."""
        claim.check()
        # By `_id` alone: the one query FerretDB answers without scanning the collection.
        record = await self._claims.find(claim.request_id)
        if record is None or record.get("token") != claim.token:
            claim.lost = True
            raise ClaimLost(claim.request_id)


def _open_object(fields: dict[str, object]) -> bytes:
    """A JSON object without its closing brace, to add more fields to (never empty here)."""
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return text[:-1].encode()
