"""The one error envelope, `{"error": {type, code, message, param}}`, for every failure."""

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from zumik_contracts.errors import ErrorDetail, ErrorResponse, ErrorType

from zumik_api.domain.errors import DomainError, FileNotFound, TicketNotFound, UnknownAttachment
from zumik_api.service.idempotency import IdempotencyKeyInUse, IdempotencyKeyReused
from zumik_api.service.ports import FileRefused, FileTooLarge, StorageFull, TicketBusy
from zumik_api.service.tickets import ProjectGone

VALIDATION_STATUS = 400

# Every `code` an error response can carry, by status (the OpenAPI document enumerates them).
ERROR_CODES: dict[str, tuple[str, ...]] = {
    "400": (
        "parameter_invalid",
        "parameter_missing",
        "parameter_unknown",
        "invalid_json",
        "idempotency_key_reused",
        "invalid_content_type",
        "invalid_multipart",
        "resource_missing",
        "file_type_not_allowed",
        "invalid_har",
        "http_error",
    ),
    "401": (
        "missing_api_key",
        "malformed_api_key",
        "invalid_api_key",
        "missing_staff_token",
        "invalid_staff_token",
        "not_signed_in",
        "session_expired",
        "wrong_session",
        "invalid_sign_in_link",
    ),
    "403": ("csrf_token_invalid",),
    "404": ("resource_missing", "route_not_found"),
    "405": ("method_not_allowed",),
    "409": (
        "ticket_closed",
        "thread_too_long",
        "ticket_too_large",
        "ticket_busy",
        "idempotency_key_in_use",
        "file_already_attached",
    ),
    "413": ("request_too_large", "file_too_large", "storage_quota_exceeded"),
    "429": ("rate_limit_exceeded", "too_many_failed_attempts"),
    "500": ("internal_error",),
    "503": ("service_unavailable",),
}


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        type_: ErrorType,
        code: str,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = ErrorDetail(type=type_, code=code, message=message, param=param)
        self.headers = headers


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        ErrorResponse(error=error.detail).model_dump(),
        status_code=error.status_code,
        headers=error.headers,
    )


UNAVAILABLE_RETRY_SECONDS = 2


def unavailable() -> ApiError:
    """A dependency is down or too slow: nothing was changed unless the response says so, and
    the same request (with its Idempotency-Key) may be sent again."""
    return ApiError(
        503,
        "api_error",
        "service_unavailable",
        "The service is briefly unavailable (its store did not answer in time). "
        "Retry in a moment; with the same Idempotency-Key a retry is safe.",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)},
    )


def not_found() -> ApiError:
    return ApiError(404, "not_found_error", "resource_missing", "No such ticket.", "id")


def missing_parameter(param: str | None) -> ApiError:
    return ApiError(
        VALIDATION_STATUS,
        "invalid_request_error",
        "parameter_missing",
        f"Missing required parameter: {param}.",
        param,
    )


def unknown_parameter(param: str | None) -> ApiError:
    return ApiError(
        VALIDATION_STATUS,
        "invalid_request_error",
        "parameter_unknown",
        f"Received unknown parameter: {param}.",
        param,
    )


def _validation_error(exc: RequestValidationError) -> ApiError:
    first: dict[str, Any] = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ())]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]
    param = ".".join(location) or None
    kind = first.get("type", "")
    if kind == "json_invalid":
        return ApiError(
            VALIDATION_STATUS,
            "invalid_request_error",
            "invalid_json",
            "The request body is not valid JSON. Send a JSON object with "
            "`Content-Type: application/json`.",
        )
    if kind == "missing":
        return missing_parameter(param)
    if kind == "extra_forbidden":
        return unknown_parameter(param)
    message = str(first.get("msg", "Invalid value")).removeprefix("Value error, ")
    subject = f"Invalid {param}: " if param else "Invalid request: "
    return ApiError(
        VALIDATION_STATUS,
        "invalid_request_error",
        "parameter_invalid",
        f"{subject}{message[0].lower()}{message[1:]}.".replace("..", "."),
        param,
    )


_HTTP_ERRORS: dict[int, tuple[ErrorType, str, str]] = {
    404: ("not_found_error", "route_not_found", "No such endpoint."),
    405: ("invalid_request_error", "method_not_allowed", "This method is not allowed here."),
    413: ("invalid_request_error", "request_too_large", "The request body is too large."),
}


