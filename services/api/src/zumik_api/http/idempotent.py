"""Runs a POST under its `Idempotency-Key`: the first response is stored and replayed."""

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel

from zumik_api.adapters.idempotency import MAX_KEY_LENGTH, StoredResponse, fingerprint
from zumik_api.container import Container
from zumik_api.http.errors import ApiError

REPLAYED_HEADER = "Idempotent-Replayed"

Handler = Callable[[], Awaitable[tuple[int, BaseModel, str | None]]]


def _json(status_code: int, body: bytes, replayed: bool) -> Response:
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return Response(body, status_code, headers=headers, media_type="application/json")


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
    request: Request, container: Container, project_id: str, key: str | None, handler: Handler
) -> Response:
    """Run `handler` (which returns status, body and the ticket it touched) at most once per key.

    Only successful responses are stored: a request that failed may be retried with its key.
    """
    if key is None:
        status_code, model, _ = await handler()
        return _json(status_code, model.model_dump_json().encode(), replayed=False)
    check_key(key)
    request_fingerprint = fingerprint(request.method, request.url.path, await request.body())
    claim = await container.idempotency.claim(project_id, key, request_fingerprint)
    if isinstance(claim, StoredResponse):
        return _json(claim.status_code, claim.body, replayed=True)
    try:
        status_code, model, ticket_id = await handler()
    except BaseException:
        await container.idempotency.release(claim)
        raise
    body = model.model_dump_json().encode()
    await container.idempotency.complete(claim, StoredResponse(status_code, body), ticket_id)
    return _json(status_code, body, replayed=False)
