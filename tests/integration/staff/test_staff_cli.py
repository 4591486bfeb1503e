"""`uv run zumik-support staff create --email E`: prints a working token, stores only its hash."""

import hashlib
import json
import secrets

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document

from tests.cli import run_cli
from tests.integration.staff.helpers import QUEUE, TICKETS


async def zumik_support(mongodb_url: str, *args: str) -> tuple[int, str, str]:
    run = await run_cli({"MONGODB_URL": mongodb_url}, *args)
    return run.returncode, run.stdout, run.stderr


async def test_staff_create_prints_a_token_that_works_on_the_queue(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], mongodb_url: str
) -> None:
    email = f"cli.agent.{secrets.token_hex(4)}@zumik.example"
    code, stdout, stderr = await zumik_support(mongodb_url, "staff", "create", "--email", email)

    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    created = json.loads(lines[0])
    assert created["email"] == email
    token = created["token"]
    assert token.startswith("zst_")
    assert created["staff_id"]

    headers = {"Authorization": f"Bearer {token}"}
    response = await api.get(QUEUE, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "list"
    # ... and only there.
    assert (await api.get(TICKETS, headers=headers)).status_code == 401

    # Stored as a hash only.
    stored = await db.staff_tokens.find_one({"email": email})
    assert stored is not None
    assert stored["_id"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(stored, default=str)


async def test_staff_create_refuses_an_invalid_email(
    db: AsyncDatabase[Document], mongodb_url: str
) -> None:
    before = await db.staff_tokens.count_documents({})
    code, stdout, stderr = await zumik_support(
        mongodb_url, "staff", "create", "--email", "not-an-email"
    )
    assert code != 0
    assert stdout == ""
    assert "not-an-email" in stderr
    assert "email" in stderr
    assert await db.staff_tokens.count_documents({}) == before
