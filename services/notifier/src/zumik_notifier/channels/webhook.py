"""The ops webhook: the event, with the ticket's subject and the message preview read from the
live ticket when it is delivered (events on the queue carry no text), signed per Standard
Webhooks. A ticket erased before delivery sends nothing.

Headers: `webhook-id` (the event id, the same on every attempt, so receivers drop duplicates),
`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the decoded `whsec_` secret).
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import httpx2
from zumik_contracts.events import TicketEvent
from zumik_tickets.reader import LiveTicket, TicketReader

from zumik_notifier.channels.live import live_ticket
from zumik_notifier.channels.result import AttemptResult


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, message_id, timestamp, body),
    }


class OpsWebhookChannel:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        url: str,
        key: bytes,
        tickets: TicketReader,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._url = url
        self._key = key
        self._tickets = tickets
        self._clock = clock

    async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
        ticket = await live_ticket(self._tickets, event)
        if isinstance(ticket, AttemptResult):
            return ticket
        payload = with_text(event, ticket).model_dump_json().encode()
        headers = signed_headers(self._key, event.id, int(self._clock()), payload)
        try:
            response = await self._http.post(self._url, content=payload, headers=headers)
        except Exception as error:  # every transport failure is an attempt result, not a crash
            return AttemptResult.from_error(error)
        return AttemptResult.from_response(response)


def with_text(event: TicketEvent, ticket: LiveTicket) -> TicketEvent:
    """The event with its subject and message preview as the ticket reads now."""
    data = event.data
    message = data.message
    if message is not None and ticket.message is not None:
        message = message.model_copy(update={"preview": ticket.message.preview})
    return event.model_copy(
        update={"data": data.model_copy(update={"subject": ticket.subject, "message": message})}
    )
