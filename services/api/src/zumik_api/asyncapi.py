"""The API service's AsyncAPI 3.0 document: the ticket events it publishes on `zumik.support`
and the billing messages it consumes. `python -m zumik_api.asyncapi > docs/asyncapi/api.json`.

Queue types and dead-letter arguments are not in AsyncAPI; docs/events.md lists them.
"""

from typing import Any

from faststream.specification import AsyncAPI
from zumik_contracts.billing import PlanChanged
from zumik_messaging.asyncapi import drop_unused_schemas, render

from zumik_api.bootstrap import build_runtime
from zumik_api.settings import Settings

DOCUMENT_URL = "amqp://guest:guest@rabbitmq:5672/"
DOCUMENT_DB = "mongodb://mongo:27017/zumik_support"


def document() -> str:
    # The clients connect lazily and are never used: only the broker's declarations are read.
    runtime = build_runtime(Settings(amqp_url=DOCUMENT_URL, mongodb_url=DOCUMENT_DB))
    spec = AsyncAPI(
        runtime.broker,
        title="Zumik Support API: ticket events",
        version="1.0.0",
        description="Ticket events on the `zumik.support` topic exchange (routing key = event "
        "type), published through a transactional outbox: at-least-once, in order per ticket; "
        "drop duplicates by the AMQP message_id (= event id). Also the `billing.plan_changed` "
        "messages the API consumes from `zumik.billing`.",
    ).to_specification()
    document = spec.to_jsonable()
    _describe_plan_changes(document)
    return render(document)


def _describe_plan_changes(spec: dict[str, Any]) -> None:
    """The consumer takes the raw body (so that a malformed change is still settled), which
    FastStream documents as an empty payload; what it expects is a PlanChanged."""
    components = spec["components"]
    components["schemas"]["PlanChanged"] = PlanChanged.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    channel = spec["channels"]["zumik.api.billing:plan_changed"]
    for message in channel["messages"].values():
        name = message["$ref"].rsplit("/", 1)[-1]
        components["messages"][name]["payload"] = {"$ref": "#/components/schemas/PlanChanged"}
    drop_unused_schemas(spec)


if __name__ == "__main__":
    print(document(), end="")
