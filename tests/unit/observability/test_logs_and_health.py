"""JSON log lines (context, escaping, trace ids) and the worker services' health port."""

import asyncio
import json
import logging

import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import Counter
from pydantic import AnyUrl, BaseModel
from zumik_observability.health import HealthServer
from zumik_observability.logs import JsonFormatter, bind, settings_or_exit
from zumik_observability.metrics import Reading, Readings, new_registry, render
from zumik_observability.tracing import (
    continued_span,
    current_traceparent,
    export_requested,
    tracer_provider,
)

from tests.tracing import exporter


def _line(message: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("zumik_api", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    text = JsonFormatter("zumik-api").format(record)
    assert "\n" not in text
    assert "\x1b" not in text
    assert "\r" not in text
    loaded: dict[str, object] = json.loads(text)
    return loaded


def test_a_line_is_one_json_object_with_its_bound_context() -> None:
    with bind(request_id="req_1", ticket_id=None):
        with bind(event_id="evt_1"):
            line = _line("handled %s", "it", route="/v2/support/tickets")
        outer = _line("after")
    assert line["message"] == "handled it"
    assert line["service"] == "zumik-api"
    assert line["level"] == "info"
    assert (line["request_id"], line["event_id"], line["route"]) == (
        "req_1",
        "evt_1",
        "/v2/support/tickets",
    )
    assert "ticket_id" not in line
    assert "event_id" not in outer
    assert outer["request_id"] == "req_1"
    assert "request_id" not in _line("outside")


def test_client_text_cannot_forge_a_line_or_drive_a_terminal() -> None:
    forged = '/v2/x\n{"level":"error","message":"forged"}\x1b[2J\u2028'
    line = _line("unhandled on %s", forged, path=forged)
    assert line["path"] == forged  # kept, but escaped on the wire (asserted in _line)


def test_lines_carry_the_current_trace() -> None:
    exporter()
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with continued_span(f"00-{trace_id}-b7ad6b7169203331-01", "test"):
        line = _line("in a span")
        assert (current_traceparent() or "").split("-")[1] == trace_id
    assert line["trace_id"] == trace_id
    assert len(str(line["span_id"])) == 16


def test_otlp_export_is_off_unless_the_environment_asks() -> None:
    assert not export_requested({})
    assert export_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert export_requested({"OTEL_TRACES_EXPORTER": "otlp"})
    assert not export_requested(
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    )


def test_unexported_spans_are_ids_only_and_exported_ones_are_recorded() -> None:
    """Without export, a span costs no recording but still has ids for the logs and the
    outbox's `traceparent`, continuing the caller's trace."""
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    parent = propagate.extract({"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"})
    # The providers alone: installing one is once per process (tests/tracing.py's).
    unexported = tracer_provider("zumik-tests", environ={})
    exported = tracer_provider("zumik-tests", environ={}, exporter=InMemorySpanExporter())
    assert unexported is not None
    assert exported is not None
    quiet = unexported.get_tracer("t").start_span("s", context=parent)
    assert not quiet.is_recording()
    assert quiet.get_span_context().is_valid
    assert format(quiet.get_span_context().trace_id, "032x") == trace_id
    assert exported.get_tracer("t").start_span("s", context=parent).is_recording()
    assert tracer_provider("zumik-tests", environ={"OTEL_SDK_DISABLED": "true"}) is None


async def _get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    return int(head.split()[1]), body


async def test_health_port_answers_liveness_readiness_and_metrics() -> None:
    registry = new_registry()
    Counter("zumik_test_things", "Things.", registry=registry).inc(3)
    registry.register(Readings([Reading("zumik_test_backlog", "Backlog.", lambda: 7.0)]))
    ready = {"rabbitmq": True, "mongodb": False}

    async def checks() -> dict[str, bool]:
        return ready

    server = HealthServer(checks, registry, "127.0.0.1", 0)
    await server.start()
    try:
        assert server.port
        assert await _get(server.port, "/healthz") == (200, '{"status":"ok"}')
        status, body = await _get(server.port, "/readyz")
        assert status == 503
        assert json.loads(body)["checks"] == ready
        ready["mongodb"] = True
        assert (await _get(server.port, "/readyz"))[0] == 200
        status, body = await _get(server.port, "/metrics")
        assert status == 200
        assert "zumik_test_things_total 3.0" in body
        assert "zumik_test_backlog 7.0" in body
        assert (await _get(server.port, "/nothing"))[0] == 404
    finally:
        await server.stop()
    assert b"zumik_test_backlog 7.0" in render(registry)


def test_invalid_settings_are_named_never_quoted_and_the_process_exits_2(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Settings(BaseModel):
        mongodb_url: AnyUrl
        rate_limit_free: int

    def load() -> Settings:
        return Settings.model_validate(
            {"mongodb_url": "not a url with s3cret-password", "rate_limit_free": "lots"}
        )

    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_:
        settings_or_exit(load, logging.getLogger("tests.settings"))
    assert exit_.value.code == 2
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(":")[1].strip() for line in lines] == ["MONGODB_URL", "RATE_LIMIT_FREE"]
    assert "s3cret" not in caplog.text
    assert "lots" not in caplog.text
