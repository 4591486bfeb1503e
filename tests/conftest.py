"""Shared fixtures: real services, a fresh database per test session, the app, and projects."""

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_api.bootstrap import Runtime, build_runtime, create_app
from zumik_api.settings import Settings
from zumik_store import mongo
from zumik_store.mongo import Document
from zumik_tickets.indexes import ensure_indexes

from tests import services as service_resolution


@pytest.fixture(scope="session")
def services() -> Iterator[service_resolution.Services]:
    with service_resolution.resolve() as resolved:
        yield resolved


@pytest.fixture(scope="session")
def mongodb_url(services: service_resolution.Services) -> str:
    return service_resolution.with_database(
        services.mongodb_url, f"zumik_test_{secrets.token_hex(4)}"
    )


@pytest.fixture(scope="session")
def settings(mongodb_url: str, services: service_resolution.Services) -> Settings:
    # The auth cache below the privacy tests' 0.1 s erasure settle, as in production (1 s < 3 s).
    return Settings(
        mongodb_url=mongodb_url,
        amqp_url=services.amqp_url,
        auth_cache_seconds=0.05,
        auth_negative_cache_seconds=0.05,
        # The tests fail authentication on purpose, all from the one test client's address;
        # test_hardening checks the throttle on an app of its own.
        auth_failures_per_minute=1_000_000,
    )


@contextlib.asynccontextmanager
async def _throwaway_database(url: str) -> AsyncIterator[AsyncDatabase[Document]]:
    """The database `url` names, indexed as the API indexes it; dropped afterwards."""
    client: AsyncMongoClient[Document] = mongo.connect(url)
    database = mongo.database(client)
    await ensure_indexes(database)
    yield database
    await client.drop_database(database.name)
    await client.close()


@pytest.fixture(scope="session")
async def db(mongodb_url: str) -> AsyncIterator[AsyncDatabase[Document]]:
    async with _throwaway_database(mongodb_url) as database:
        yield database


@pytest.fixture
async def own_db(services: service_resolution.Services) -> AsyncIterator[AsyncDatabase[Document]]:
    """A database of this test's own: no other test writes to it, and no background relay
    sweeps it (the session's `db` is shared by every test and the `api` fixture's relay)."""
    url = service_resolution.with_database(
        services.mongodb_url, f"zumik_test_own_{secrets.token_hex(4)}"
    )
    async with _throwaway_database(url) as database:
        yield database


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> Runtime:
    """The app's wiring; the `api` fixture runs its lifespan (start and stop)."""
    return build_runtime(settings)


@pytest.fixture(scope="session")
async def api(runtime: Runtime, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the API app, its lifespan running, on the test database."""
    app = create_app(settings, runtime)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test"
        ) as client,
    ):
        yield client


@dataclass(frozen=True)
class ApiProject:
    id: str
    api_key: str
    plan: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


ProjectFactory = Callable[..., Awaitable[ApiProject]]


@pytest.fixture(scope="session")
def make_project(db: AsyncDatabase[Document]) -> ProjectFactory:
    async def make(plan: str = "enterprise", name: str = "Test project") -> ApiProject:
        projects = Projects(db)
        project = await projects.create(name, plan)  # type: ignore[arg-type]
        issued = await projects.new_api_key(project.id)
        return ApiProject(project.id, issued.api_key, plan)

    return make


@pytest.fixture
async def project(make_project: ProjectFactory) -> ApiProject:
    return await make_project()


@pytest.fixture
async def other_project(make_project: ProjectFactory) -> ApiProject:
    return await make_project(plan="base", name="Other project")
