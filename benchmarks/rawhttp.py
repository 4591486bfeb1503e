"""A minimal HTTP/1.1 keep-alive client for the open-loop load of the end-to-end benchmark.

The load generator shares two cores with the API, the notifier, the store and the broker, so it
must cost next to nothing: httpx spends about a millisecond of CPU per request, which at 100
requests/s took more CPU than the API itself. This speaks just enough HTTP for our own API:
requests with a Content-Length body, responses with a Content-Length (no chunking).
"""

import asyncio
import time
from dataclasses import dataclass

# uvicorn closes a keep-alive connection after 5 s idle; one idle longer than this is not
# reused, so that no POST is written into a connection the server is closing.
MAX_IDLE_SECONDS = 2.0


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class RawHttpClient:
    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._open: set[asyncio.StreamWriter] = set()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Response:
        head = f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        reader, writer = await self._connection()
        try:
            writer.write(head.encode("latin-1") + body)
            response = await _read_response(reader)
        except BaseException:
            writer.close()
            self._open.discard(writer)
            raise
        self._idle.append((reader, writer, time.monotonic()))
        return response

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < MAX_IDLE_SECONDS:
                return reader, writer
            writer.close()
            self._open.discard(writer)
        reader, writer = await asyncio.open_connection(self._host, self._port)
        self._open.add(writer)
        return reader, writer

    async def close(self) -> None:
        for writer in self._open:
            writer.close()
        self._open.clear()
        self._idle.clear()


async def _read_response(reader: asyncio.StreamReader) -> Response:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *lines = head.split("\r\n")
    length = 0
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return Response(int(status_line.split(" ", 2)[1]), await reader.readexactly(length))
