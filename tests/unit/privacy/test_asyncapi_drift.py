"""The committed AsyncAPI document is what the code declares."""

import json
from pathlib import Path

from zumik_privacy.asyncapi import render

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "asyncapi" / "privacy.json"


def test_committed_asyncapi_document_matches_the_code() -> None:
    assert render() == COMMITTED.read_text(), (
        "docs/asyncapi/privacy.json is stale; regenerate it with "
        "`uv run python -m zumik_privacy.asyncapi > docs/asyncapi/privacy.json`"
    )


def test_document_describes_commands_results_and_dead_letters() -> None:
    spec = json.loads(render())
    commands = spec["channels"]["zumik.privacy.commands:commands"]
    operation = spec["operations"]["zumik.privacy.commands:commands"]

    assert operation["bindings"]["amqp"]["cc"] == ["privacy.export", "privacy.erase"]
    assert commands["x-zumik-queue"]["arguments"]["x-delivery-limit"] == 5
    assert commands["x-zumik-queue"]["dead-letter-queue"]["name"] == "zumik.privacy.dead"
    assert "x-message-ttl" in commands["x-zumik-queue"]["dead-letter-queue"]["arguments"]
    assert "PrivacyCommand" in spec["components"]["schemas"]
    for key in (
        "privacy.export.completed",
        "privacy.erase.completed",
        "privacy.export.failed",
        "privacy.erase.failed",
        "privacy.command.failed",
    ):
        assert f"zumik.privacy:{key}" in spec["channels"]
