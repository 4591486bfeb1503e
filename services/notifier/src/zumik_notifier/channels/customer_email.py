"""Email to the customer when the Zumik team replies, through Resend's HTTP API.

Events never carry the contact email, so it is read from the ticket at send time (an
erased ticket or one without a contact email means there is nothing to send). The email quotes
the team's reply in full; it can never be an internal note, because notes make no event and the
message found in the ticket must be a public one.
"""

from zumik_contracts.events import TicketEvent
from zumik_tickets.reader import CustomerReply, TicketReader

from zumik_notifier.channels.resend import ResendClient
from zumik_notifier.channels.result import AttemptResult

SUBJECT_MAX_LENGTH = 160


def render_customer_email(event: TicketEvent, reply: CustomerReply) -> tuple[str, str]:
    subject = " ".join(f"Re: {reply.subject} [{event.data.ticket_id}]".split())
    if len(subject) > SUBJECT_MAX_LENGTH:
        subject = subject[: SUBJECT_MAX_LENGTH - 1] + "…"
    text = (
        f"{reply.body}\n\n"
        f"-- \nThe Zumik support team replied to your ticket {event.data.ticket_id} "
        f"(status: {event.data.status}). Answer it in the Support tab of the Zumik console.\n"
    )
    return subject, text


class CustomerEmailChannel:
    def __init__(self, resend: ResendClient, tickets: TicketReader) -> None:
        self._resend = resend
        self._tickets = tickets

    async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
        if event.data.message is None:
            return AttemptResult.nothing_to_send()
        try:
            reply = await self._tickets.team_reply_for_customer(
                event.data.ticket_id, event.data.message.id
            )
        except Exception as error:  # a store outage is a failed attempt, retried like any other
            return AttemptResult.from_error(error)
        if reply is None:
            return AttemptResult.nothing_to_send()
        subject, text = render_customer_email(event, reply)
        return await self._resend.send(
            to=reply.contact_email,
            subject=subject,
            text=text,
            # Not the bare event id: that is the team email's key for the same event.
            idempotency_key=f"{event.id}:customer",
        )
