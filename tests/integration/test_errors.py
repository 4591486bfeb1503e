"""One error envelope everywhere, validation and size limits, request ids, docs and probes."""

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import create_app
from zumik_api.settings import Settings
from zumik_contracts.ids import TICKET, new_id
from zumik_store.mongo import Document

from tests.conftest import ApiProject

TICKETS = "/v2/support/tickets"
REQUEST_ID = re.compile(r"^\S{8,}$")
VALID = {"subject": "Valid subject", "body": "Valid body"}


def assert_envelope(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert error["code"] == code
    assert error["param"] == param
    assert isinstance(error["message"], str)
    assert len(error["message"]) > 10
    assert error["message"][0].isupper()
    return error


def assert_request_id(response: httpx.Response) -> str:
    request_id: str | None = response.headers.get("request-id")
    assert request_id is not None, f"no Request-Id on {response.status_code}"
    assert REQUEST_ID.match(request_id)
    return request_id


async def tickets_in(db: AsyncDatabase[Document], project: ApiProject) -> int:
    return await db.tickets.count_documents({"project_id": project.id})


async def create_ticket(api: httpx.AsyncClient, project: ApiProject) -> dict[str, Any]:
    response = await api.post(TICKETS, json=VALID, headers=project.headers)
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


# --------------------------------------------------------------------------- validation

INVALID_CREATES: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("missing subject", {"body": "b"}, "parameter_missing", "subject"),
    ("missing body", {"subject": "s"}, "parameter_missing", "body"),
    ("unknown field", VALID | {"severity": "high"}, "parameter_unknown", "severity"),
    ("subject too long", VALID | {"subject": "s" * 201}, "parameter_invalid", "subject"),
    ("empty subject", VALID | {"subject": "   "}, "parameter_invalid", "subject"),
    ("body too long", VALID | {"body": "b" * 20_001}, "parameter_invalid", "body"),
    ("blank body", VALID | {"body": " \n\t "}, "parameter_invalid", "body"),
    ("subject not a string", VALID | {"subject": 42}, "parameter_invalid", "subject"),
    (
        "invalid email",
        VALID | {"contact_email": "not-an-email"},
        "parameter_invalid",
        "contact_email",
    ),
    ("email without domain", VALID | {"contact_email": "a@"}, "parameter_invalid", "contact_email"),
    ("bad priority", VALID | {"priority": "critical"}, "parameter_invalid", "priority"),
    ("NUL in body", VALID | {"body": "a\x00b"}, "parameter_invalid", "body"),
]


@pytest.mark.parametrize(
    ("payload", "code", "param"),
    [case[1:] for case in INVALID_CREATES],
    ids=[case[0] for case in INVALID_CREATES],
)
async def test_invalid_create_is_400_and_writes_nothing(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    payload: dict[str, Any],
    code: str,
    param: str | None,
) -> None:
    response = await api.post(TICKETS, json=payload, headers=project.headers)
    error = assert_envelope(response, 400, code, param)
    assert error["type"] == "invalid_request_error"
    assert_request_id(response)
    assert await tickets_in(db, project) == 0


async def test_limits_are_inclusive(api: httpx.AsyncClient, project: ApiProject) -> None:
    payload = {"subject": "s" * 200, "body": "b" * 20_000, "contact_email": "a.b@example.com"}
    response = await api.post(TICKETS, json=payload, headers=project.headers)
    assert response.status_code == 201, response.text
    assert response.json()["subject"] == "s" * 200
    assert response.json()["messages"][0]["body"] == "b" * 20_000


@pytest.mark.parametrize(
    "raw",
    [b'{"subject": "s", "body": ', b"not json", b'{"subject": "s" "body": "b"}'],
    ids=["truncated", "text", "missing comma"],
)
async def test_malformed_json_is_400_invalid_json(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject, raw: bytes
) -> None:
    headers = project.headers | {"Content-Type": "application/json"}
    response = await api.post(TICKETS, content=raw, headers=headers)
    assert_envelope(response, 400, "invalid_json")
    assert await tickets_in(db, project) == 0


async def test_a_json_value_that_is_not_an_object_is_400(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject
) -> None:
    for body in ([VALID], "text", 42, None):
        response = await api.post(TICKETS, json=body, headers=project.headers)
        assert response.status_code == 400, response.text
        assert set(response.json()["error"]) == {"type", "code", "message", "param"}
    assert await tickets_in(db, project) == 0


