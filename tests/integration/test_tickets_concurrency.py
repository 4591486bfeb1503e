"""Concurrent writers on one ticket: every reply lands, and a close is never undone or bypassed."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial

import httpx
import pytest

from tests.conftest import ApiProject
from tests.integration.customer_api import TICKETS, get, reply, set_status


def instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


async def create(api: httpx.AsyncClient, project: ApiProject, subject: str) -> str:
    response = await api.post(
        TICKETS, json={"subject": subject, "body": "first"}, headers=project.headers
    )
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["id"]
    return ticket_id


async def as_a_client_would(
    send: Callable[[], Awaitable[httpx.Response]], told_busy: list[str]
) -> httpx.Response:
    """Send, and when told the ticket is busy, wait as `Retry-After` says and send again."""
    while True:
        response = await send()
        if response.status_code != 409 or response.json()["error"]["code"] != "ticket_busy":
            return response
        told_busy.append(response.headers["Retry-After"])
        await asyncio.sleep(float(response.headers["Retry-After"]))


async def test_simultaneous_replies_all_land(api: httpx.AsyncClient, project: ApiProject) -> None:
    """20 at once: a few wait for the ticket's lease (bounded per ticket), the rest are told at
    once to retry, and once they do, every reply has landed exactly once."""
    ticket_id = await create(api, project, "busy thread")
    bodies = [f"reply number {n}" for n in range(20)]
    told_busy: list[str] = []
    responses = await asyncio.gather(
        *(
            as_a_client_would(partial(reply, api, project, ticket_id, body), told_busy)
            for body in bodies
        )
    )
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    assert told_busy, "more than the bounded number of waiters were left polling the store"
    assert set(told_busy) == {"1"}

    ticket = await get(api, project, ticket_id)
    assert ticket["message_count"] == 21
    thread = [m["body"] for m in ticket["messages"]]
    assert thread[0] == "first"
    assert sorted(thread[1:]) == sorted(bodies)
    assert len({m["id"] for m in ticket["messages"]}) == 21
    # Each response shows the thread as that reply left it: its own message is last.
    for body, response in zip(bodies, responses, strict=True):
        assert response.json()["messages"][-1]["body"] == body
    # Message timestamps never go backwards along the stored thread.
    stamps = [instant(m["created_at"]) for m in ticket["messages"]]
    assert stamps == sorted(stamps)
    assert ticket["status"] == "open"


async def test_simultaneous_status_changes_leave_a_consistent_ticket(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    ticket_id = await create(api, project, "tug of war")
    statuses = ["pending", "resolved", "open", "pending", "resolved"] * 2
    told_busy: list[str] = []
    responses = await asyncio.gather(
        *(
            as_a_client_would(partial(set_status, api, project, ticket_id, s), told_busy)
            for s in statuses
        )
    )
    assert [r.status_code for r in responses] == [200] * len(statuses)
    for status, response in zip(statuses, responses, strict=True):
        assert response.json()["status"] == status
    final = await get(api, project, ticket_id)
    # The ticket ends in the state written by the last change to commit.
    latest = max(instant(r.json()["updated_at"]) for r in responses)
    assert instant(final["updated_at"]) == latest
    assert final["status"] in {
        r.json()["status"] for r in responses if instant(r.json()["updated_at"]) == latest
    }
    assert final["message_count"] == 1


@pytest.mark.parametrize("start", ["open", "resolved"])
async def test_a_reply_racing_a_close_never_lands_after_it(
    api: httpx.AsyncClient, project: ApiProject, start: str
) -> None:
    for round_ in range(6):
        ticket_id = await create(api, project, f"race {start} {round_}")
        if start != "open":
            assert (await set_status(api, project, ticket_id, start)).status_code == 200
        body = f"racing reply {round_}"
        replied, closed = await asyncio.gather(
            reply(api, project, ticket_id, body),
            set_status(api, project, ticket_id, "closed"),
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"
        final = await get(api, project, ticket_id)
        assert final["status"] == "closed"
        in_thread = body in [m["body"] for m in final["messages"]]
        if replied.status_code == 200:
            # The reply committed before the close: it reopened/kept the ticket open, then the
            # close came after it and its response already shows the reply.
            assert in_thread
            assert replied.json()["status"] == "open"
            assert replied.json()["messages"][-1]["body"] == body
            assert body in [m["body"] for m in closed.json()["messages"]]
        else:
            assert replied.status_code == 409, replied.text
            assert replied.json()["error"]["code"] == "ticket_closed"
            assert not in_thread
            assert final["message_count"] == 1
        assert final["message_count"] == len(final["messages"])
        # Nothing moves a closed ticket afterwards.
        assert (await reply(api, project, ticket_id, "late")).status_code == 409
        assert (await get(api, project, ticket_id)) == final
