"""Reading commands: every kind of bad command gets its own code, and nothing is echoed."""

import json
import re
from typing import Any

import pytest
from zumik_contracts.privacy import result_routing_key
from zumik_privacy.commands import (
    BadCommand,
    parse_command,
    read_identity,
    subject_hash,
)

PROJECT = "prj_01m8x2v9c4k7q3w5e6r8t0y1z2"


def command(**fields: Any) -> bytes:
    return json.dumps({"id": "req-1", "type": "erase", "project_id": PROJECT, **fields}).encode()


def test_a_good_command_is_read() -> None:
    parsed = parse_command(command(contact_email="Erin@Example.com"))

    assert (parsed.id, parsed.type, parsed.project_id) == ("req-1", "erase", PROJECT)
    assert parsed.contact_email is not None
    assert parsed.contact_email.lower() == "erin@example.com"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"42", "invalid_command"),
        (command(id=None), "invalid_command"),
        (command(id="has space"), "invalid_command"),
        (command(id="x" * 129), "invalid_command"),
        (command(type="delete"), "unknown_type"),
        (command(type=None), "unknown_type"),
        (command(project_id=None), "missing_project"),
        (command(project_id=""), "missing_project"),
        (command(project_id="prj_x"), "unknown_project"),
        (command(project_id=7), "unknown_project"),
        (command(contact_email="nope"), "invalid_email"),
        (command(contact_email=""), "invalid_email"),
        (command(contact_email=["a@example.com"]), "invalid_email"),
        (command(contact_mail="erin@example.com"), "invalid_command"),
    ],
)
def test_each_bad_command_has_its_reason(body: bytes, code: str) -> None:
    with pytest.raises(BadCommand) as raised:
        parse_command(body)

    assert raised.value.code == code
    assert "example.com" not in raised.value.message
    assert "delete" not in raised.value.message


def test_a_failure_keeps_what_was_readable() -> None:
    with pytest.raises(BadCommand) as raised:
        parse_command(command(contact_email="nope"))

    assert raised.value.request_id == "req-1"
    assert raised.value.command_type == "erase"
    assert raised.value.project_id == PROJECT
    assert read_identity(b"{") == (None, None, None)
    assert read_identity(command(type="delete")) == ("req-1", None, PROJECT)


def test_result_routing_keys() -> None:
    assert result_routing_key("export", "completed") == "privacy.export.completed"
    assert result_routing_key("erase", "failed") == "privacy.erase.failed"
    assert result_routing_key(None, "failed") == "privacy.command.failed"


def test_the_subject_hash_is_salted_and_ignores_case() -> None:
    first = subject_hash("Erin@Example.com", b"salt-a")

    assert first == subject_hash("erin@example.COM ", b"salt-a")
    assert first != subject_hash("erin@example.com", b"salt-b")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
