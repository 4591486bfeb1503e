"""Rendering a service's AsyncAPI 3.0 document the same way everywhere.

Keys are sorted: FastStream's own channel order depends on memory addresses, and the committed
documents (docs/asyncapi/*.json, drift-tested) must not change when nothing did.
"""

import json
from typing import Any


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def drop_unused_schemas(spec: dict[str, Any]) -> None:
    """Remove component schemas nothing refers to (left behind by payload rewrites)."""
    components = spec["components"]
    text = json.dumps(spec)
    for name in list(components.get("schemas", {})):
        if f'"#/components/schemas/{name}"' not in text:
            del components["schemas"][name]
