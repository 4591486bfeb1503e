"""A loopback HTTP receiver standing in for the ops webhook endpoint.

It runs its own event loop in a thread, so the load generator in the main loop cannot delay it,
and records, per ticket (`data.ticket_id` of the event body), when its first webhook arrived.
Times are `time.monotonic()`, the clock the load generator uses too.
"""

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator

from benchmarks.common import LOOPBACK

_RESPONSE = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
_MAX_BODY = 1 << 20


class WebhookReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrivals: dict[str, float] = {}
        self._duplicates = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/ops-webhook"

    def arrivals(self) -> dict[str, float]:
        with self._lock:
            return dict(self._arrivals)

    def duplicates(self) -> int:
        with self._lock:
            return self._duplicates

    def _record(self, body: bytes, arrived: float) -> None:
        try:
            ticket_id = str(json.loads(body)["data"]["ticket_id"])
        except (ValueError, KeyError, TypeError):
            return
        with self._lock:
            if ticket_id in self._arrivals:
                self._duplicates += 1
            else:
                self._arrivals[ticket_id] = arrived

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, bool] | None:
        """One request's body and whether the client keeps the connection; None at EOF."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        length = 0
        keep_alive = True
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = min(int(value.strip()), _MAX_BODY)
            elif name.strip().lower() == "connection" and value.strip().lower() == "close":
                keep_alive = False
        return await reader.readexactly(length), keep_alive

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
                while (request := await self._read_request(reader)) is not None:
                    body, keep_alive = request
                    self._record(body, time.monotonic())
                    writer.write(_RESPONSE)
                    await writer.drain()
                    if not keep_alive:
                        break
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


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