def allowed_methods(request: Request) -> list[str]:
    """The methods the API documents at this request's path, for a 405's `Allow` (Starlette
    names only those of the first route whose path matched)."""
    path = request.scope["path"]
    for template, operations in request.app.openapi()["paths"].items():
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^/}]+\})", template)
        )
        if re.fullmatch(pattern, path):
            return sorted(method.upper() for method in operations)
    return []


def _file_too_large(exc: FileTooLarge) -> ApiError:
    return ApiError(
        413,
        "invalid_request_error",
        "file_too_large",
        f"The file is larger than {_megabytes(exc.limit_bytes)} "
        f"({exc.limit_bytes:,} bytes), the most one file may be. Nothing was stored.",
        "file",
    )


def _storage_full(exc: StorageFull) -> ApiError:
    return ApiError(
        413,
        "invalid_request_error",
        "storage_quota_exceeded",
        "This project's files would take more than its storage quota of "
        f"{_megabytes(exc.quota_bytes)} ({exc.quota_bytes:,} bytes). Nothing was stored.",
        "file",
    )


def _project_gone(_: ProjectGone) -> ApiError:
    # Its keys outlived it, for at most the auth cache's time, while it was being erased.
    return ApiError(
        401,
        "authentication_error",
        "invalid_api_key",
        "The API key is not valid.",
        headers={"WWW-Authenticate": "Bearer"},
    )


RETRY_SOON = {"Retry-After": "1"}


def _ticket_busy(_: TicketBusy) -> ApiError:
    return ApiError(
        409,
        "conflict_error",
        "ticket_busy",
        "This ticket is being changed by other requests. Please retry in a moment.",
        headers=RETRY_SOON,
    )


def _key_reused(_: IdempotencyKeyReused) -> ApiError:
    return ApiError(
        400,
        "idempotency_error",
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request. "
        "Use a new key for a new request.",
        "Idempotency-Key",
    )


def _key_in_use(_: IdempotencyKeyInUse) -> ApiError:
    return ApiError(
        409,
        "idempotency_error",
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still being processed. Retry after it completes.",
        "Idempotency-Key",
        headers=RETRY_SOON,
    )


# How each failure the service layer raises is answered.
_ANSWERS: dict[type[Exception], Callable[[Any], ApiError]] = {
    RequestValidationError: lambda exc: _validation_error(exc),
    TicketNotFound: lambda _: not_found(),
    FileNotFound: lambda _: ApiError(
        404, "not_found_error", "resource_missing", "No such file.", "id"
    ),
    UnknownAttachment: lambda exc: ApiError(
        400, "invalid_request_error", "resource_missing", exc.message, exc.param
    ),
    FileRefused: lambda exc: ApiError(400, "invalid_request_error", exc.code, exc.message, "file"),
    FileTooLarge: _file_too_large,
    StorageFull: _storage_full,
    DomainError: lambda exc: ApiError(409, "conflict_error", exc.code, exc.message, exc.param),
    ProjectGone: _project_gone,
    TicketBusy: _ticket_busy,
    IdempotencyKeyReused: _key_reused,
    IdempotencyKeyInUse: _key_in_use,
}


def _answering(answer: Callable[[Any], ApiError]) -> Callable[[Request, Any], Awaitable[Response]]:
    async def handle(_: Request, exc: Any) -> Response:
        return error_response(answer(exc))

    return handle


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    for failure, answer in _ANSWERS.items():
        app.add_exception_handler(failure, _answering(answer))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        type_, code, message = _HTTP_ERRORS.get(
            exc.status_code, ("invalid_request_error", "http_error", str(exc.detail))
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (documented := allowed_methods(request)):
            headers["Allow"] = ", ".join(documented)
        return error_response(ApiError(exc.status_code, type_, code, message, headers=headers))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def described(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: described("Invalid request: bad JSON, a missing, unknown or invalid parameter."),
    401: described("Missing, malformed or unknown API key."),
    413: described("The request body is larger than the API accepts."),
    500: described("An error on our side."),
    503: described("Briefly unavailable (the store did not answer in time); see `Retry-After`."),
}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    409: described("A request with this Idempotency-Key is still being processed."),
}
TICKET_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    404: described("No such ticket in this project."),
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **TICKET_ERRORS,
    409: described(
        "The ticket is closed (open a new one), its thread is full, it is busy, "
        "or a request with this Idempotency-Key is still being processed."
    ),
}
