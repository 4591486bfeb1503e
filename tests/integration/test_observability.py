"""What an operator reads off the API: `/metrics` after a create, the request id on every line,
an incoming `Request-Id` or `traceparent` honoured, and `Allow` on a 405."""

import asyncio
import json
import secrets

import aio_pika
import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.services import Services
from tests.tracing import exporter, json_log_lines

TICKETS = "/v2/support/tickets"
NEW_TICKET = {"subject": "Metrics", "body": "Counting this one."}


async def _metrics(api: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_show_requests_latency_outbox_relay_and_sla_figures_after_a_create(
    api: httpx.AsyncClient, project: ApiProject, services: Services
) -> None:
    # A queue bound with `#`, so that the event is routable whatever else runs on the broker.
    connection = await aio_pika.connect(services.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            "zumik.support", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(f"test.metrics.{secrets.token_hex(4)}", exclusive=True)
        await queue.bind(exchange, "#")
        await _reads_metrics_after_a_create(api, project)
    finally:
        await connection.close()


async def _reads_metrics_after_a_create(api: httpx.AsyncClient, project: ApiProject) -> None:
    before = await _metrics(api)
    created = await api.post(TICKETS, json=NEW_TICKET, headers=project.headers)
    assert created.status_code == 201
    missing = await api.get(f"{TICKETS}/spt_{'0' * 26}", headers=project.headers)
    assert missing.status_code == 404

    after = await _metrics(api)
    route = {"method": "POST", "route": TICKETS}
    assert _value(after, "zumik_http_requests_total", status="201", **route) == (
        _value(before, "zumik_http_requests_total", status="201", **route) + 1
    )
    # Errors by route: the template, never the path that was asked for.
    assert (
        _value(
            after,
            "zumik_http_requests_total",
            method="GET",
            route=f"{TICKETS}/{{ticket_id}}",
            status="404",
        )
        >= 1
    )
    assert _value(after, "zumik_http_request_duration_seconds_count", **route) >= 1
    assert _value(after, "zumik_http_request_duration_seconds_bucket", le="+Inf", **route) >= 1
    assert _value(after, "zumik_ticket_events_recorded_total", type="ticket.created") >= 1
    names = {name for name, _ in after}
    assert {
        "zumik_outbox_backlog_events",
        "zumik_outbox_oldest_pending_seconds",
        "zumik_relay_published_total",
        "zumik_relay_publish_failures_total",
        "zumik_relay_broker_connected",
        "zumik_sla_breaches_total",
        "process_resident_memory_bytes",
    } <= names, names
    # The relay publishes right after the write commits.
    published_before = _value(before, "zumik_relay_published_total")
    for _ in range(100):
        now = await _metrics(api)
        if (
            _value(now, "zumik_relay_published_total") > published_before
            and _value(now, "zumik_relay_broker_connected") == 1
        ):
            break
        await asyncio.sleep(0.05)
    assert _value(now, "zumik_relay_published_total") > published_before
    assert _value(now, "zumik_relay_broker_connected") == 1


async def test_an_incoming_request_id_is_kept_and_on_every_line_of_the_request(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    with json_log_lines() as logs:
        response = await api.post(
            TICKETS, json=NEW_TICKET, headers={**project.headers, "Request-Id": "lb-7f3a.42"}
        )
    assert response.status_code == 201
    assert response.headers["Request-Id"] == "lb-7f3a.42"
    lines = [json.loads(line) for line in logs.lines]
    access = [line for line in lines if line["logger"] == "zumik_api.access"]
    assert access
    assert all(line["request_id"] == "lb-7f3a.42" for line in access)
    assert access[-1]["route"] == TICKETS
    assert access[-1]["status"] == 201

    # Not an id (spaces, too long): replaced by one of ours.
    for odd in ("two words", "x" * 200):
        response = await api.get(TICKETS, headers={**project.headers, "Request-Id": odd})
        assert response.headers["Request-Id"].startswith("req_")


async def test_an_incoming_traceparent_is_continued_and_stored_with_the_events(
    api: httpx.AsyncClient, project: ApiProject, db: AsyncDatabase[Document]
) -> None:
    exporter()  # a tracer provider in this process
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    with json_log_lines() as logs:
        response = await api.post(
            TICKETS, json=NEW_TICKET, headers={**project.headers, "traceparent": traceparent}
        )
    assert response.status_code == 201
    stored = await db.tickets.find_one({"_id": response.json()["id"]})
    assert stored is not None
    # Published at once, then pruned: what is left of the outbox (if anything) has the trace.
    for entry in stored.get("outbox", []):
        assert entry["traceparent"].split("-")[1] == trace_id
    access = [json.loads(line) for line in logs.lines if '"zumik_api.access"' in line]
    assert access[-1]["trace_id"] == trace_id


async def test_405_names_every_method_the_path_serves(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    response = await api.delete(TICKETS, headers=project.headers)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
    response = await api.put(f"{TICKETS}/spt_x", headers=project.headers)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PATCH"
