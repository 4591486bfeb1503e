"""When to retry a failed delivery, and after which delay level. Pure: no I/O, no clock.

- 2xx: delivered.
- 408, 429, 5xx, and no response at all (timeout, connection refused/reset): transient, retried.
- Any other status (other 4xx, an unexpected 1xx/3xx): the request itself is wrong, and sending it
  again cannot help; it is dead-lettered at once so an operator can look at it.
- Backoff: the n-th failure waits delays[n-1] (capped at the last level). A 429's Retry-After is
  honoured by choosing the smallest level that is at least that long (or the longest level).
"""

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from zumik_notifier.channels.result import AttemptResult

RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"  # a permanent failure: not retried
    EXHAUSTED = "exhausted"  # transient failures, but no attempts left


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay: float | None = None  # the delay level to wait in, for RETRY


def is_retryable(result: AttemptResult) -> bool:
    if result.status is None:
        return True
    return result.status >= 500 or result.status in RETRYABLE_CLIENT_ERRORS


class RetryPolicy:
    def __init__(self, max_attempts: int, delays: Sequence[float]) -> None:
        if max_attempts < 1 or not delays:
            raise ValueError("need max_attempts >= 1 and at least one delay level")
        self.max_attempts = max_attempts
        self.delays = tuple(sorted(delays))

    def decide(self, result: AttemptResult, attempt: int) -> Decision:
        """What to do after attempt number `attempt` (1-based) ended with `result`."""
        if result.delivered:
            return Decision(Verdict.DELIVERED)
        if not is_retryable(result):
            return Decision(Verdict.REJECTED)
        if attempt >= self.max_attempts:
            return Decision(Verdict.EXHAUSTED)
        return Decision(Verdict.RETRY, self.delay_after(attempt, result.retry_after))

    def delay_after(self, attempt: int, retry_after: float | None = None) -> float:
        """The delay level after the `attempt`-th failure, at least `retry_after` when given."""
        backoff = self.delays[min(max(attempt, 1), len(self.delays)) - 1]
        if retry_after is None:
            return backoff
        return max(backoff, self.level_at_least(retry_after))

    def level_at_least(self, seconds: float) -> float:
        """The shortest level >= `seconds`; the longest level when none is that long."""
        index = bisect.bisect_left(self.delays, seconds)
        return self.delays[min(index, len(self.delays) - 1)]
