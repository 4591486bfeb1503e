"""The API's figures beside the HTTP ones (`zumik_api.http.metrics`), on the runtime's registry:

- `zumik_ticket_events_recorded_total{type}`: events written into outboxes, by type;
- `zumik_sla_breaches_total`: `ticket.sla_breached` events recorded (one per ticket);
- `zumik_outbox_backlog_events`: events this process knows are waiting to be published;
- `zumik_outbox_oldest_pending_seconds`: the age of the oldest of them (0 with none);
- `zumik_relay_published_total`, `zumik_relay_publish_failures_total`: the relay's publishes
  that RabbitMQ confirmed, and those that failed (retried later);
- `zumik_relay_broker_connected`: 1 while the relay's connection is up.

The billing consumer's FastStream figures (`faststream_*`) are on the same registry.
"""

from prometheus_client import CollectorRegistry, Counter
from zumik_contracts.events import TicketEvent
from zumik_observability.metrics import Reading, Readings
from zumik_store.clock import Clock

from zumik_api.adapters.relay import OutboxRelay

SLA_BREACHED = "ticket.sla_breached"


class EventMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.recorded_events = Counter(
            "zumik_ticket_events_recorded",
            "Ticket events written into outboxes, by type.",
            ["type"],
            registry=registry,
        )
        self.sla_breaches = Counter(
            "zumik_sla_breaches", "First-response SLA breaches recorded.", registry=registry
        )

    def recorded(self, events: list[TicketEvent]) -> None:
        for event in events:
            self.recorded_events.labels(event.type).inc()
            if event.type == SLA_BREACHED:
                self.sla_breaches.inc()


def relay_readings(relay: OutboxRelay, clock: Clock) -> Readings:
    def backlog() -> float:
        return float(relay.backlog()[0])

    def oldest_age() -> float:
        oldest = relay.backlog()[1]
        return 0.0 if oldest is None else max((clock() - oldest).total_seconds(), 0.0)

    return Readings(
        [
            Reading(
                "zumik_outbox_backlog_events",
                "Events this process knows are waiting to be published.",
                backlog,
            ),
            Reading(
                "zumik_outbox_oldest_pending_seconds",
                "Age of the oldest event waiting to be published (0 with none).",
                oldest_age,
            ),
            Reading(
                "zumik_relay_published",
                "Events the relay published and RabbitMQ confirmed.",
                lambda: float(relay.published_count),
                counter=True,
            ),
            Reading(
                "zumik_relay_publish_failures",
                "Relay publishes that failed (RabbitMQ down, the message returned or nacked).",
                lambda: float(relay.publish_failures),
                counter=True,
            ),
            Reading(
                "zumik_relay_broker_connected",
                "1 while the relay's RabbitMQ connection is up.",
                lambda: float(relay.broker_connected),
            ),
        ]
    )
