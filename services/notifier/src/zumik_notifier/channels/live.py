"""What the team's channels send is read from the ticket as it is now, never from the event."""

from zumik_contracts.events import TicketEvent
from zumik_tickets.reader import LiveTicket, TicketReader

from zumik_notifier.channels.result import AttemptResult


async def live_ticket(tickets: TicketReader, event: TicketEvent) -> LiveTicket | AttemptResult:
    """The event's ticket (and message) as stored now; or the attempt's result when there is
    nothing to read: a failed attempt while the store is down (retried like any other), nothing
    to send once the ticket was erased."""
    message_id = None if event.data.message is None else event.data.message.id
    try:
        ticket = await tickets.live(event.data.ticket_id, message_id)
    except Exception as error:
        return AttemptResult.from_error(error)
    return AttemptResult.nothing_to_send() if ticket is None else ticket
