"""Liveness and readiness probes."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from zumik_api.adapters import mongo
from zumik_api.http.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: MongoDB and RabbitMQ are reachable",
    responses={503: {"description": "A dependency is unreachable."}},
)
async def readyz(container: ContainerDep) -> JSONResponse:
    checks = {"mongodb": await _mongodb_ok(container), "rabbitmq": container.broker_ok()}
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _mongodb_ok(container: ContainerDep) -> bool:
    try:
        async with asyncio.timeout(2):
            await mongo.ping(container.client)
    except Exception:  # any failure means not ready; the probe reports it, it does not raise
        return False
    return True
