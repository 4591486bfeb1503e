"""Internal notes never reach the customer: not the API, not the events, not replays."""

import json
import secrets
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import Runtime
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.staff.helpers import (
    TICKETS,
    EventTap,
    StaffUser,
    customer_get,
    staff_get,
    staff_reply,
)


def assert_no_note(text: str, note_body: str, note_ids: list[str]) -> None:
    assert note_body not in text
    assert note_body[:40] not in text  # nor a preview of it
    for note_id in note_ids:
        assert note_id not in text


async def test_internal_notes_are_absent_from_every_customer_surface(
    api: httpx.AsyncClient,
    runtime: Runtime,
    db: AsyncDatabase[Document],
    project: ApiProject,
    staff: StaffUser,
    event_tap: EventTap,
) -> None:
    note_body = f"INTERNAL {secrets.token_hex(6)}: customer is abusive, refund denied. " * 5
    create_key = f"create-{secrets.token_hex(6)}"
    create_payload = {"subject": "Refund", "body": "I want a refund.", "priority": "high"}
    created = await api.post(
        TICKETS,
        json=create_payload,
        headers={**project.headers, "Idempotency-Key": create_key},
    )
    assert created.status_code == 201
    ticket_id: str = created.json()["id"]

    first_note = await staff_reply(api, staff, ticket_id, note_body, internal=True)
    await staff_reply(
        api, staff, ticket_id, note_body + " (again)", internal=True, status="pending"
    )
    await staff_reply(api, staff, ticket_id, "We are reviewing your refund.")
    reply_key = f"reply-{secrets.token_hex(6)}"
    reply_payload = {"body": "Thanks, waiting."}
    replied = await api.post(
        f"{TICKETS}/{ticket_id}/messages",
        json=reply_payload,
        headers={**project.headers, "Idempotency-Key": reply_key},
    )
    assert replied.status_code == 200
    await staff_reply(api, staff, ticket_id, note_body + " (third)", internal=True)

    # The team does see the notes (so the checks below are about filtering, not absence).
    whole = await staff_get(api, staff, ticket_id)
    notes = [m for m in whole["messages"] if m["internal"]]
    note_ids = [m["id"] for m in notes]
    assert len(notes) == 3
    assert first_note["messages"][-1]["body"] == note_body
    assert first_note["message_count"] == 1

    # Customer GET.
    seen = await customer_get(api, project, ticket_id)
    assert_no_note(json.dumps(seen), note_body, note_ids)
    assert [(m["author"], m["body"]) for m in seen["messages"]] == [
        ("customer", "I want a refund."),
        ("support", "We are reviewing your refund."),
        ("customer", "Thanks, waiting."),
    ]
    assert seen["message_count"] == 3

    # Customer list: message_count counts public messages only.
    listed = await api.get(TICKETS, headers=project.headers)
    assert listed.status_code == 200
    assert_no_note(listed.text, note_body, note_ids)
    (item,) = [t for t in listed.json()["data"] if t["id"] == ticket_id]
    assert item["message_count"] == 3
    pending_list = await api.get(TICKETS, params={"status": "open"}, headers=project.headers)
    assert_no_note(pending_list.text, note_body, note_ids)

    # Idempotent replays, including one of a reply stored after a note was added.
    for path, payload, key in (
        (TICKETS, create_payload, create_key),
        (f"{TICKETS}/{ticket_id}/messages", reply_payload, reply_key),
    ):
        replay = await api.post(
            path, json=payload, headers={**project.headers, "Idempotency-Key": key}
        )
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.status_code in (200, 201)
        assert_no_note(replay.text, note_body, note_ids)
        assert all(m["author"] in ("customer", "support") for m in replay.json()["messages"])

    # Events on zumik.support.
    await event_tap.settle(db, runtime, [ticket_id])
    events = event_tap.for_ticket(ticket_id)
    types = [e["type"] for e in events]
    assert types.count("ticket.created") == 1
    assert types.count("ticket.message_added") == 2  # the support reply and the customer's
    assert types.count("ticket.status_changed") == 2  # -> pending (with a note), -> open
    for event in events:
        assert_no_note(json.dumps(event), note_body, note_ids)
    previews: list[dict[str, Any]] = [e["data"]["message"] for e in events if e["data"]["message"]]
    public_ids = {m["id"] for m in seen["messages"]}
    assert {p["id"] for p in previews} == public_ids
    assert all(note_body[:20] not in (p["preview"] or "") for p in previews)
