"""The committed AsyncAPI document is what the code declares."""

from pathlib import Path

from zumik_api.asyncapi import document

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "asyncapi" / "api.json"


def test_committed_asyncapi_document_matches_the_code() -> None:
    assert document() == COMMITTED.read_text(), (
        "docs/asyncapi/api.json is stale; regenerate it with "
        "`uv run python -m zumik_api.asyncapi > docs/asyncapi/api.json`"
    )


def test_document_lists_every_ticket_event_channel() -> None:
    text = document()
    for event_type in ("ticket.created", "ticket.message_added", "ticket.status_changed"):
        assert f"zumik.support:{event_type}" in text
