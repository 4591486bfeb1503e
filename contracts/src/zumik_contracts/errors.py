"""The one error envelope every Zumik Support HTTP error uses."""

from typing import Literal

from pydantic import BaseModel, Field

ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "not_found_error",
    "conflict_error",
    "idempotency_error",
    "rate_limit_error",
    "api_error",
]


class ErrorDetail(BaseModel):
    type: ErrorType
    code: str = Field(examples=["ticket_closed"])
    message: str = Field(examples=["This ticket is closed. Please open a new ticket."])
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