INVALID_CHANGES: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("reply without body", "POST", {}, "parameter_missing", "body"),
    ("reply too long", "POST", {"body": "b" * 20_001}, "parameter_invalid", "body"),
    (
        "reply unknown field",
        "POST",
        {"body": "b", "author": "support"},
        "parameter_unknown",
        "author",
    ),
    ("bad status", "PATCH", {"status": "archived"}, "parameter_invalid", "status"),
    (
        "patch unknown field",
        "PATCH",
        {"status": "open", "priority": "low"},
        "parameter_unknown",
        "priority",
    ),
    ("patch without status", "PATCH", {}, "parameter_missing", "status"),
]


@pytest.mark.parametrize(
    ("method", "payload", "code", "param"),
    [case[1:] for case in INVALID_CHANGES],
    ids=[case[0] for case in INVALID_CHANGES],
)
async def test_invalid_change_is_400_and_leaves_the_ticket_unchanged(
    api: httpx.AsyncClient,
    project: ApiProject,
    method: str,
    payload: dict[str, Any],
    code: str,
    param: str,
) -> None:
    ticket = await create_ticket(api, project)
    path = f"{TICKETS}/{ticket['id']}" + ("/messages" if method == "POST" else "")
    response = await api.request(method, path, json=payload, headers=project.headers)
    assert_envelope(response, 400, code, param)
    after = await api.get(f"{TICKETS}/{ticket['id']}", headers=project.headers)
    assert after.json() == ticket


# --------------------------------------------------------------------------- size limit


async def test_body_over_the_size_limit_is_413(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject, settings: Settings
) -> None:
    assert settings.max_request_bytes == 256 * 1024
    payload = VALID | {"body": "x" * (settings.max_request_bytes + 1)}
    response = await api.post(TICKETS, json=payload, headers=project.headers)
    error = assert_envelope(response, 413, "request_too_large")
    assert error["type"] == "invalid_request_error"
    assert_request_id(response)
    assert await tickets_in(db, project) == 0


