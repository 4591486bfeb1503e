"""A loopback HTTP/1.1 endpoint standing in for the ops webhook, for the tests and benchmarks
that run the notifier as its own process (tests/cluster, benchmarks/events.py).

It runs its own event loop in a thread, so a load generator in the caller's loop cannot delay
what it records: every webhook's `webhook-id`, ticket, event type and arrival time
(`time.monotonic()`, the clock the load generators use too).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
_RESPONSE = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    ticket_id: str | None
    event_type: str | None
    arrived: float


def _headers(head: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


class WebhookReceiver:
    """Keep-alive, 204 to everything, every webhook recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Webhook] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/ops-webhook"

    def received(self) -> list[Webhook]:
        with self._lock:
            return list(self._received)

    def first_arrivals(self) -> dict[str, float]:
        """Each ticket's first `ticket.created` webhook."""
        first: dict[str, float] = {}
        for hook in self.received():
            if hook.ticket_id is not None and hook.event_type == "ticket.created":
                first.setdefault(hook.ticket_id, hook.arrived)
        return first

    def duplicates(self) -> dict[str, int]:
        """webhook-ids that arrived more than once, with their counts."""
        counts = Counter(hook.webhook_id for hook in self.received())
        return {webhook_id: n for webhook_id, n in counts.items() if n > 1}

    def redeliveries(self) -> int:
        """Webhooks that repeated one already received."""
        return sum(n - 1 for n in self.duplicates().values())

    def _record(self, fields: dict[str, str], body: bytes, arrived: float) -> None:
        ticket_id: str | None = None
        event_type: str | None = None
        with contextlib.suppress(ValueError, KeyError, TypeError):
            event = json.loads(body)
            ticket_id, event_type = str(event["data"]["ticket_id"]), str(event["type"])
        webhook = Webhook(fields.get("webhook-id", ""), ticket_id, event_type, arrived)
        with self._lock:
            self._received.append(webhook)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            with contextlib.suppress(
                ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError
            ):
                while True:
                    fields = _headers((await reader.readuntil(b"\r\n\r\n")).decode("latin-1"))
                    length = min(int(fields.get("content-length", "0")), _MAX_BODY)
                    self._record(fields, await reader.readexactly(length), time.monotonic())
                    writer.write(_RESPONSE)
                    await writer.drain()
                    if fields.get("connection", "").lower() == "close":
                        return
        finally:
            writer.close()

    async def _serve(self, started: threading.Event) -> None:
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._handle, LOOPBACK, 0)
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await self._stopped.wait()
            for handler in list(self._handlers):
                handler.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)

    def start(self) -> None:
        started = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve(started))
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="webhook-receiver", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the webhook receiver did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)


async def wait_for_webhooks(
    receiver: WebhookReceiver, ticket_ids: set[str], within: float
) -> set[str]:
    """Until every ticket's webhook arrived (or `within` s passed); the ones still missing."""
    deadline = time.monotonic() + within
    while True:
        missing = ticket_ids - receiver.first_arrivals().keys()
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.2)


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
