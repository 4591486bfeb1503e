"""Resend's HTTP API, as both email channels use it: one POST /emails per attempt."""

import httpx2

from zumik_notifier.channels.result import AttemptResult


class ResendClient:
    def __init__(
        self, http: httpx2.AsyncClient, *, base_url: str, api_key: str, sender: str
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/emails"
        self._api_key = api_key
        self._sender = sender

    async def send(
        self, *, to: str, subject: str, text: str, idempotency_key: str
    ) -> AttemptResult:
        """One attempt. Resend sends one email per Idempotency-Key (for 24 hours)."""
        try:
            response = await self._http.post(
                self._url,
                headers={
                    "Authorization": f"Bearer {self._api_key}",
                    "Idempotency-Key": idempotency_key,
                },
                json={"from": self._sender, "to": [to], "subject": subject, "text": text},
            )
        except Exception as error:  # every transport failure is an attempt result, not a crash
            return AttemptResult.from_error(error)
        return AttemptResult.from_response(response)
