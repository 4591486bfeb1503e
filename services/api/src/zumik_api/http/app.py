"""The FastAPI application: routers, middleware and the error envelope. The composition root
(`zumik_api.bootstrap.create_app`) gives it the lifespan that starts and stops the runtime."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import FastAPI
from zumik_observability.metrics import new_registry

from zumik_api.http import console, files, health, metrics, openapi, staff, tickets
from zumik_api.http.errors import install_error_handlers
from zumik_api.http.metrics import HttpMetrics
from zumik_api.http.middleware import BodySizeLimitMiddleware, RequestIdMiddleware

DESCRIPTION = """
The Zumik Support API: a project opens support tickets, exchanges a thread with the Zumik team
and tracks their status. Authenticate with `Authorization: Bearer <api key>`. Every error has the
envelope `{"error": {"type", "code", "message", "param"}}`, and every response a `Request-Id`.
"""

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def http_app(
    max_request_bytes: int,
    console_dir: Path,
    lifespan: Lifespan,
    max_file_bytes: int = 25 * 1024 * 1024,
) -> FastAPI:
    app = FastAPI(
        title="Zumik Support API",
        version="2.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
    )
    app.include_router(tickets.router)
    app.include_router(staff.router)
    app.include_router(files.router)
    app.include_router(files.staff_router)
    app.include_router(console.router)
    app.include_router(console.static_router(console_dir))
    app.include_router(health.router)
    app.include_router(metrics.router)
    install_error_handlers(app)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    app.state.metrics_registry = new_registry()
    uploads = max_file_bytes + files.UPLOAD_OVERHEAD_BYTES
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=max_request_bytes,
        overrides=[(path, uploads) for path in files.UPLOAD_PATHS],
    )
    app.add_middleware(RequestIdMiddleware, metrics=HttpMetrics(app.state.metrics_registry))
    return app
