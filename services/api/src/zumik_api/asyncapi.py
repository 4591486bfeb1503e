"""The API service's AsyncAPI 3.0 document: the ticket events it publishes on `zumik.support`
and the billing messages it consumes. `python -m zumik_api.asyncapi > docs/asyncapi/api.json`.

Queue types and dead-letter arguments are not in AsyncAPI; docs/events.md lists them.
"""

import json

from faststream.specification import AsyncAPI

from zumik_api.adapters import mongo
from zumik_api.adapters.events import EventPublisher, make_broker
from zumik_api.adapters.locks import TicketLocks
from zumik_api.adapters.projects import ProjectRepository
from zumik_api.billing import subscribe_plan_changes
from zumik_api.service.plans import PlanChanges

DOCUMENT_URL = "amqp://guest:guest@rabbitmq:5672/"
DOCUMENT_DB = "mongodb://mongo:27017/zumik_support"


def document() -> str:
    """The document, serialised deterministically (FastStream's channel order is not)."""
    broker = make_broker(DOCUMENT_URL)
    EventPublisher(broker)
    # The client connects lazily and is never used: only the subscriber's shape is read.
    db = mongo.database(mongo.connect(DOCUMENT_DB))
    subscribe_plan_changes(broker, PlanChanges(ProjectRepository(db), TicketLocks(db.ticket_locks)))
    spec = AsyncAPI(
        broker,
        title="Zumik Support API: ticket events",
        version="1.0.0",
        description="Ticket events on the `zumik.support` topic exchange (routing key = event "
        "type), published through a transactional outbox: at-least-once, in order per ticket; "
        "drop duplicates by the AMQP message_id (= event id). Also the `billing.plan_changed` "
        "messages the API consumes from `zumik.billing`.",
    ).to_specification()
    return json.dumps(spec.to_jsonable(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(document(), end="")
