"""Email to the support team through Resend's HTTP API.

The text names the project, the ticket, its priority and SLA, and the message preview, read from
the live ticket when the email goes out (events carry no text): a ticket erased meanwhile sends
nothing. It never holds the customer's contact email. The event id is the Idempotency-Key, so
Resend sends one email per event even when the notifier posts it twice (see docs/notifier.md).
"""

from dataclasses import dataclass

from zumik_contracts.events import TicketEvent
from zumik_tickets.reader import LiveTicket, TicketReader

from zumik_notifier.channels.live import live_ticket
from zumik_notifier.channels.resend import ResendClient
from zumik_notifier.channels.result import AttemptResult
from zumik_notifier.projects import ProjectNames

SUBJECT_MAX_LENGTH = 160

_HEADLINES = {
    "ticket.created": "New ticket",
    "ticket.message_added": "Customer replied",
    "ticket.sla_breached": "SLA breached",
}


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str


def _one_line(text: str) -> str:
    # A subject is a single header line: no CR/LF, collapsed whitespace.
    return " ".join(text.split())


def render_email(event: TicketEvent, project_name: str | None, ticket: LiveTicket) -> EmailContent:
    data = event.data
    project = project_name or event.project_id
    headline = _HEADLINES.get(event.type, event.type)
    flags = "[priority queue] " if data.priority_queue else ""
    subject = _one_line(
        f"[Zumik Support] {flags}{headline} ({data.priority}) from {project}: {ticket.subject}"
    )
    if len(subject) > SUBJECT_MAX_LENGTH:
        subject = subject[: SUBJECT_MAX_LENGTH - 1] + "…"

    lines = [
        f"{headline} in project {project} ({event.project_id}).",
        "",
        f"Ticket:         {data.ticket_id}",
        f"Subject:        {_one_line(ticket.subject)}",
        f"Status:         {data.status}",
        f"Priority:       {data.priority}",
        f"Plan:           {data.plan_tier}",
        f"SLA tier:       {data.sla_tier}",
        f"Priority queue: {'yes' if data.priority_queue else 'no'}",
    ]
    if ticket.message is not None:
        lines += ["", f"Latest message ({ticket.message.author}), preview:", ticket.message.preview]
        if ticket.message.attachment_names:
            lines += [
                "",
                "Attachments:",
                *(f"- {name}" for name in ticket.message.attachment_names),
            ]
    lines += ["", f"Event {event.id} ({event.type}) at {event.occurred_at.isoformat()}."]
    return EmailContent(subject=subject, text="\n".join(lines) + "\n")


class ResendEmailChannel:
    """The team's email: one per notified event, keyed by the event id."""

    def __init__(
        self,
        resend: ResendClient,
        *,
        recipient: str,
        project_names: ProjectNames,
        tickets: TicketReader,
    ) -> None:
        self._resend = resend
        self._recipient = recipient
        self._project_names = project_names
        self._tickets = tickets

    async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
        ticket = await live_ticket(self._tickets, event)
        if isinstance(ticket, AttemptResult):
            return ticket
        project = await self._project_names.name_of(event.project_id)
        content = render_email(event, project, ticket)
        return await self._resend.send(
            to=self._recipient,
            subject=content.subject,
            text=content.text,
            idempotency_key=event.id,
        )
