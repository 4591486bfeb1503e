"""The OpenAPI document: FastAPI's, completed with what a client needs and FastAPI cannot infer.

- No 422: validation errors here are 400s with the error envelope.
- Every response documents `Request-Id`; the idempotent POSTs' successes `Idempotent-Replayed`;
  409, 429 and 503 `Retry-After`; the customer API's responses the rate-limit headers
  (`RateLimit-Policy`, `RateLimit`, IETF draft), sent when rate limiting is on.
- Each error response enumerates the `code`s it can carry, with an example.
- Every authenticated operation documents 401 and 429; every operation 500 and 503.

`python -m zumik_api.openapi > docs/openapi.json` writes the committed copy, which a test keeps
equal to this (`zumik_api.openapi`).
"""

import copy
import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from zumik_api.http.errors import COMMON_ERRORS, ERROR_CODES

REQUEST_ID = "Request-Id"
IDEMPOTENT_REPLAYED = "Idempotent-Replayed"
RETRY_AFTER = "Retry-After"
RATE_LIMIT_POLICY = "RateLimit-Policy"
RATE_LIMIT = "RateLimit"
CUSTOMER_PREFIX = "/v2/support/tickets"
IDEMPOTENT_OPERATIONS = frozenset({"createTicket", "createTicketMessage"})
RETRY_AFTER_STATUSES = frozenset({"409", "429", "503"})

HEADERS: dict[str, dict[str, Any]] = {
    REQUEST_ID: {
        "description": "This request's id (the caller's own `Request-Id` when it sent one that "
        "looks like an id). Quote it when asking about a request: every log line of it has it.",
        "required": True,
        "schema": {
            "type": "string",
            "maxLength": 128,
            "examples": ["req_3f2a9c1e5b7d40a8c6e1f2a3"],
        },
    },
    IDEMPOTENT_REPLAYED: {
        "description": "`true` when this is the stored response of an earlier request with the "
        "same `Idempotency-Key` (and body); absent otherwise.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    RETRY_AFTER: {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": r"^[0-9]+$", "examples": ["1"]},
    },
    RATE_LIMIT_POLICY: {
        "description": "The rate-limit policy applied to this caller (IETF "
        "draft-ietf-httpapi-ratelimit-headers), when rate limiting is on.",
        "schema": {"type": "string", "examples": ['"default";q=600;w=60']},
    },
    RATE_LIMIT: {
        "description": "What is left of the caller's quota and when it resets (IETF "
        "draft-ietf-httpapi-ratelimit-headers), when rate limiting is on.",
        "schema": {"type": "string", "examples": ['"default";r=599;t=60']},
    },
}

_ERROR_DESCRIPTIONS = {
    "401": "Missing, malformed or unknown credentials.",
    "429": "Too many failed authentication attempts from this address; see `Retry-After`.",
    **{str(status): COMMON_ERRORS[status]["description"] for status in (500, 503)},
}


def operation_id(route: APIRoute) -> str:
    """The fallback for a route without an explicit `operation_id`: its function's name in
    camelCase (`open_ticket` → `openTicket`)."""
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        _complete(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def render(app: FastAPI) -> str:
    return json.dumps(document(app), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _complete(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    components["headers"] = copy.deepcopy(HEADERS)
    for status, codes in ERROR_CODES.items():
        schemas[f"Error{status}"] = _error_schema(status, codes)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            _complete_operation(path, operation)


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    if path.startswith("/v2/"):
        if operation.get("security"):
            responses.setdefault("401", {"description": _ERROR_DESCRIPTIONS["401"]})
            responses.setdefault("429", {"description": _ERROR_DESCRIPTIONS["429"]})
        for status in ("500", "503"):
            responses.setdefault(status, {"description": _ERROR_DESCRIPTIONS[status]})
    customer = path.startswith(CUSTOMER_PREFIX)
    for status, response in responses.items():
        headers = response.setdefault("headers", {})
        headers[REQUEST_ID] = _ref(REQUEST_ID)
        if customer:
            headers[RATE_LIMIT_POLICY] = _ref(RATE_LIMIT_POLICY)
            headers[RATE_LIMIT] = _ref(RATE_LIMIT)
        if status in RETRY_AFTER_STATUSES:
            headers[RETRY_AFTER] = _ref(RETRY_AFTER)
        if status.startswith("2") and operation.get("operationId") in IDEMPOTENT_OPERATIONS:
            headers[IDEMPOTENT_REPLAYED] = _ref(IDEMPOTENT_REPLAYED)
        if status in ERROR_CODES and path.startswith("/v2/"):
            codes = ERROR_CODES[status]
            response["content"] = {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/Error{status}"},
                    "example": {"error": _example(status, codes[0])},
                }
            }


def _ref(header: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{header}"}


def _error_schema(status: str, codes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "title": f"Error{status}",
        "description": f"The error envelope of a {status}; `code` is one of these.",
        "allOf": [
            {"$ref": "#/components/schemas/ErrorResponse"},
            {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {"code": {"type": "string", "enum": list(codes)}},
                    }
                },
            },
        ],
    }


_TYPES = {
    "400": "invalid_request_error",
    "401": "authentication_error",
    "403": "invalid_request_error",
    "404": "not_found_error",
    "405": "invalid_request_error",
    "409": "conflict_error",
    "413": "invalid_request_error",
    "429": "rate_limit_error",
    "500": "api_error",
    "503": "api_error",
}


def _example(status: str, code: str) -> dict[str, Any]:
    words = re.sub(r"_", " ", code)
    return {
        "type": _TYPES.get(status, "invalid_request_error"),
        "code": code,
        "message": f"{words[0].upper()}{words[1:]}.",
        "param": None,
    }
