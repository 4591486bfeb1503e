"""The notifier's own figures, beside FastStream's per-queue ones (received, handled, failed,
in flight, duration: `faststream_*`, by queue, so by channel):

- `zumik_notifier_deliveries_total{channel, outcome}`: outcomes of delivery attempts:
  `delivered`, `retry`, `dead_lettered`, `duplicate` (already delivered), `busy` (another worker
  holds it), `malformed`;
- `zumik_notifier_attempt_seconds{channel}`: how long one HTTP attempt took;
- `zumik_notifier_lag_seconds{channel}`: consumer lag, from the event's `occurred_at` to the end
  of its handling (retries included: a retried delivery's lag grows with its delays);
- `zumik_notifier_retries_total{channel}` and `zumik_notifier_dead_letters_total{channel}`.
"""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600)


@dataclass(frozen=True)
class NotifierMetrics:
    deliveries: Counter
    attempt_seconds: Histogram
    lag_seconds: Histogram
    retries: Counter
    dead_letters: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> "NotifierMetrics":
        return cls(
            deliveries=Counter(
                "zumik_notifier_deliveries",
                "Outcomes of the notifier's delivery handling, by channel.",
                ["channel", "outcome"],
                registry=registry,
            ),
            attempt_seconds=Histogram(
                "zumik_notifier_attempt_seconds",
                "Duration of one delivery attempt (the HTTP call), by channel.",
                ["channel"],
                registry=registry,
            ),
            lag_seconds=Histogram(
                "zumik_notifier_lag_seconds",
                "From the event's occurred_at to the end of its handling, by channel.",
                ["channel"],
                buckets=LAG_BUCKETS,
                registry=registry,
            ),
            retries=Counter(
                "zumik_notifier_retries",
                "Deliveries sent to a delay queue for another attempt, by channel.",
                ["channel"],
                registry=registry,
            ),
            dead_letters=Counter(
                "zumik_notifier_dead_letters",
                "Messages dead-lettered by the notifier, by channel (`none`: before any channel).",
                ["channel"],
                registry=registry,
            ),
        )
