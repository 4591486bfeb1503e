"""What hurts in production's first week: rate limits, a store that is down, key guessing, tickets
that grow without bound, and a retry after a crash that followed the commit."""

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import calendar_from, create_app
from zumik_api.domain import tickets as ticket_rules
from zumik_api.domain.tickets import RequestKey, Ticket
from zumik_api.http.idempotent import fingerprint
from zumik_api.settings import Settings
from zumik_contracts.events import OutboxEntry
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_store.ratelimit import SharedRateLimiter
from zumik_tickets.outbox import OutboxLedger
from zumik_tickets.store import TicketStore

from tests.conftest import ApiProject, ProjectFactory
from tests.services import Services

TICKETS = "/v2/support/tickets"


@asynccontextmanager
async def app_with(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API of its own (its own caches, throttle and limiter), its lifespan running."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test"
        ) as client,
    ):
        yield client


# --------------------------------------------------------------------------- rate limits


async def test_the_61st_request_a_minute_on_a_free_plan_gets_429_with_the_headers(
    api: httpx.AsyncClient, make_project: ProjectFactory
) -> None:
    project = await make_project(plan="free")
    for number in range(1, 61):
        response = await api.get(TICKETS, headers=project.headers)
        assert response.status_code == 200, (number, response.text)
        assert response.headers["RateLimit-Policy"] == '"requests";q=60;w=60'
        assert response.headers["RateLimit"].startswith(f'"requests";r={60 - number};t=')

    refused = await api.get(TICKETS, headers=project.headers)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert 1 <= int(refused.headers["Retry-After"]) <= 70
    assert refused.headers["RateLimit-Policy"] == '"requests";q=60;w=60'
    assert refused.headers["RateLimit"].startswith('"requests";r=0;t=')
    assert refused.headers["Request-Id"]


async def test_writes_have_a_lower_limit_of_their_own(
    api: httpx.AsyncClient, make_project: ProjectFactory
) -> None:
    project = await make_project(plan="free")
    for _ in range(20):
        created = await api.post(
            TICKETS, json={"subject": "Hi", "body": "Hello"}, headers=project.headers
        )
        assert created.status_code == 201, created.text
    assert created.headers["RateLimit-Policy"] == '"requests";q=60;w=60, "writes";q=20;w=60'
    refused = await api.post(
        TICKETS, json={"subject": "Hi", "body": "Hello"}, headers=project.headers
    )
    assert refused.status_code == 429
    assert "writes" in refused.json()["error"]["message"]
    assert (await api.get(TICKETS, headers=project.headers)).status_code == 200  # reads go on


async def test_the_limits_hold_across_api_processes(own_db: AsyncDatabase[Document]) -> None:
    """Each process counts alone and shares its counts through the store: together they
    admit no more than the limit once they synced."""
    first = SharedRateLimiter(own_db.rate_limits)
    second = SharedRateLimiter(own_db.rate_limits)
    assert all(first.hit("prj_x:requests", 10).allowed for _ in range(6))
    await first.sync()
    # The second process meets the key (it cannot know yet), then learns the first one's counts.
    assert second.hit("prj_x:requests", 10).allowed
    await second.sync()
    assert [second.hit("prj_x:requests", 10).allowed for _ in range(4)] == [True] * 3 + [False]
    await second.sync()
    await first.sync()
    assert not first.hit("prj_x:requests", 10).allowed
    assert first.hit("prj_y:requests", 10).allowed  # keys are counted apart


async def test_a_sync_writes_only_the_counts_that_changed(own_db: AsyncDatabase[Document]) -> None:
    """Every sync rewrote each bucket of the minute (seven upserts a key, four times a second,
    per process); a bucket whose count did not change since it was stored is left alone."""
    now = [1_000_000.0]
    limiter = SharedRateLimiter(own_db.rate_limits, clock=lambda: now[0])
    assert limiter.hit("prj_x:requests", 100).allowed
    await limiter.sync()
    assert await own_db.rate_limits.count_documents({}) == 1
    # Gone from the store: a sync that rewrote unchanged buckets would bring it back.
    await own_db.rate_limits.delete_many({})
    now[0] += 10  # the next bucket
    assert limiter.hit("prj_x:requests", 100).allowed
    assert limiter.hit("prj_x:requests", 100).allowed
    await limiter.sync()
    stored = await own_db.rate_limits.find({}).to_list(None)
    assert [(d["bucket"], d["count"]) for d in stored] == [(1_000_010, 2)]
    assert limiter.hit("prj_x:requests", 100).allowed  # a bucket that changes is written again
    await limiter.sync()
    assert (await own_db.rate_limits.find_one({"bucket": 1_000_010}) or {}).get("count") == 3


