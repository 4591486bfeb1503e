"""ASGI middleware: a request id on every response, and a cap on request body size."""

import json
import logging
import re
import secrets
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "Request-Id"
# Where a request's handling leaves headers for its response (`request.state.response_headers`).
RESPONSE_HEADERS = "response_headers"

log = logging.getLogger("zumik_api")


class RequestIdMiddleware:
    """Adds `Request-Id` to every response, errors included, and exposes it as scope state.

    It also turns an unhandled exception into the 500 error envelope here, inside the request
    id, rather than in Starlette's outermost error middleware, which would lose the header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(12)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                # Headers a dependency decided on (rate limits), whatever the route returned.
                for name, value in state.get(RESPONSE_HEADERS, {}).items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            # The exception's type only: its text may quote request data.
            # The path quoted (repr): a client controls it, and must not forge log lines.
            log.error("unhandled %s on %s %r", type(error).__name__, scope["method"], scope["path"])
            if started:
                raise
            await send_json(send_with_id, 500, _INTERNAL_ERROR)


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
