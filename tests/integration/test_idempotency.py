"""`Idempotency-Key` on every POST: replays, reuse with another body, per-project keys, races."""

import asyncio
import secrets
from typing import Any

import httpx

from tests.conftest import ApiProject

TICKETS = "/v2/support/tickets"
REPLAYED = "Idempotent-Replayed"


def new_key() -> str:
    return "key-" + secrets.token_hex(8)


def with_key(project: ApiProject, key: str) -> dict[str, str]:
    return project.headers | {"Idempotency-Key": key}


async def open_ticket(
    api: httpx.AsyncClient, project: ApiProject, key: str, payload: dict[str, Any]
) -> httpx.Response:
    return await api.post(TICKETS, json=payload, headers=with_key(project, key))


async def reply(
    api: httpx.AsyncClient, project: ApiProject, ticket_id: str, key: str, body: str
) -> httpx.Response:
    return await api.post(
        f"{TICKETS}/{ticket_id}/messages", json={"body": body}, headers=with_key(project, key)
    )


async def ticket_ids(api: httpx.AsyncClient, project: ApiProject) -> list[str]:
    response = await api.get(TICKETS, params={"limit": 100}, headers=project.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def thread(api: httpx.AsyncClient, project: ApiProject, ticket_id: str) -> list[str]:
    response = await api.get(f"{TICKETS}/{ticket_id}", headers=project.headers)
    assert response.status_code == 200, response.text
    return [m["body"] for m in response.json()["messages"]]


def assert_envelope(response: httpx.Response, code: str) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert error["code"] == code
    assert error["message"]
    return error


PAYLOAD = {"subject": "Retry me", "body": "Same request twice.", "priority": "urgent"}


async def test_same_key_and_body_replays_the_first_response(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    key = new_key()
    first = await open_ticket(api, project, key, PAYLOAD)
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    second = await open_ticket(api, project, key, PAYLOAD)
    assert second.status_code == 201, second.text
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    assert second.headers["request-id"] != first.headers["request-id"]
    assert await ticket_ids(api, project) == [first.json()["id"]]


async def test_requests_without_a_key_are_never_deduplicated(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    for _ in range(2):
        response = await api.post(TICKETS, json=PAYLOAD, headers=project.headers)
        assert response.status_code == 201
        assert REPLAYED not in response.headers
    assert len(await ticket_ids(api, project)) == 2


async def test_same_key_with_a_different_body_is_refused(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    key = new_key()
    first = await open_ticket(api, project, key, PAYLOAD)
    assert first.status_code == 201
    other = await open_ticket(api, project, key, PAYLOAD | {"subject": "Something else"})
    assert 400 <= other.status_code < 500, other.text
    error = assert_envelope(other, "idempotency_key_reused")
    assert error["type"] == "idempotency_error"
    assert REPLAYED not in other.headers
    assert await ticket_ids(api, project) == [first.json()["id"]]


async def test_same_key_on_another_endpoint_is_refused(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    key = new_key()
    created = await open_ticket(api, project, key, PAYLOAD)
    assert created.status_code == 201
    replied = await reply(api, project, created.json()["id"], key, "Same request twice.")
    assert 400 <= replied.status_code < 500
    assert_envelope(replied, "idempotency_key_reused")
    assert await thread(api, project, created.json()["id"]) == ["Same request twice."]


async def test_keys_are_per_project(
    api: httpx.AsyncClient, project: ApiProject, other_project: ApiProject
) -> None:
    key = new_key()
    mine = await open_ticket(api, project, key, PAYLOAD)
    theirs = await open_ticket(api, other_project, key, PAYLOAD)
    assert mine.status_code == theirs.status_code == 201
    assert REPLAYED not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["plan_tier"] == other_project.plan
    assert await ticket_ids(api, project) == [mine.json()["id"]]
    assert await ticket_ids(api, other_project) == [theirs.json()["id"]]
    # A retry in the other project replays that project's own ticket.
    again = await open_ticket(api, other_project, key, PAYLOAD)
    assert again.headers[REPLAYED] == "true"
    assert again.json()["id"] == theirs.json()["id"]


def assert_one_outcome(responses: list[httpx.Response], success: int) -> str:
    """Every response is the shared success or `idempotency_key_in_use`; returns the ticket id."""
    succeeded = [r for r in responses if r.status_code == success]
    assert succeeded, [r.text for r in responses]
    for response in responses:
        if response.status_code != success:
            assert response.status_code == 409, response.text
            assert_envelope(response, "idempotency_key_in_use")
    assert len({r.content for r in succeeded}) == 1
    assert sum(REPLAYED not in r.headers for r in succeeded) <= 1
    ticket_id: str = succeeded[0].json()["id"]
    return ticket_id


async def test_concurrent_retries_create_exactly_one_ticket(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    key = new_key()
    responses = await asyncio.gather(*(open_ticket(api, project, key, PAYLOAD) for _ in range(10)))
    ticket_id = assert_one_outcome(list(responses), 201)
    assert await ticket_ids(api, project) == [ticket_id]


async def test_concurrent_reply_retries_append_exactly_one_message(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    created = await api.post(TICKETS, json=PAYLOAD, headers=project.headers)
    ticket_id = created.json()["id"]
    key = new_key()
    responses = await asyncio.gather(
        *(reply(api, project, ticket_id, key, "only once") for _ in range(10))
    )
    assert assert_one_outcome(list(responses), 200) == ticket_id
    assert await thread(api, project, ticket_id) == ["Same request twice.", "only once"]
    replay = await reply(api, project, ticket_id, key, "only once")
    assert replay.status_code == 200
    assert replay.headers[REPLAYED] == "true"
    assert await thread(api, project, ticket_id) == ["Same request twice.", "only once"]


async def test_a_request_that_fails_validation_does_not_consume_the_key(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    key = new_key()
    invalid = await open_ticket(api, project, key, {"body": "no subject"})
    assert invalid.status_code == 400
    assert_envelope(invalid, "parameter_missing")
    assert await ticket_ids(api, project) == []
    valid = await open_ticket(api, project, key, PAYLOAD)
    assert valid.status_code == 201, valid.text
    assert REPLAYED not in valid.headers
    assert await ticket_ids(api, project) == [valid.json()["id"]]


async def test_a_refused_reply_does_not_consume_the_key(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    created = await api.post(TICKETS, json=PAYLOAD, headers=project.headers)
    ticket_id = created.json()["id"]
    key = new_key()
    missing = await reply(api, project, "spt_00000000000000000000000000", key, "hello")
    assert missing.status_code == 404
    # No failure is stored and replayed ...
    missing_again = await reply(api, project, "spt_00000000000000000000000000", key, "hello")
    assert missing_again.status_code == 404
    assert REPLAYED not in missing_again.headers
    # ... and the key stays free for a different request.
    ok = await reply(api, project, ticket_id, key, "hello")
    assert ok.status_code == 200, ok.text
    assert await thread(api, project, ticket_id) == ["Same request twice.", "hello"]


async def test_idempotency_key_length_is_validated(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    response = await open_ticket(api, project, "k" * 256, PAYLOAD)
    assert response.status_code == 400
    assert assert_envelope(response, "parameter_invalid")["param"] == "Idempotency-Key"
    assert await ticket_ids(api, project) == []
    longest = await open_ticket(api, project, "k" * 255, PAYLOAD)
    assert longest.status_code == 201