async def test_a_limiter_that_cannot_reach_the_store_still_decides_alone() -> None:
    from zumik_store import mongo

    client = mongo.connect("mongodb://127.0.0.1:1/nowhere", timeout_seconds=0.3)
    limiter = SharedRateLimiter(mongo.database(client).rate_limits)
    try:
        assert limiter.hit("k", 2).allowed
        await limiter.sync()  # fails quietly
        assert limiter.hit("k", 2).allowed
        assert not limiter.hit("k", 2).allowed
    finally:
        await client.close()


async def test_rate_limits_can_be_switched_off(
    settings: Settings, make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RATE_LIMITS_ENABLED=false: no RateLimit headers and no 429 however many requests come;
    the same quotas with the limits on refuse the third request."""
    project = await make_project(plan="free")
    tiny = {"rate_limit_free": 2, "rate_limit_free_writes": 1}
    monkeypatch.setenv("RATE_LIMITS_ENABLED", "false")
    off = Settings(**settings.model_dump(exclude={"rate_limits_enabled"}) | tiny)
    assert not off.rate_limits_enabled
    async with app_with(off) as client:
        answers = [await client.get(TICKETS, headers=project.headers) for _ in range(4)]
        answers += [
            await client.post(TICKETS, json={"subject": "Hi", "body": "Hello"}, headers=headers)
            for headers in [project.headers] * 3
        ]
        assert [a.status_code for a in answers] == [200] * 4 + [201] * 3
        assert not [
            a for a in answers if "RateLimit" in a.headers or "RateLimit-Policy" in a.headers
        ]

    on = off.model_copy(update={"rate_limits_enabled": True})
    async with app_with(on) as client:
        answers = [await client.get(TICKETS, headers=project.headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[0].headers["RateLimit-Policy"] == '"requests";q=2;w=60'


# --------------------------------------------------------------------------- failure semantics


async def test_a_store_outage_answers_503_with_retry_after(services: Services) -> None:
    settings = Settings(
        mongodb_url="mongodb://127.0.0.1:1/zumik_unreachable",
        amqp_url=services.amqp_url,
        store_timeout_seconds=0.5,
        sla_scheduler_enabled=False,
    )
    async with app_with(settings) as client:
        key = "zsk_" + "A" * 43
        response = await client.get(TICKETS, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "2"
        assert response.json()["error"]["code"] == "service_unavailable"
        assert response.headers["Request-Id"]
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["mongodb"] is False


async def test_guessing_keys_is_throttled_per_address(
    settings: Settings, project: ApiProject
) -> None:
    throttled = settings.model_copy(update={"auth_failures_per_minute": 3})
    async with app_with(throttled) as client:
        wrong = {"Authorization": "Bearer zsk_" + "B" * 43}
        for _ in range(3):
            assert (await client.get(TICKETS, headers=wrong)).status_code == 401
        refused = await client.get(TICKETS, headers=wrong)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_failed_attempts"
        assert int(refused.headers["Retry-After"]) >= 1
        # The address waits, whatever key it sends next.
        assert (await client.get(TICKETS, headers=project.headers)).status_code == 429


# --------------------------------------------------------------------------- bounded tickets


async def test_a_body_is_limited_in_bytes_as_well_as_characters(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    emoji = "\N{GRINNING FACE}" * 20_000  # 20,000 characters, 80,000 bytes
    response = await api.post(
        TICKETS, json={"subject": "Emoji", "body": emoji}, headers=project.headers
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "body"
    assert "bytes" in error["message"]


async def test_a_full_ticket_refuses_the_customer_but_the_team_can_answer_and_close_it(
    api: httpx.AsyncClient,
    project: ApiProject,
    monkeypatch: pytest.MonkeyPatch,
    staff_headers: dict[str, str],
) -> None:
    monkeypatch.setattr(ticket_rules, "MAX_THREAD_BYTES", 150_000)
    monkeypatch.setattr(ticket_rules, "TEAM_EXTRA_BYTES", 70_000)
    body = "\N{GRINNING FACE}" * 15_000  # 15,000 characters, 60,000 bytes
    created = await api.post(
        TICKETS, json={"subject": "Big", "body": body}, headers=project.headers
    )
    assert created.status_code == 201, created.text
    ticket_id = created.json()["id"]
    path = f"{TICKETS}/{ticket_id}"
    assert (
        await api.post(f"{path}/messages", json={"body": body}, headers=project.headers)
    ).status_code == 200
    full = await api.post(f"{path}/messages", json={"body": body}, headers=project.headers)
    assert full.status_code == 409
    assert full.json()["error"]["code"] == "ticket_too_large"

    staff = f"/v2/support/staff/tickets/{ticket_id}"
    answered = await api.post(f"{staff}/messages", json={"body": body}, headers=staff_headers)
    assert answered.status_code == 200, answered.text
    closed = await api.patch(staff, json={"status": "closed"}, headers=staff_headers)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"


@pytest.fixture
async def staff_headers(db: AsyncDatabase[Document]) -> dict[str, str]:
    from zumik_accounts.staff import Staff

    issued = await Staff(db).create("budget@zumik.example")
    return {"Authorization": f"Bearer {issued.token}"}


# --------------------------------------------------------------------------- idempotency


async def test_a_retry_after_a_crash_that_followed_the_commit_opens_no_second_ticket(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject, settings: Settings
) -> None:
    """The first run opened the ticket, then died before storing its response: its claim is
    left in progress and its lease runs out. The retry takes the claim over under the same name,
    derives the same ticket id, finds the ticket, and answers with it."""
    key = "crash-after-commit"
    payload = b'{"subject": "Exports fail", "body": "Since Monday."}'
    record_id = f"{project.id}:{hashlib.sha256(key.encode()).hexdigest()}"
    claimed_at = utc_now()
    await db.idempotency_keys.insert_one(
        {
            "_id": record_id,
            "project_id": project.id,
            "fingerprint": fingerprint("POST", TICKETS, payload),
            "state": "in_progress",
            "created_at": claimed_at,
            "token": "dead-process",
            "expires_at": claimed_at,  # its lease ran out
        }
    )
    first = Ticket.open(
        project_id=project.id,
        plan="enterprise",
        subject="Exports fail",
        body="Since Monday.",
        priority="normal",
        contact_email=None,
        now=claimed_at,
        calendar=calendar_from(settings),
        request=RequestKey(record_id, claimed_at),
    )
    outbox = [OutboxEntry(event=e) for e in first.new_events]
    await TicketStore(db, OutboxLedger(db)).insert(first, outbox)

    retried = await api.post(
        TICKETS,
        content=payload,
        headers={
            **project.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == first.id
    assert await db.tickets.count_documents({"project_id": project.id}) == 1
    replay = await api.post(
        TICKETS,
        content=payload,
        headers={**project.headers, "Content-Type": "application/json", "Idempotency-Key": key},
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.id


async def test_waiters_for_one_idempotency_key_are_bounded(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject
) -> None:
    """A key whose first request is still running: a few retries wait for it, the rest are told
    at once (409 with Retry-After) instead of polling the store."""
    key = "busy-key"
    payload = b'{"subject": "Slow", "body": "Still running."}'
    record_id = f"{project.id}:{hashlib.sha256(key.encode()).hexdigest()}"
    now = utc_now()
    await db.idempotency_keys.insert_one(
        {
            "_id": record_id,
            "project_id": project.id,
            "fingerprint": fingerprint("POST", TICKETS, payload),
            "state": "in_progress",
            "created_at": now,
            "token": "live-process",
            "expires_at": now.replace(year=now.year + 1),
        }
    )
    headers = {**project.headers, "Content-Type": "application/json", "Idempotency-Key": key}
    loop = asyncio.get_running_loop()

    async def timed() -> tuple[float, httpx.Response]:
        started = loop.time()
        response = await api.post(TICKETS, content=payload, headers=headers)
        return loop.time() - started, response

    answers = await asyncio.gather(*(timed() for _ in range(8)))
    responses = [response for _, response in answers]
    assert {r.status_code for r in responses} == {409}
    assert {r.json()["error"]["code"] for r in responses} == {"idempotency_key_in_use"}
    assert all(r.headers["Retry-After"] == "1" for r in responses)
    waited = sorted(seconds for seconds, _ in answers)
    assert waited[3] < 5.0, waited  # four were told at once...
    assert waited[4] > 9.0, waited  # ...four waited (in vain) for the first request
