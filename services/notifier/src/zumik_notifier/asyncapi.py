"""The notifier's AsyncAPI 3.0 document, generated from the code.

    uv run python -m zumik_notifier.asyncapi > docs/asyncapi/notifier.json

It describes the default deployment (prefix `zumik.notifier`, both channels on, default delay
levels), whatever the environment says. Keys are sorted: FastStream's own channel order depends on
memory addresses, and the committed file must not change when nothing did.
"""

import sys
from typing import Any

from zumik_messaging.asyncapi import drop_unused_schemas
from zumik_messaging.asyncapi import render as render_document

from zumik_notifier.app import build_notifier
from zumik_notifier.settings import Settings
from zumik_notifier.topology import ALL_CHANNELS

_EVENT_SCHEMA_REF = {"$ref": "#/components/schemas/TicketEvent"}


def generate() -> dict[str, Any]:
    notifier = build_notifier(Settings.model_construct(), channels=ALL_CHANNELS)
    spec: dict[str, Any] = notifier.app.schema.to_specification().to_jsonable()
    _describe_raw_payloads(spec)
    return spec


def _describe_raw_payloads(spec: dict[str, Any]) -> None:
    """The consumers take the raw message so that a malformed one still reaches them (and can be
    dead-lettered); FastStream would document an empty payload. What they expect is a
    TicketEvent, so that is what the document says."""
    components = spec["components"]
    for operation in spec["operations"].values():
        if operation["action"] != "receive":
            continue
        for message_ref in operation["messages"]:
            _, _, channel, _, message = message_ref["$ref"].split("/")
            component_ref = spec["channels"][channel]["messages"][message]["$ref"]
            components["messages"][component_ref.rsplit("/", 1)[-1]]["payload"] = dict(
                _EVENT_SCHEMA_REF
            )
    drop_unused_schemas(spec)


def render() -> str:
    return render_document(generate())


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
