"""Liveness and readiness probes.

Readiness is about taking requests: the API needs MongoDB for that, and not RabbitMQ, because a
change's events wait in its ticket's outbox until the relay can publish them. So `/readyz` is 200
whenever the store answers, with `"status": "degraded"` while RabbitMQ is unreachable (a load
balancer keeps sending traffic, and a dashboard still sees the trouble), and 503 only when the
store is down. Its body says where RabbitMQ stands and how many tickets' events are held;
`/readyz?verbose` says the same in lines for a person.
"""

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

router = APIRouter(tags=["health"])


class Readiness(Protocol):
    async def store_ok(self) -> bool: ...

    def broker_ok(self) -> bool: ...

    def broker_status(self) -> dict[str, Any]: ...

    def outbox_status(self) -> dict[str, Any]: ...


@router.get("/healthz", summary="Liveness: the process answers", operation_id="getLiveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: MongoDB reachable (RabbitMQ's state and the outbox backlog in the body)",
    description="200 while MongoDB answers: `status` is `ready`, or `degraded` while RabbitMQ "
    "is unreachable and ticket events are held in the outbox (requests still succeed). 503 "
    "(`unavailable`) when MongoDB does not answer.",
    operation_id="getReadiness",
    responses={
        200: {
            "description": "MongoDB answers; `?verbose`: the same as lines of text.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        503: {
            "description": "MongoDB is unreachable.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
)
async def readyz(
    request: Request,
    verbose: Annotated[
        str | None, Query(description="Present (`?verbose`): the checks as lines of text.")
    ] = None,
) -> Response:
    health: Readiness = request.app.state.health
    store, broker = await health.store_ok(), health.broker_ok()
    status = "ready" if store and broker else "degraded" if store else "unavailable"
    body = {
        "status": status,
        "checks": {"mongodb": store, "rabbitmq": broker},
        "rabbitmq": health.broker_status(),
        "outbox": health.outbox_status(),
    }
    code = 200 if store else 503
    if verbose is not None:
        return PlainTextResponse(_lines(body), status_code=code)
    return JSONResponse(body, status_code=code)


def _lines(body: dict[str, Any]) -> str:
    """Kubernetes' `?verbose` style: one `[+]`/`[-]` line per check, then the verdict."""
    rabbitmq, outbox = body["rabbitmq"], body["outbox"]
    node = f"node {rabbitmq['node']} of {rabbitmq['nodes']}" if rabbitmq.get("node") else None
    if body["checks"]["rabbitmq"]:
        broker = f"[+]rabbitmq connected{f' to {node}' if node else ''}"
    else:
        down = rabbitmq.get("unreachable_seconds")
        broker = (
            f"[-]rabbitmq unreachable{f' for {down:g} s' if down is not None else ''}: ticket "
            "events are held in the outbox and go out when it is back"
        )
    history = f"{rabbitmq.get('failovers', 0)} failovers, {rabbitmq['outages']} outages"
    if rabbitmq.get("last_outage_seconds") is not None:
        history += f" (the last {rabbitmq['last_outage_seconds']:g} s)"
    waiting = outbox["pending_tickets"]
    held = f"{waiting} tickets' events waiting" + (
        f", the oldest for {outbox['oldest_pending_seconds']:g} s" if waiting else ""
    )
    verdict = {
        "ready": "readyz check passed",
        "degraded": "readyz check passed (degraded: RabbitMQ unreachable, events held)",
        "unavailable": "readyz check failed",
    }[body["status"]]
    lines = [
        f"[{'+' if body['checks']['mongodb'] else '-'}]mongodb "
        + ("ok" if body["checks"]["mongodb"] else "unreachable"),
        f"{broker}; {history}",
        f"[{'+' if waiting == 0 or body['checks']['rabbitmq'] else '-'}]outbox {held}; "
        f"{outbox['published']} published, {outbox['publish_failures']} failed publishes",
        verdict,
    ]
    return "\n".join(lines) + "\n"
