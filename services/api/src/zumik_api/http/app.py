"""The FastAPI application: routers, middleware, error envelope, and the process lifespan."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from zumik_api.adapters import mongo
from zumik_api.container import Container, build_container
from zumik_api.http import health, staff, tickets
from zumik_api.http.errors import install_error_handlers, openapi_without_422
from zumik_api.http.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from zumik_api.settings import Settings, get_settings

log = logging.getLogger("zumik_api")

DESCRIPTION = """
The Zumik Support API: a project opens support tickets, exchanges a thread with the Zumik team
and tracks their status. Authenticate with `Authorization: Bearer <api key>`. Every error has the
envelope `{"error": {"type", "code", "message", "param"}}`, and every response a `Request-Id`.
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = container or build_container(settings)
        await mongo.ensure_indexes(active.db)
        await active.start()
        app.state.container = active
        try:
            yield
        finally:
            await active.stop()

    app = FastAPI(
        title="Zumik Support API",
        version="2.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.include_router(tickets.router)
    app.include_router(staff.router)
    app.include_router(health.router)
    install_error_handlers(app)
    app.openapi = lambda: openapi_without_422(app)  # type: ignore[method-assign]
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app
