"""The tests' tracer provider: spans kept in memory while a test records them.

OpenTelemetry allows one tracer provider per process, so it is installed once, on first use;
apps instrumented before that pick it up then (their tracers are proxies). Spans are kept only
while `recording()` is on, so the rest of the session does not fill memory with them.
"""

import contextlib
import logging
from collections.abc import Iterator, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from zumik_observability.logs import JsonFormatter
from zumik_observability.tracing import configure_tracing


class RecordingExporter(InMemorySpanExporter):
    def __init__(self) -> None:
        super().__init__()
        self.on = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.on:
            return SpanExportResult.SUCCESS
        return super().export(spans)


_exporter: RecordingExporter | None = None


def exporter() -> RecordingExporter:
    global _exporter
    if _exporter is None:
        _exporter = RecordingExporter()
        configure_tracing("zumik-tests", exporter=_exporter, environ={})
    return _exporter


@contextlib.contextmanager
def recording() -> Iterator[RecordingExporter]:
    spans = exporter()
    spans.clear()
    spans.on = True
    try:
        yield spans
    finally:
        spans.on = False


class JsonLines(logging.Handler):
    """Every line logged, as the services' JSON formatter writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("tests"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def json_log_lines(level: int = logging.INFO) -> Iterator[JsonLines]:
    handler = JsonLines()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(min(previous, level))
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
