"""The privacy service's AsyncAPI 3.0 document, generated from the code.

    uv run python -m zumik_privacy.asyncapi > docs/asyncapi/privacy.json

It describes the default deployment (exchange `zumik.privacy`, queue prefix `zumik.privacy`),
whatever the environment says. Keys are sorted: FastStream's own channel order depends on memory
addresses, and the committed file must not change when nothing did.
"""

import sys
from typing import Any

from zumik_contracts.privacy import COMMAND_ROUTING_KEYS, PrivacyCommand
from zumik_messaging.asyncapi import render as render_document

from zumik_privacy.app import build_privacy
from zumik_privacy.settings import Settings
from zumik_privacy.topology import Topology

_SCHEMAS = "#/components/schemas/{model}"


def generate() -> dict[str, Any]:
    settings = Settings.model_construct()
    service = build_privacy(settings)
    spec: dict[str, Any] = service.app.schema.to_specification().to_jsonable()
    channel = f"{service.topology.commands_queue.name}:commands"
    _describe_command_payload(spec, channel)
    _describe_command_queue(spec, channel, service.topology)
    return spec


def _describe_command_payload(spec: dict[str, Any], channel: str) -> None:
    """The consumer takes the raw body so that a malformed command still reaches it (and can be
    answered and dead-lettered); FastStream would document an empty payload. What it expects is
    a PrivacyCommand, so that is what the document says."""
    components = spec["components"]
    components["schemas"]["PrivacyCommand"] = PrivacyCommand.model_json_schema(
        ref_template=_SCHEMAS
    )
    for message in spec["channels"][channel]["messages"].values():
        name = message["$ref"].rsplit("/", 1)[-1]
        components["messages"][name]["payload"] = {"$ref": _SCHEMAS.format(model="PrivacyCommand")}
    components["schemas"].pop("EmptyPayload", None)


def _describe_command_queue(spec: dict[str, Any], channel: str, topology: Topology) -> None:
    """FastStream binds one routing key and leaves out queue types and arguments."""
    spec["operations"][channel]["bindings"]["amqp"]["cc"] = list(COMMAND_ROUTING_KEYS)
    spec["channels"][channel]["x-zumik-queue"] = {
        "type": "quorum",
        "arguments": dict(topology.commands_queue.arguments or {}),
        **topology.dead_letters.describe(),
    }


def render() -> str:
    return render_document(generate())


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
