"""Latency samples and load results: percentiles, rates and ratios."""

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (`pct` in 0..100) of the samples; NaN when there are none."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    if denominator == 0 or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured: completed operations over wall time, and their latency."""

    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    concurrency: int = 1

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    @classmethod
    def from_samples(
        cls,
        label: str,
        latencies_s: Sequence[float],
        seconds: float,
        *,
        errors: int = 0,
        concurrency: int = 1,
    ) -> "LoadResult":
        return cls(
            label=label,
            requests=len(latencies_s),
            seconds=seconds,
            p50_ms=percentile(latencies_s, 50) * 1000,
            p99_ms=percentile(latencies_s, 99) * 1000,
            errors=errors,
            concurrency=concurrency,
        )


def fmt(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def median_run(runs: Sequence[LoadResult]) -> LoadResult:
    """The run with the median rate (the lower middle one of an even count)."""
    return sorted(runs, key=lambda r: r.rate)[(len(runs) - 1) // 2]