async def test_streamed_body_over_the_size_limit_is_413(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject, settings: Settings
) -> None:
    """Without a Content-Length the body is counted as it arrives."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"subject": "s", "body": "'
        for _ in range(settings.max_request_bytes // 65_536 + 1):
            yield b"x" * 65_536
        yield b'"}'

    headers = project.headers | {"Content-Type": "application/json"}
    response = await api.post(TICKETS, content=chunks(), headers=headers)
    assert_envelope(response, 413, "request_too_large")
    assert_request_id(response)
    assert await tickets_in(db, project) == 0


async def test_reply_over_the_size_limit_is_413_and_appends_nothing(
    api: httpx.AsyncClient, project: ApiProject, settings: Settings
) -> None:
    ticket = await create_ticket(api, project)
    response = await api.post(
        f"{TICKETS}/{ticket['id']}/messages",
        json={"body": "y" * (settings.max_request_bytes + 10)},
        headers=project.headers,
    )
    assert_envelope(response, 413, "request_too_large")
    after = await api.get(f"{TICKETS}/{ticket['id']}", headers=project.headers)
    assert after.json()["message_count"] == 1


# --------------------------------------------------------------------------- request ids


async def test_every_response_carries_a_request_id(
    api: httpx.AsyncClient, project: ApiProject, settings: Settings
) -> None:
    created = await api.post(TICKETS, json=VALID, headers=project.headers)
    responses = {
        201: created,
        200: await api.get(f"{TICKETS}/{created.json()['id']}", headers=project.headers),
        400: await api.post(TICKETS, json={}, headers=project.headers),
        401: await api.get(TICKETS),
        404: await api.get(f"{TICKETS}/spt_00000000000000000000000000", headers=project.headers),
        405: await api.delete(TICKETS, headers=project.headers),
        413: await api.post(
            TICKETS,
            content=b"x" * (settings.max_request_bytes + 1),
            headers=project.headers,
        ),
    }
    route_missing = await api.get("/v2/nowhere", headers=project.headers)
    ids = set()
    for status, response in responses.items():
        assert response.status_code == status, response.text
        ids.add(assert_request_id(response))
    assert_envelope(route_missing, 404, "route_not_found")
    assert_envelope(responses[405], 405, "method_not_allowed")
    ids.add(assert_request_id(route_missing))
    assert len(ids) == len(responses) + 1  # one id per request


@pytest.fixture
async def fragile_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the test database whose unexpected errors come back as responses."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api.test") as client,
    ):
        yield client


async def test_an_unexpected_error_is_a_500_envelope_with_a_request_id(
    fragile_api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
) -> None:
    # A stored ticket document missing most of its fields: reading it fails unexpectedly.
    corrupt_ticket = new_id(TICKET)
    await db.tickets.insert_one({"_id": corrupt_ticket, "project_id": project.id})
    try:
        response = await fragile_api.get(f"{TICKETS}/{corrupt_ticket}", headers=project.headers)
    finally:
        await db.tickets.delete_one({"_id": corrupt_ticket})
    error = assert_envelope(response, 500, "internal_error")
    assert error["type"] == "api_error"
    assert corrupt_ticket not in error["message"]
    assert_request_id(response)


# --------------------------------------------------------------------------- documentation

ROUTES: list[tuple[str, str, set[str]]] = [
    ("post", TICKETS, {"400", "401", "409", "413"}),
    ("get", TICKETS, {"400", "401"}),
    ("get", TICKETS + "/{ticket_id}", {"401", "404"}),
    ("post", TICKETS + "/{ticket_id}/messages", {"400", "401", "404", "409", "413"}),
    ("patch", TICKETS + "/{ticket_id}", {"400", "401", "404", "409"}),
]
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture
async def openapi(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    assert_request_id(response)
    document: dict[str, Any] = response.json()
    return document


def documented_schema(spec: dict[str, Any]) -> Any:
    return spec.get("content", {}).get("application/json", {}).get("schema")


def envelope_of(code: str) -> list[Any]:
    """The envelope, or the envelope narrowed to the codes of that status (`ErrorNNN`)."""
    return [ERROR_SCHEMA, {"$ref": f"#/components/schemas/Error{code}"}]


@pytest.mark.parametrize(("method", "path", "required"), ROUTES, ids=lambda v: str(v))
async def test_openapi_documents_the_error_responses_with_the_envelope(
    openapi: dict[str, Any], method: str, path: str, required: set[str]
) -> None:
    responses: dict[str, Any] = openapi["paths"][path][method]["responses"]
    for code in sorted(required):
        assert code in responses, f"{method} {path} does not document {code}"
        schema = documented_schema(responses[code])
        assert schema in envelope_of(code), f"{method} {path} {code} is documented as {schema}"
        assert responses[code].get("description")


@pytest.mark.parametrize(("method", "path"), [r[:2] for r in ROUTES], ids=lambda v: str(v))
async def test_openapi_documents_no_error_shape_but_the_envelope(
    openapi: dict[str, Any], method: str, path: str
) -> None:
    """Validation errors are 400s with the envelope, so e.g. FastAPI's default 422 is wrong."""
    responses: dict[str, Any] = openapi["paths"][path][method]["responses"]
    wrong = {
        code: documented_schema(spec)
        for code, spec in responses.items()
        if code[0] in "45" and documented_schema(spec) not in envelope_of(code)
    }
    assert wrong == {}, f"{method} {path} documents other error shapes"


async def test_openapi_error_schema_is_the_envelope(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert schemas["ErrorResponse"]["required"] == ["error"]
    detail = schemas["ErrorDetail"]
    assert set(detail["properties"]) == {"type", "code", "message", "param"}
    assert {"type", "code", "message"} <= set(detail["required"])
    for name, schema in schemas.items():
        if name.startswith("Error") and name[5:].isdigit():
            assert schema["allOf"][0] == ERROR_SCHEMA


async def test_docs_are_served(api: httpx.AsyncClient) -> None:
    response = await api.get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/openapi.json" in response.text


# --------------------------------------------------------------------------- probes


async def test_healthz(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_request_id(response)


async def test_readyz_reports_its_checks(api: httpx.AsyncClient) -> None:
    for _ in range(75):  # the broker connection is made in the background at start-up
        response = await api.get("/readyz")
        assert response.status_code == 200  # with the store up, even before RabbitMQ is
        if response.json()["status"] == "ready":
            break
        await asyncio.sleep(0.2)
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"mongodb": True, "rabbitmq": True}
    assert body["rabbitmq"]["state"] == "connected"
    assert body["rabbitmq"]["nodes"] == 1
    assert body["rabbitmq"]["node"] == 1
    assert set(body["outbox"]) == {
        "pending_tickets",
        "oldest_pending_seconds",
        "published",
        "publish_failures",
    }
    assert_request_id(response)

    verbose = await api.get("/readyz?verbose")
    assert verbose.status_code == 200
    assert verbose.headers["content-type"].startswith("text/plain")
    lines = verbose.text.splitlines()
    assert lines[0] == "[+]mongodb ok"
    assert lines[1].startswith("[+]rabbitmq connected to node 1 of 1")
    assert lines[-1] == "readyz check passed"
