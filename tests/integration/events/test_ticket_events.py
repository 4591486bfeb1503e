"""Every ticket change becomes an event on `zumik.support`, through the outbox relay."""

import json

import httpx
from aio_pika import DeliveryMode
from zumik_contracts.events import SCHEMA_VERSION_HEADER, TicketEvent

from tests.conftest import ApiProject
from tests.integration.events.conftest import OpsQueue


async def _open(api: httpx.AsyncClient, project: ApiProject) -> dict[str, object]:
    response = await api.post(
        "/v2/support/tickets",
        json={
            "subject": "Streaming cuts off",
            "body": "x" * 300,
            "priority": "high",
            "contact_email": "dev@example.com",
        },
        headers=project.headers,
    )
    assert response.status_code == 201
    ticket: dict[str, object] = response.json()
    return ticket


async def test_created_ticket_is_published(
    api: httpx.AsyncClient, project: ApiProject, ops_queue: OpsQueue
) -> None:
    ticket = await _open(api, project)
    [message] = await ops_queue.messages_for(str(ticket["id"]), 1)
    event = TicketEvent.model_validate_json(message.body)

    assert event.type == "ticket.created"
    assert message.routing_key == "ticket.created"
    assert message.message_id == event.id
    assert message.content_type == "application/json"
    assert message.delivery_mode == DeliveryMode.PERSISTENT
    assert message.headers[SCHEMA_VERSION_HEADER] == 2
    assert event.project_id == project.id
    assert event.data.ticket_id == ticket["id"]
    assert event.data.sla_tier == "enterprise"
    assert event.data.priority_queue is True
    assert event.data.message is not None
    assert event.data.message.author == "customer"
    # Data minimisation: no free text on the queue, where erasure cannot reach it.
    assert event.data.subject is None
    assert event.data.message.preview is None
    body = message.body.decode()
    for personal in ("dev@example.com", str(ticket["subject"])):
        assert personal not in body


async def test_reply_and_status_changes_are_published_in_order(
    api: httpx.AsyncClient, project: ApiProject, ops_queue: OpsQueue
) -> None:
    ticket = await _open(api, project)
    path = f"/v2/support/tickets/{ticket['id']}"
    await api.patch(path, json={"status": "resolved"}, headers=project.headers)
    await api.post(f"{path}/messages", json={"body": "still broken"}, headers=project.headers)

    events = await ops_queue.events_for(str(ticket["id"]), 4)

    assert [e["type"] for e in events] == [
        "ticket.created",
        "ticket.status_changed",
        "ticket.message_added",
        "ticket.status_changed",
    ]
    assert events[1]["data"]["status"] == "resolved"
    assert events[3]["data"]["previous_status"] == "resolved"
    assert events[3]["data"]["status"] == "open"
    assert len({e["id"] for e in events}) == 4
    assert all("contact_email" not in json.dumps(e) for e in events)
