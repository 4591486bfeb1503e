"""Runs a POST under its `Idempotency-Key`: the first response is stored and replayed."""

import hashlib
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel

from zumik_api.domain.tickets import RequestKey
from zumik_api.http.errors import ApiError
from zumik_api.service import idempotency
from zumik_api.service.idempotency import MAX_KEY_LENGTH, IdempotentRequests

REPLAYED_HEADER = "Idempotent-Replayed"

# What a request does (named, under a key, across its retries): its status, body, and the
# ticket it touched.
Handler = Callable[[RequestKey | None], Awaitable[tuple[int, BaseModel, str | None]]]


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def check_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ApiError(
            400,
            "invalid_request_error",
            "parameter_invalid",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters long.",
            "Idempotency-Key",
        )


async def idempotent(
    request: Request,
    requests: IdempotentRequests,
    project_id: str,
    key: str | None,
    handler: Handler,
) -> Response:
    """Run `handler` at most once per key; only successful responses are stored, so a request
    that failed may be retried with its key."""
    check_key(key)

    async def run(request_key: RequestKey | None) -> tuple[idempotency.Response, str | None]:
        status_code, model, ticket_id = await handler(request_key)
        return idempotency.Response(status_code, model.model_dump_json().encode()), ticket_id

    request_fingerprint = (
        "" if key is None else fingerprint(request.method, request.url.path, await request.body())
    )
    response = await requests.run(project_id, key, request_fingerprint, run)
    headers = {REPLAYED_HEADER: "true"} if response.replayed else None
    return Response(
        response.body, response.status_code, headers=headers, media_type="application/json"
    )
