"""`GET /metrics`: Prometheus text, and the HTTP figures the request middleware records.

- `zumik_http_requests_total{method, route, status}`: request rate and errors by route (the
  route's template, `unmatched` for paths no route serves);
- `zumik_http_request_duration_seconds{method, route}`: latency histograms.

The rest (outbox backlog and oldest pending event, the relay's publishes and failures, events
recorded, SLA breaches, the billing consumer's FastStream figures) is registered by the
composition root on the same registry.
"""

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from zumik_observability.metrics import CONTENT_TYPE_LATEST, render

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10)

router = APIRouter(include_in_schema=False)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "zumik_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "zumik_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registries: list[CollectorRegistry] = [request.app.state.metrics_registry]
    runtime: CollectorRegistry | None = getattr(request.app.state, "runtime_registry", None)
    if runtime is not None:
        registries.append(runtime)
    return Response(render(*registries), media_type=CONTENT_TYPE_LATEST)
