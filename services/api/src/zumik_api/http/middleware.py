"""ASGI middleware: a request id on every response (and on every log line of the request), the
request's access line and metrics, and a cap on request body size."""

import json
import logging
import re
import secrets
import time
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from zumik_observability.logs import bind

from zumik_api.http.metrics import HttpMetrics

REQUEST_ID_HEADER = "Request-Id"
# Where a request's handling leaves headers for its response (`request.state.response_headers`).
RESPONSE_HEADERS = "response_headers"
# An incoming Request-Id is kept when it looks like an id (a caller's own, or a proxy's);
# anything else gets a new one.
INCOMING_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
UNMATCHED_ROUTE = "unmatched"

log = logging.getLogger("zumik_api")
access_log = logging.getLogger("zumik_api.access")


def request_id_of(scope: Scope) -> str:
    """The caller's `Request-Id` when it is a plausible id, else a new `req_...`."""
    for name, value in scope["headers"]:
        if name == b"request-id":
            text: str = bytes(value).decode("latin-1")
            if INCOMING_REQUEST_ID.fullmatch(text):
                return text
            break
    return "req_" + secrets.token_hex(12)


def route_of(scope: Scope) -> str:
    """The matched route's template (`/v2/support/tickets/{ticket_id}`): never the raw path, so
    labels stay few and no client text reaches them."""
    path: object = getattr(scope.get("route"), "path", None)
    return str(path) if isinstance(path, str) else UNMATCHED_ROUTE


class RequestIdMiddleware:
    """Adds `Request-Id` to every response, errors included, and exposes it as scope state;
    an incoming `Request-Id` that looks like an id is kept. Every line logged while the request
    runs carries it (`request_id`), and so does the access line logged when it ends, with the
    route, the status and the duration, which also go to the HTTP metrics.

    It also turns an unhandled exception into the 500 error envelope here, inside the request
    id, rather than in Starlette's outermost error middleware, which would lose the header.
    """

    def __init__(self, app: ASGIApp, metrics: HttpMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id

        started = False
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                # Headers a dependency decided on (rate limits), whatever the route returned.
                for name, value in state.get(RESPONSE_HEADERS, {}).items():
                    headers.setdefault(name, value)
            await send(message)

        with bind(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as error:
                # The exception's type only: its text may quote request data. The route is a
                # template; the path is the client's text, escaped by the JSON log line.
                log.error(
                    "unhandled %s on %s %s",
                    type(error).__name__,
                    scope["method"],
                    route_of(scope),
                    extra={"path": scope["path"][:256]},
                )
                if started:
                    raise
                await send_json(send_with_id, 500, _INTERNAL_ERROR)
            finally:
                self._observe(scope, status, time.perf_counter() - began)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_of(scope)
        if self.metrics is not None:
            self.metrics.observe(scope["method"], route, status, seconds)
        access_log.info(
            "%s %s %d",
            scope["method"],
            route,
            status,
            extra={
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


class RequestTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413, by Content-Length or by counting a stream.
    `overrides`: (path regex, limit) pairs for the routes that take more (uploads)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = [(re.compile(pattern), limit) for pattern, limit in overrides]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.overrides:
            if pattern.fullmatch(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await send_json(send, 413, _too_large(max_bytes))
            return
        received = 0

        async def counting_receive() -> Message:
            # A chunked body has no Content-Length: count it as it arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise RequestTooLarge
            return message

        await self.app(scope, counting_receive, send)


def _error(code: str, message: str, type_: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"type": type_, "code": code, "message": message, "param": None}}


def _too_large(max_bytes: int) -> dict[str, object]:
    return _error("request_too_large", f"The request body is larger than {max_bytes} bytes.")


_INTERNAL_ERROR = _error("internal_error", "Something went wrong on our side.", "api_error")


async def send_json(send: Send, status: int, payload: dict[str, object]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
