"""Liveness and readiness probes."""

from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


class Readiness(Protocol):
    async def store_ok(self) -> bool: ...

    def broker_ok(self) -> bool: ...


@router.get("/healthz", summary="Liveness: the process answers", operation_id="getLiveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: MongoDB and RabbitMQ are reachable",
    operation_id="getReadiness",
    responses={503: {"description": "A dependency is unreachable."}},
)
async def readyz(request: Request) -> JSONResponse:
    health: Readiness = request.app.state.health
    checks = {"mongodb": await health.store_ok(), "rabbitmq": health.broker_ok()}
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
