"""The console's sessions: a credential exchanged for an HttpOnly cookie, accepted on the same
endpoints as the credential, CSRF-checked for changes, ended by sign-out, idleness, age or the
credential's revocation."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_accounts.sessions import Sessions
from zumik_accounts.staff import Staff
from zumik_contracts.console import CSRF_HEADER, SESSION_COOKIE
from zumik_store.mongo import Document

from tests.conftest import ApiProject

SESSIONS = "/v2/console/sessions"
SESSION = "/v2/console/session"
TICKETS = "/v2/support/tickets"
EMAIL = "dev@example.com"


async def sign_in(api: httpx.AsyncClient, body: dict[str, str]) -> tuple[str, dict[str, object]]:
    """The session cookie and the session, from a fresh client-side cookie jar."""
    api.cookies.clear()
    response = await api.post(SESSIONS, json=body)
    assert response.status_code == 201, response.text
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    token = response.cookies[SESSION_COOKIE]
    api.cookies.clear()
    session: dict[str, object] = response.json()
    return token, session


def cookies(token: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


async def test_a_customer_signs_in_with_a_key_and_uses_the_api_with_the_cookie(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    token, session = await sign_in(api, {"api_key": project.api_key, "email": EMAIL})
    assert session["kind"] == "customer"
    assert session["project_id"] == project.id
    assert session["email"] == EMAIL
    assert session["plan"] == project.plan
    assert project.api_key not in str(session)
    csrf = str(session["csrf_token"])

    current = await api.get(SESSION, headers=cookies(token))
    assert current.status_code == 200
    assert current.json()["csrf_token"] == csrf

    listed = await api.get(TICKETS, headers=cookies(token))
    assert listed.status_code == 200, listed.text

    opened = await api.post(
        TICKETS,
        json={"subject": "From the console", "body": "Hello", "contact_email": EMAIL},
        headers={**cookies(token), CSRF_HEADER: csrf},
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["contact_email"] == EMAIL


async def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    token, _ = await sign_in(api, {"api_key": project.api_key, "email": EMAIL})
    before = (await api.get(TICKETS, headers=cookies(token))).json()["data"]
    for headers in ({}, {CSRF_HEADER: "not-the-token"}, {CSRF_HEADER: ""}):
        refused = await api.post(
            TICKETS,
            json={"subject": "Forged", "body": "From another site"},
            headers={**cookies(token), **headers},
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "csrf_token_invalid"
    after = (await api.get(TICKETS, headers=cookies(token))).json()["data"]
    assert after == before
    # The same session's sign-out needs it too.
    assert (await api.delete(SESSION, headers=cookies(token))).status_code == 403
    assert (await api.get(SESSION, headers=cookies(token))).status_code == 200


async def test_sign_out_ends_the_session_on_the_server(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    token, session = await sign_in(api, {"api_key": project.api_key, "email": EMAIL})
    signed_out = await api.delete(
        SESSION, headers={**cookies(token), CSRF_HEADER: str(session["csrf_token"])}
    )
    assert signed_out.status_code == 204
    assert f"{SESSION_COOKIE}=" in signed_out.headers["set-cookie"]  # cleared in the browser
    # Replaying the old cookie (as a stolen copy would) finds nothing.
    for path in (SESSION, TICKETS):
        gone = await api.get(path, headers=cookies(token))
        assert gone.status_code == 401
        assert gone.json()["error"]["code"] == "session_expired"


async def test_sign_in_refuses_bad_credentials_and_throttles_the_guesser(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    wrong_key = project.api_key[:-4] + "AAAA"
    refused = await api.post(SESSIONS, json={"api_key": wrong_key, "email": EMAIL})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert "set-cookie" not in refused.headers
    missing_email = await api.post(SESSIONS, json={"api_key": project.api_key})
    assert missing_email.status_code == 400
    two = await api.post(SESSIONS, json={"api_key": project.api_key, "staff_token": "zst_x"})
    assert two.status_code == 400


async def test_a_staff_session_works_on_the_team_side_only(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject
) -> None:
    issued = await Staff(db).create("lead@zumik.example")
    token, session = await sign_in(api, {"staff_token": issued.token})
    assert session["kind"] == "staff"
    assert session["email"] == "lead@zumik.example"
    queue = await api.get("/v2/support/staff/queue", headers=cookies(token))
    assert queue.status_code == 200, queue.text
    customer_side = await api.get(TICKETS, headers=cookies(token))
    assert customer_side.status_code == 401
    assert customer_side.json()["error"]["code"] == "wrong_session"

    customer_token, _ = await sign_in(api, {"api_key": project.api_key, "email": EMAIL})
    team_side = await api.get("/v2/support/staff/queue", headers=cookies(customer_token))
    assert team_side.status_code == 401


async def test_revoking_the_key_ends_its_sessions(
    api: httpx.AsyncClient, db: AsyncDatabase[Document]
) -> None:
    projects = Projects(db)
    project = await projects.create("Revocation", "base")
    issued = await projects.new_api_key(project.id)
    token, _ = await sign_in(api, {"api_key": issued.api_key, "email": EMAIL})
    assert (await api.get(TICKETS, headers=cookies(token))).status_code == 200

    assert await projects.revoke_key(issued.key_id) is not None
    await _past_the_auth_cache()
    assert (await api.get(TICKETS, headers=cookies(token))).status_code == 401
    bearer = {"Authorization": f"Bearer {issued.api_key}"}
    assert (await api.get(TICKETS, headers=bearer)).status_code == 401


async def test_a_sign_in_link_works_once(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject
) -> None:
    link = await Sessions(db).new_link(project.id, "ops@example.com", timedelta(minutes=15))
    token, session = await sign_in(api, {"link_token": link})
    assert session["project_id"] == project.id
    assert session["email"] == "ops@example.com"
    assert (await api.get(TICKETS, headers=cookies(token))).status_code == 200

    again = await api.post(SESSIONS, json={"link_token": link})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_sign_in_link"

    expired = await Sessions(db).new_link(project.id, "ops@example.com", timedelta(0))
    late = await api.post(SESSIONS, json={"link_token": expired})
    assert late.status_code == 401


@pytest.mark.parametrize("field", ["expires_at", "idle_expires_at"])
async def test_an_old_or_idle_session_has_ended(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject, field: str
) -> None:
    token, _ = await sign_in(api, {"api_key": project.api_key, "email": EMAIL})
    sessions = db.console_sessions
    await sessions.update_many({"email": EMAIL}, {"$set": {field: _long_ago()}})
    await _past_the_auth_cache()
    response = await api.get(SESSION, headers=cookies(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"


async def test_without_a_cookie_the_console_says_not_signed_in(api: httpx.AsyncClient) -> None:
    api.cookies.clear()
    response = await api.get(SESSION)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_signed_in"


async def test_the_console_is_served_with_a_strict_policy(api: httpx.AsyncClient) -> None:
    response = await api.get("/console/")
    assert response.status_code in (200, 503)  # 503 with instructions until it is built
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert (await api.get("/console/assets/..%2f..%2fpyproject.toml")).status_code == 404
    assert (await api.get("/console")).status_code == 308


async def _past_the_auth_cache() -> None:
    await asyncio.sleep(0.1)  # the test settings' AUTH_CACHE_SECONDS is 0.05


def _long_ago() -> datetime:
    return datetime(2020, 1, 1, tzinfo=UTC)
