"""One ticket created over HTTP is followed by its trace id through the relay, the notifier's
webhook delivery and its email: in the exported spans and in the JSON log lines."""

import asyncio
import json
from typing import Any

import httpx

from tests.conftest import ApiProject
from tests.integration.notifier.conftest import NotifierEnv, delivered, open_ticket
from tests.tracing import json_log_lines, recording


def _trace_id(span: Any) -> str:
    return format(span.context.trace_id, "032x")


async def test_a_ticket_is_followed_by_its_trace_id_from_request_to_webhook_and_email(
    api: httpx.AsyncClient, project: ApiProject, notifier: NotifierEnv
) -> None:
    with recording() as spans, json_log_lines() as logs:
        ticket_id = (await open_ticket(api, project))["id"]
        await notifier.webhook.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)
        await notifier.resend.wait_for(lambda rs: len(delivered(rs, ticket_id)) >= 1)

        def names_of_trace() -> dict[str, list[Any]]:
            found: dict[str, list[Any]] = {}
            for span in spans.get_finished_spans():
                found.setdefault(span.name, []).append(span)
            return found

        # The delivery spans end just after the stubs answered.
        for _ in range(100):
            if {"webhook deliver", "email deliver"} <= names_of_trace().keys():
                break
            await asyncio.sleep(0.05)

    finished = spans.get_finished_spans()
    (request,) = [s for s in finished if s.name == "POST /v2/support/tickets"]
    trace_id = _trace_id(request)
    in_trace = [s for s in finished if _trace_id(s) == trace_id]
    names = {s.name for s in in_trace}
    assert "zumik.support.ticket.created publish" in names, names
    assert "webhook deliver" in names, names
    assert "email deliver" in names, names
    # The notifier consumed the event and its jobs in the same trace (FastStream's spans).
    consumed = [s for s in in_trace if s.name.endswith(" process")]
    assert len(consumed) >= 3, names  # the event, then the webhook and the email jobs
    delivery = next(s for s in in_trace if s.name == "webhook deliver")
    assert delivery.attributes is not None
    assert delivery.attributes["zumik.ticket_id"] == ticket_id
    assert delivery.attributes["http.response.status_code"] == 200

    lines = [json.loads(line) for line in logs.lines]
    access = [
        line
        for line in lines
        if line.get("route") == "/v2/support/tickets" and line.get("status") == 201
    ]
    assert [line["trace_id"] for line in access] == [trace_id]
    assert access[0]["request_id"].startswith("req_")
    notified = [
        line
        for line in lines
        if line.get("ticket_id") == ticket_id and "delivered" in line["message"]
    ]
    assert {line["channel"] for line in notified} >= {"webhook", "email"}, notified
    for line in notified:
        assert line["trace_id"] == trace_id
        assert line["event_id"].startswith("evt_")
        assert line["project_id"] == project.id
