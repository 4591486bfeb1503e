"""The committed OpenAPI document is what the code declares, and it says what clients need."""

import json
import re
from pathlib import Path
from typing import Any

from zumik_api.http.errors import ERROR_CODES
from zumik_api.openapi import document

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = json.loads(document())
    return [
        (path, method, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def test_committed_openapi_document_matches_the_code() -> None:
    assert document() == COMMITTED.read_text(), (
        "docs/openapi.json is stale; regenerate it with "
        "`scripts/uv run python -m zumik_api.openapi > docs/openapi.json`"
    )


def test_every_operation_has_a_camel_case_operation_id() -> None:
    ids = [operation["operationId"] for _, _, operation in _operations()]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][A-Za-z]+", operation_id), operation_id


def test_every_response_documents_request_id_and_retry_after_where_sent() -> None:
    for path, method, operation in _operations():
        for status, response in operation["responses"].items():
            headers = response.get("headers", {})
            assert "Request-Id" in headers, (method, path, status)
            if status in ("409", "429", "503"):
                assert "Retry-After" in headers, (method, path, status)
            if path.startswith("/v2/support/tickets"):
                assert {"RateLimit-Policy", "RateLimit"} <= headers.keys(), (method, path)


def test_idempotent_posts_document_their_header_and_its_limits() -> None:
    for path, method, operation in _operations():
        if operation["operationId"] not in ("createTicket", "createTicketMessage"):
            continue
        (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        schema = key["schema"]["anyOf"][0]
        assert (schema["minLength"], schema["maxLength"]) == (1, 255)
        success = next(r for s, r in operation["responses"].items() if s.startswith("2"))
        assert "Idempotent-Replayed" in success["headers"], (method, path)


def test_error_responses_enumerate_their_codes_with_an_example() -> None:
    spec = json.loads(document())
    for path, method, operation in _operations():
        if not path.startswith("/v2/"):
            continue
        assert {"500", "503"} <= operation["responses"].keys(), (method, path)
        if operation.get("security"):
            assert {"401", "429"} <= operation["responses"].keys(), (method, path)
        for status, response in operation["responses"].items():
            if status in ERROR_CODES:
                content = response["content"]["application/json"]
                assert content["schema"] == {"$ref": f"#/components/schemas/Error{status}"}
                assert content["example"]["error"]["code"] in ERROR_CODES[status]
    enumerated = spec["components"]["schemas"]["Error409"]["allOf"][1]
    assert "ticket_closed" in enumerated["properties"]["error"]["properties"]["code"]["enum"]
    assert "422" not in json.dumps(spec["paths"])
