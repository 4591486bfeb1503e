"""Attaching files to messages.

Who may attach a file: a customer, their project's uploads; the team, its uploads for that
ticket. A file belongs to one message only. Attaching claims it with an insert into a unique key
(see `zumik_files.store`), made inside the ticket's unit of work just before its write and given
back if that write fails, so two messages racing for one file never both get it. A claim whose
message never got written (its process died in between) is taken over once it is older than
`STALE_CLAIM`, far longer than any ticket write may take.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from zumik_contracts.files import MAX_ATTACHMENTS
from zumik_contracts.tickets import Attachment

from zumik_api.domain.errors import FileAlreadyAttached, UnknownAttachment
from zumik_api.domain.tickets import Ticket
from zumik_api.service.ports import FileClaim, Files, Side, StoredFileView, Tickets

Clock = Callable[[], datetime]

# Longer than a ticket's lease (15 s) and any store operation's time limit: a claim this old
# whose message is not in its ticket will never be written.
STALE_CLAIM = timedelta(seconds=60)


def attachment_of(file: StoredFileView) -> Attachment:
    """What a message's thread shows of a file."""
    return Attachment(
        id=file.id,
        filename=file.filename,
        size=file.size,
        content_type=file.content_type,
        redactions=file.redactions or None,
    )


@dataclass
class AttachmentPlan:
    """The files one request attaches to the message it adds: resolved against the ticket's
    project once it is known, claimed for the new message before the ticket is written, and
    given back if that write fails."""

    files: Files
    tickets: Tickets
    clock: Clock
    ids: Sequence[str]
    side: Side
    resolved: list[StoredFileView] = field(default_factory=list)
    claimed: list[tuple[str, str]] = field(default_factory=list)  # (file id, message id)

    @property
    def attachments(self) -> list[Attachment]:
        return [attachment_of(file) for file in self.resolved]

    async def resolve(self, project_id: str, ticket_id: str | None) -> list[Attachment]:
        """The files, checked: each exists, is the project's and this side's to attach (the
        team's: uploaded for this ticket), and is listed once. UnknownAttachment (400) or
        FileAlreadyAttached (409) otherwise."""
        seen: set[str] = set()
        resolved = []
        for index, file_id in enumerate(self.ids):
            param = f"attachments.{index}"
            if file_id in seen:
                raise FileAlreadyAttached(file_id, param, repeated=True)
            seen.add(file_id)
            file = await self.files.get(file_id)
            usable = (
                file is not None
                and file.project_id == project_id
                and file.uploaded_by == self.side
                and (self.side == "customer" or file.ticket_id == ticket_id)
            )
            if file is None or not usable:
                raise UnknownAttachment(file_id, param)
            resolved.append(file)
        self.resolved = resolved
        return self.attachments

    async def claim(self, ticket: Ticket) -> None:
        """Claim the files for the message this request added (none when a retry found its
        message already in the thread: its files are claimed by then)."""
        message = next((m for m in ticket.new_messages if m.attachments), None)
        if message is None:
            return
        try:
            for index, file in enumerate(self.resolved):
                holder = await self.files.claim(
                    file, ticket_id=ticket.id, message_id=message.id, internal=message.internal
                )
                if holder.message_id != message.id and await self._stale(holder):
                    holder = await self.files.take_over(
                        holder,
                        file,
                        ticket_id=ticket.id,
                        message_id=message.id,
                        internal=message.internal,
                    )
                if holder.message_id == message.id:
                    if holder.fresh:
                        self.claimed.append((file.id, message.id))
                    continue
                if holder.message_id is None:  # purged as it went unattached
                    raise UnknownAttachment(file.id, f"attachments.{index}")
                raise FileAlreadyAttached(file.id, f"attachments.{index}")
        except BaseException:
            await self.release()
            raise

    async def release(self) -> None:
        """Give back what this request claimed (its ticket write failed)."""
        claimed, self.claimed = self.claimed, []
        if claimed:
            await asyncio.shield(self._release(claimed))

    async def discard(self) -> None:
        """Delete the files outright (their ticket had to go: its project was erased)."""
        for file in self.resolved:
            await self.files.delete(file.id)

    async def _release(self, claimed: list[tuple[str, str]]) -> None:
        for file_id, message_id in claimed:
            await self.files.release(file_id, message_id)

    async def _stale(self, holder: FileClaim) -> bool:
        """A claim whose message will never be written: old, and not in its ticket."""
        if holder.message_id is None or self.clock() - holder.claimed_at < STALE_CLAIM:
            return False
        if holder.ticket_id is None:
            return True
        ticket = await self.tickets.get(holder.ticket_id)
        return ticket is None or all(m.id != holder.message_id for m in ticket.messages)


class Attachments:
    """Makes the `AttachmentPlan` of each request that attaches files."""

    def __init__(self, files: Files, tickets: Tickets, clock: Clock) -> None:
        self._files = files
        self._tickets = tickets
        self._clock = clock

    def plan(self, ids: Sequence[str], side: Side) -> AttachmentPlan:
        if len(ids) > MAX_ATTACHMENTS:
            raise UnknownAttachment(ids[MAX_ATTACHMENTS], f"attachments.{MAX_ATTACHMENTS}")
        return AttachmentPlan(self._files, self._tickets, self._clock, list(ids), side)
