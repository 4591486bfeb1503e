"""The outcome of one HTTP delivery attempt, reduced to what the retry policy and logs need."""

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx2


@dataclass(frozen=True)
class AttemptResult:
    status: int | None = None  # the HTTP status; None when no response came back
    error: str | None = None  # why no response came: "timeout", "connection_error", ...
    retry_after: float | None = None  # seconds, from a Retry-After header
    skipped: bool = False  # nothing to send (e.g. the ticket has no contact email): done

    @property
    def delivered(self) -> bool:
        return self.skipped or (self.status is not None and 200 <= self.status < 300)

    def describe(self) -> str:
        """Short and free of personal data: `HTTP 503` or `timeout`."""
        if self.skipped:
            return "nothing to send"
        return f"HTTP {self.status}" if self.status is not None else (self.error or "unknown")

    @classmethod
    def nothing_to_send(cls) -> "AttemptResult":
        return cls(skipped=True)

    @classmethod
    def from_response(cls, response: httpx2.Response) -> "AttemptResult":
        return cls(
            status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )

    @classmethod
    def from_error(cls, error: Exception) -> "AttemptResult":
        # Only the error class: httpx messages carry the URL, which may carry a token.
        if isinstance(error, httpx2.TimeoutException | TimeoutError):
            return cls(error="timeout")
        if isinstance(error, httpx2.TransportError | OSError):
            return cls(error="connection_error")
        return cls(error=type(error).__name__)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
