"""OpenTelemetry tracing: the process's tracer provider, and trace context across the queue.

Spans always get ids once `configure_tracing` ran: log lines and outbox entries carry them, so a
request can be followed in the logs with no collector at all. They are recorded and exported over
OTLP/HTTP only when asked, by the standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or `OTEL_TRACES_EXPORTER=otlp` (then `OTEL_TRACES_SAMPLER`
applies). Unexported, a span is only its ids: recording it would cost CPU on every request for
nothing. `OTEL_SDK_DISABLED=true` turns tracing off; `OTEL_SERVICE_NAME` renames the service.

Across RabbitMQ the context travels as the W3C `traceparent` header: the API's relay continues
the request's trace from the one its outbox entry stored, and FastStream's
`RabbitTelemetryMiddleware` continues it in every consumer and publisher after that.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

__all__ = [
    "Span",
    "SpanKind",
    "configure_tracing",
    "continued_span",
    "current_traceparent",
    "export_requested",
    "instrument_pymongo",
    "span",
    "tracer",
    "tracer_provider",
]

TRACER_NAME = "zumik"
TRACEPARENT = "traceparent"

_pymongo_instrumented = False


def export_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for OTLP export (off by default)."""
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").lower()
    if exporters == "none":
        return False
    return (
        "otlp" in exporters
        or bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
        or bool(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    )


def configure_tracing(
    service_name: str,
    *,
    exporter: SpanExporter | None = None,
    environ: Mapping[str, str] = os.environ,
) -> TracerProvider | None:
    """Install the process's tracer provider (once per process, at start-up). `exporter` gets
    every span as it ends (tests pass an in-memory one)."""
    provider = tracer_provider(service_name, exporter=exporter, environ=environ)
    if provider is not None:
        trace.set_tracer_provider(provider)
    return provider


def tracer_provider(
    service_name: str,
    *,
    exporter: SpanExporter | None = None,
    environ: Mapping[str, str] = os.environ,
) -> TracerProvider | None:
    """The tracer provider `configure_tracing` installs (None when the SDK is disabled)."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    name = environ.get("OTEL_SERVICE_NAME") or service_name
    recorded = exporter is not None or export_requested(environ)
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: name}),
        # None: the SDK's default (parent-based, always on) or OTEL_TRACES_SAMPLER's.
        sampler=None if recorded else ALWAYS_OFF,
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if export_requested(environ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def instrument_pymongo(environ: Mapping[str, str] = os.environ) -> None:
    """A client span for every MongoDB command (once per process), when spans are exported:
    unexported, its command listener would only cost."""
    global _pymongo_instrumented
    if _pymongo_instrumented or not export_requested(environ):
        return
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    PymongoInstrumentor().instrument()
    _pymongo_instrumented = True


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, None outside any."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def continued_span(
    traceparent: str | None,
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A span that continues the trace `traceparent` names (a new trace without one)."""
    context = propagate.extract({TRACEPARENT: traceparent}) if traceparent else None
    with tracer().start_as_current_span(
        name, context=context, kind=kind, attributes=attributes
    ) as span:
        yield span


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A child of the current span."""
    with tracer().start_as_current_span(name, kind=kind, attributes=attributes) as current:
        yield current
