"""Which failures are retried, after which delay level, and how Retry-After is read."""

from datetime import UTC, datetime

import pytest
from zumik_notifier.channels.result import AttemptResult, parse_retry_after
from zumik_notifier.retry import Decision, RetryPolicy, Verdict, is_retryable

POLICY = RetryPolicy(max_attempts=4, delays=[0.2, 0.5, 1.0])


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(status: int) -> None:
    assert POLICY.decide(AttemptResult(status=status), 1) == Decision(Verdict.DELIVERED)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_timeouts_rate_limits_and_5xx_are_retried(status: int) -> None:
    assert is_retryable(AttemptResult(status=status))
    assert POLICY.decide(AttemptResult(status=status), 1).verdict is Verdict.RETRY


@pytest.mark.parametrize("error", ["timeout", "connection_error", "store_unavailable"])
def test_no_response_is_retried(error: str) -> None:
    assert POLICY.decide(AttemptResult(error=error), 1) == Decision(Verdict.RETRY, 0.2)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 413, 422, 301, 302])
def test_other_client_errors_are_rejected_at_once(status: int) -> None:
    assert POLICY.decide(AttemptResult(status=status), 1) == Decision(Verdict.REJECTED)


def test_backoff_grows_per_attempt_and_caps_at_the_last_level() -> None:
    failures = [POLICY.decide(AttemptResult(status=503), attempt) for attempt in (1, 2, 3)]
    assert [d.delay for d in failures] == [0.2, 0.5, 1.0]
    assert RetryPolicy(10, [0.2, 0.5]).delay_after(7) == 0.5


def test_attempts_are_bounded() -> None:
    assert POLICY.decide(AttemptResult(status=503), 4) == Decision(Verdict.EXHAUSTED)
    assert RetryPolicy(1, [5]).decide(AttemptResult(error="timeout"), 1).verdict is (
        Verdict.EXHAUSTED
    )


@pytest.mark.parametrize(
    ("retry_after", "attempt", "delay"),
    [
        (0.0, 1, 0.2),  # no longer than the backoff: the backoff
        (0.3, 1, 0.5),  # the smallest level >= Retry-After
        (0.5, 1, 0.5),
        (1.0, 1, 1.0),
        (0.3, 3, 1.0),  # the backoff is already longer
        (60.0, 1, 1.0),  # longer than every level: the longest
    ],
)
def test_429_waits_at_least_retry_after(retry_after: float, attempt: int, delay: float) -> None:
    result = AttemptResult(status=429, retry_after=retry_after)
    assert POLICY.decide(result, attempt) == Decision(Verdict.RETRY, delay)


def test_retry_after_formats() -> None:
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Thu, 26 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None


def test_results_describe_themselves_without_details() -> None:
    assert AttemptResult(status=422).describe() == "HTTP 422"
    assert AttemptResult(error="timeout").describe() == "timeout"
    assert AttemptResult.from_error(TimeoutError()).error == "timeout"
    assert AttemptResult.from_error(ConnectionRefusedError()).error == "connection_error"
