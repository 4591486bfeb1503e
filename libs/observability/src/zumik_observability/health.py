"""A small HTTP port for a worker service: `/healthz`, `/readyz` and `/metrics`.

- `GET /healthz`: liveness, 200 while the event loop answers.
- `GET /readyz`: readiness, 200 when every check passes (the store answers, the broker is
  connected), else 503; the body names each check.
- `GET /metrics`: Prometheus text.

A plain asyncio server: the worker services have no web framework, and these three answers need
none. It reads at most a request line and a few headers, with a time limit, and closes.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CollectorRegistry

from zumik_observability.metrics import CONTENT_TYPE_LATEST, render

log = logging.getLogger("zumik_observability.health")

ReadinessChecks = Callable[[], Awaitable[Mapping[str, bool]]]

_READ_SECONDS = 5.0
_MAX_HEADER_LINES = 100


class HealthServer:
    def __init__(
        self, checks: ReadinessChecks, registry: CollectorRegistry, host: str, port: int
    ) -> None:
        self._checks = checks
        self._registry = registry
        self._host = host
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self.port: int | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._requested_port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("health and metrics on port %d", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_SECONDS):
                request_line = (await reader.readline()).decode("latin-1").split()
                for _ in range(_MAX_HEADER_LINES):
                    if (await reader.readline()) in (b"\r\n", b"\n", b""):
                        break
            status, content_type, body = await self._answer(request_line)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except Exception as error:  # a client that went away or sent nothing: not ours
            log.debug("health request dropped: %s", type(error).__name__)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, request_line: list[str]) -> tuple[str, str, bytes]:
        if len(request_line) < 2 or request_line[0] not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "application/json", b'{"status":"bad request"}'
        path = request_line[1].split("?", 1)[0]
        if path == "/healthz":
            return "200 OK", "application/json", b'{"status":"ok"}'
        if path == "/readyz":
            try:
                checks = dict(await self._checks())
            except Exception:
                checks = {"checks": False}
            ready = all(checks.values())
            body = json.dumps({"status": "ready" if ready else "unavailable", "checks": checks})
            return (
                ("200 OK" if ready else "503 Service Unavailable"),
                "application/json",
                (body.encode()),
            )
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, render(self._registry)
        return "404 Not Found", "application/json", b'{"status":"not found"}'
