"""The committed AsyncAPI document is what the code generates."""

import json
from pathlib import Path

import pytest
from zumik_notifier.asyncapi import render

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "asyncapi" / "notifier.json"


def test_committed_asyncapi_document_matches_the_code() -> None:
    assert COMMITTED.exists(), "docs/asyncapi/notifier.json is missing"
    assert render() == COMMITTED.read_text(), (
        "docs/asyncapi/notifier.json is stale; regenerate it with "
        "`uv run python -m zumik_notifier.asyncapi > docs/asyncapi/notifier.json`"
    )


def test_document_shows_what_the_notifier_consumes_and_publishes() -> None:
    spec = json.loads(render())
    assert spec["asyncapi"] == "3.0.0"
    events = spec["operations"]["zumik.notifier:events"]
    assert events["action"] == "receive"
    assert events["bindings"]["amqp"]["cc"] == ["#"]  # every event type: none is unroutable
    for name, message in spec["components"]["messages"].items():
        assert message["payload"] == {"$ref": "#/components/schemas/TicketEvent"}, name
    assert {"zumik.notifier.dlx:dead-letter", "zumik.notifier.delay:email"} <= set(
        spec["operations"]
    )


def test_document_does_not_depend_on_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_QUEUE_PREFIX", "elsewhere")
    monkeypatch.setenv("AMQP_URL", "amqp://user:pw@prod-host:5672/")
    assert render() == COMMITTED.read_text()
