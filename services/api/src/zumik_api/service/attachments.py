"""Attaching files to messages.

Who may attach a file: a customer, their project's uploads; the team, its uploads for that
ticket. A file belongs to one message only. Attaching claims it with an insert into a unique key
(see `zumik_files.store`), made inside the ticket's unit of work just before its write, so two
messages racing for one file never both get it. Once the write commits, the claims are confirmed.
If it fails, they are given back only when the message is known not to be in the stored ticket:
a timeout or a lost connection can come after the server applied the write, and then the message
lists the file, whose claim must stay (its erasure finds it through the claim, and the purge of
unattached files must not take it).

A claim left unconfirmed (its process died before confirming it, or neither the ticket nor the
store answered after a failed write) is settled by `Attachments.settle`, which the file purge
runs: confirmed if its message is in its ticket, released if not. Before that, a claim whose
message never got written is taken over by another message once it is older than `STALE_CLAIM`,
far longer than any ticket write may take.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from zumik_contracts.files import MAX_ATTACHMENTS
from zumik_contracts.tickets import Attachment

from zumik_api.domain.errors import FileAlreadyAttached, UnknownAttachment
from zumik_api.domain.tickets import Ticket
from zumik_api.service.ports import FileClaim, Files, Side, StoredFileView, Tickets

Clock = Callable[[], datetime]

log = logging.getLogger("zumik_api.attachments")

# Longer than a ticket's lease (15 s) and any store operation's time limit: a claim this old
# whose message is not in its ticket will never be written.
STALE_CLAIM = timedelta(seconds=60)
# Unconfirmed claims this old are settled from their ticket: well past `STALE_CLAIM`, so their
# message's write is over, one way or the other.
SETTLE_AFTER = timedelta(minutes=5)


async def in_ticket(tickets: Tickets, ticket_id: str | None, message_id: str) -> bool:
    """Whether the message is in its stored ticket (not when the ticket is gone)."""
    ticket = None if ticket_id is None else await tickets.get(ticket_id)
    return ticket is not None and any(m.id == message_id for m in ticket.messages)


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
    project once it is known, claimed for the new message before the ticket is written, then
    confirmed, or given back if that write fails and did not land."""

    files: Files
    tickets: Tickets
    clock: Clock
    ids: Sequence[str]
    side: Side
    resolved: list[StoredFileView] = field(default_factory=list)
    claimed: list[tuple[str, str]] = field(default_factory=list)  # (file id, message id)
    ticket_id: str | None = None  # the ticket of the claiming message

    @property
    def attachments(self) -> list[Attachment]:
        return [attachment_of(file) for file in self.resolved]

    async def resolve(self, project_id: str, ticket_id: str | None) -> None:
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

    async def claim(self, ticket: Ticket) -> None:
        """Claim the files for the message this request added (none when a retry found its
        message already in the thread: its files are claimed by then)."""
        message = next((m for m in ticket.new_messages if m.attachments), None)
        if message is None:
            return
        self.ticket_id = ticket.id
        try:
            for index, file in enumerate(self.resolved):
                holder = await self.files.claim(
                    file, ticket_id=ticket.id, message_id=message.id, internal=message.internal
                )
                if holder.message_id != message.id and await self._stale(holder):
                    holder = await self.files.take_over(
                        holder,
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

    async def confirm(self) -> None:
        """The ticket write committed: the claims stay. Best effort, never failing the request:
        a claim left unconfirmed is confirmed by `Attachments.settle`."""
        claimed, self.claimed = self.claimed, []
        await self._confirm(claimed)

    async def write_failed(self) -> None:
        """The ticket write raised: give back the claims unless the write landed after all.
        When that cannot be told (the ticket cannot be read either), they stay, unconfirmed,
        for `Attachments.settle`; the write's own error is what the caller gets."""
        claimed, self.claimed = self.claimed, []
        if claimed:
            await asyncio.shield(self._after_failed_write(claimed))

    async def release(self) -> None:
        """Give back what this request claimed (its ticket was not written)."""
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

    async def _confirm(self, claimed: list[tuple[str, str]]) -> None:
        try:
            for file_id, message_id in claimed:
                await self.files.confirm(file_id, message_id)
        except Exception as error:
            log.warning("attachment claims left unconfirmed: %s", type(error).__name__)

    async def _after_failed_write(self, claimed: list[tuple[str, str]]) -> None:
        message_id = claimed[0][1]
        try:
            if await in_ticket(self.tickets, self.ticket_id, message_id):
                await self._confirm(claimed)
            else:
                await self._release(claimed)
        except Exception as error:
            log.warning("claims of message %s left to settle: %s", message_id, type(error).__name__)

    async def _stale(self, holder: FileClaim) -> bool:
        """A claim whose message will never be written: old, and not in its ticket."""
        if holder.message_id is None or self.clock() - holder.claimed_at < STALE_CLAIM:
            return False
        return not await in_ticket(self.tickets, holder.ticket_id, holder.message_id)


class NoAttachments:
    """The plan of a request that attaches no file: every step of `AttachmentPlan` does
    nothing."""

    @property
    def attachments(self) -> list[Attachment]:
        return []

    async def resolve(self, project_id: str, ticket_id: str | None) -> None:
        return None

    async def claim(self, ticket: Ticket) -> None:
        return None

    async def confirm(self) -> None:
        return None

    async def write_failed(self) -> None:
        return None

    async def discard(self) -> None:
        return None


NO_ATTACHMENTS = NoAttachments()
RequestFiles = AttachmentPlan | NoAttachments


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

    async def settle(self) -> int:
        """Settle the claims still unconfirmed `SETTLE_AFTER` after they were made: confirmed
        when the message is in its ticket, released when it is not (or the ticket is gone), so
        the purge of unattached files takes the file in its turn. How many were released."""
        released = 0
        for claim in await self._files.unconfirmed_claims(self._clock() - SETTLE_AFTER):
            message_id = claim.message_id
            if message_id is None:  # the purge's own claim: never unconfirmed
                continue
            try:
                if await in_ticket(self._tickets, claim.ticket_id, message_id):
                    await self._files.confirm(claim.file_id, message_id)
                else:
                    await self._files.release(claim.file_id, message_id)
                    released += 1
            except Exception as error:  # one ticket that cannot be read holds up no other
                log.warning("claim on %s not settled: %s", claim.file_id, type(error).__name__)
        return released
