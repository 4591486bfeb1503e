"""The ops webhook: the event's exact bytes, signed per Standard Webhooks.

Headers: `webhook-id` (the event id, the same on every attempt, so receivers drop duplicates),
`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the decoded `whsec_` secret).
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import httpx
from zumik_contracts.events import TicketEvent

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
        http: httpx.AsyncClient,
        *,
        url: str,
        key: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._url = url
        self._key = key
        self._clock = clock

    async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
        headers = signed_headers(self._key, event.id, int(self._clock()), body)
        try:
            response = await self._http.post(self._url, content=body, headers=headers)
        except Exception as error:  # every transport failure is an attempt result, not a crash
            return AttemptResult.from_error(error)
        return AttemptResult.from_response(response)
