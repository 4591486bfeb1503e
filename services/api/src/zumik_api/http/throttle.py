"""Failed authentication, limited per client address: guessing credentials costs the guesser.

Each API process counts the failed attempts of each address over a sliding minute; past the
limit, the address gets `429` with `Retry-After` before any store read. (In-process on purpose:
a guesser spread over N instances gets N times the budget, which still makes guessing a 256-bit
key hopeless, and a success never waits on a shared counter.)
"""

import math
import time
from collections import deque
from dataclasses import dataclass

from zumik_api.http.errors import ApiError

WINDOW_SECONDS = 60.0
_MAX_ADDRESSES = 50_000


class FailureThrottle:
    def __init__(self, failures_per_minute: int) -> None:
        self._limit = failures_per_minute
        self._failures: dict[str, deque[float]] = {}

    def for_client(self, address: str) -> "ClientThrottle":
        return ClientThrottle(self, address)

    def retry_after(self, address: str) -> float:
        """Seconds until the address may try again; 0 when it may now."""
        failures = self._recent(address)
        if failures is None or len(failures) < self._limit:
            return 0.0
        return max(0.0, failures[0] + WINDOW_SECONDS - time.monotonic())

    def failed(self, address: str) -> None:
        failures = self._recent(address)
        if failures is None:
            if len(self._failures) >= _MAX_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))
            failures = self._failures[address] = deque()
        failures.append(time.monotonic())
        while len(failures) > self._limit:
            failures.popleft()

    def _recent(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        horizon = time.monotonic() - WINDOW_SECONDS
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures


@dataclass(frozen=True)
class ClientThrottle:
    """The throttle, for the address of the request at hand."""

    throttle: FailureThrottle
    address: str

    def check_not_throttled(self) -> None:
        wait = self.throttle.retry_after(self.address)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limit_error",
                "too_many_failed_attempts",
                "Too many failed authentication attempts from this address. "
                "Wait before trying again.",
                headers={"Retry-After": str(math.ceil(wait))},
            )

    def failed(self) -> None:
        self.throttle.failed(self.address)
