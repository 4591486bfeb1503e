"""A tiny real HTTP/1.1 server on loopback that records requests and answers as it is told.

It stands in for Resend and for the ops webhook receiver: the notifier talks real HTTP to it over
a real socket. Scripted answers are used in order, each by the first request whose body contains
its key (e.g. a project id, so traffic from elsewhere on the shared broker can't use them up); then
`default` answers everything.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

REASONS = {
    200: "OK",
    400: "Bad Request",
    408: "Request Timeout",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"id":"stub"}'


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float  # time.monotonic()
    status: int  # what the stub answered

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.default = Answer()
        self._script: list[tuple[str, Answer]] = []
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Condition()
        self.url = ""

    def answer_for(self, key: str, *answers: Answer) -> None:
        """The next requests whose body contains `key` get `answers`, in order."""
        self._script.extend((key, answer) for answer in answers)

    def _answer(self, body: bytes) -> Answer:
        text = body.decode("utf-8", "replace")
        for index, (key, answer) in enumerate(self._script):
            if key in text:
                del self._script[index]
                return answer
        return self.default

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def matching(self, predicate: Callable[[Request], bool]) -> list[Request]:
        return [r for r in self.requests if predicate(r)]

    async def wait_for(
        self, predicate: Callable[[list[Request]], bool], within: float = 15.0
    ) -> list[Request]:
        """Wait until `predicate(all requests so far)` holds; returns the requests."""
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: predicate(self.requests))
        return list(self.requests)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: several requests per connection
                request_line = await reader.readline()
                if not request_line.strip():
                    return
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                answer = self._answer(body)
                extra = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
                writer.write(
                    (
                        f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Status')}\r\n"
                        f"content-type: application/json\r\ncontent-length: {len(answer.body)}\r\n"
                        f"{extra}\r\n"
                    ).encode("latin-1")
                    + answer.body
                )
                await writer.drain()
                async with self._arrived:
                    self.requests.append(
                        Request(method, path, headers, body, time.monotonic(), answer.status)
                    )
                    self._arrived.notify_all()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def recording_server() -> AsyncIterator[RecordingServer]:
    server = RecordingServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
