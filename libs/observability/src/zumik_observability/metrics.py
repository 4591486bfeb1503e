"""Prometheus metrics: one registry per service instance, rendered with the process's own.

Each service keeps its figures in a `CollectorRegistry` of its own (tests run several apps in one
process; their counts stay apart), and `/metrics` renders it together with prometheus_client's
default registry, which holds the process collectors (CPU, memory, open files, GC).

Figures that live elsewhere (the relay's counters and backlog) are read when scraped, through
`Readings`: a collector that calls a function at each scrape.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "Reading", "Readings", "new_registry", "render"]


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def render(*registries: CollectorRegistry) -> bytes:
    """The exposition text of `registries` and of the process collectors."""
    return b"".join(generate_latest(registry) for registry in (*registries, REGISTRY))


@dataclass(frozen=True)
class Reading:
    """One figure read at scrape time: a counter (only ever grows) or a gauge."""

    name: str
    documentation: str
    read: Callable[[], float | None]
    counter: bool = False
    labels: Sequence[tuple[str, str]] = ()


class Readings(Collector):
    def __init__(self, readings: Iterable[Reading]) -> None:
        self._readings = list(readings)

    def collect(self) -> Iterable[Metric]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for reading in self._readings:
            value = reading.read()
            label_names = [name for name, _ in reading.labels]
            family = families.get(reading.name)
            if family is None:
                family = (
                    CounterMetricFamily(reading.name, reading.documentation, labels=label_names)
                    if reading.counter
                    else GaugeMetricFamily(reading.name, reading.documentation, labels=label_names)
                )
                families[reading.name] = family
            if value is not None:
                family.add_metric([value for _, value in reading.labels], value)
        return list(families.values())
