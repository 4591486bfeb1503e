"""Reading a command from the raw message body, with a precise reason when it is bad.

The body arrives undecoded (FastStream would otherwise fail on malformed JSON before any handler
ran), so every way it can be wrong is told apart here. Failure messages never repeat the values
the command carried: a bad command may contain an email address, and its failure is published.
"""

import hashlib
import hmac
import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError
from zumik_contracts.privacy import (
    COMMAND_TYPES,
    PROJECT_ID_PATTERN,
    REQUEST_ID_PATTERN,
    CommandType,
    ContactEmail,
    FailureCode,
    PrivacyCommand,
    PrivacyScope,
)

_ALLOWED_FIELDS = frozenset(PrivacyCommand.model_fields)
_EMAIL: TypeAdapter[str] = TypeAdapter(ContactEmail)


class BadCommand(Exception):
    """A command that can never succeed: it is answered `failed` and dead-lettered."""

    def __init__(
        self,
        code: FailureCode,
        message: str,
        request_id: str | None = None,
        command_type: CommandType | None = None,
        project_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code: FailureCode = code
        self.message = message
        self.request_id = request_id
        self.command_type: CommandType | None = command_type
        self.project_id = project_id


def parse_command(body: bytes) -> PrivacyCommand:
    """The command in `body`, or BadCommand saying what is wrong with it."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadCommand("malformed_json", "The command is not valid JSON.") from None
    if not isinstance(raw, dict):
        raise BadCommand("invalid_command", "The command must be a JSON object.")

    # Whatever is readable is kept, so that even a failure carries the request id and type.
    request_id = _matching(raw.get("id"), REQUEST_ID_PATTERN)
    command_type: CommandType | None = next(
        (t for t in COMMAND_TYPES if t == raw.get("type")), None
    )
    project_id = _matching(raw.get("project_id"), PROJECT_ID_PATTERN)

    def bad(code: FailureCode, message: str) -> BadCommand:
        return BadCommand(code, message, request_id, command_type, project_id)

    if request_id is None:
        raise bad(
            "invalid_command",
            "`id` is required: 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter "
            "or digit.",
        )
    if command_type is None:
        raise bad("unknown_type", "`type` must be `export` or `erase`.")
    if raw.get("project_id") in (None, ""):
        raise bad("missing_project", "`project_id` is required.")
    if project_id is None:
        raise bad("unknown_project", "No such project: `project_id` is not a project id.")
    unexpected = set(raw) - _ALLOWED_FIELDS
    if unexpected:
        raise bad(
            "invalid_command",
            f"{len(unexpected)} unknown field(s); a command has only "
            f"{', '.join(sorted(_ALLOWED_FIELDS))}.",
        )
    email = raw.get("contact_email")
    if email is not None:
        try:
            _EMAIL.validate_python(email)
        except ValidationError:
            raise bad("invalid_email", "`contact_email` is not a valid email address.") from None
    try:
        return PrivacyCommand.model_validate(raw)
    except ValidationError:  # every check above passed, so this is not expected
        raise bad("invalid_command", "The command does not match its schema.") from None


def read_identity(body: bytes) -> tuple[str | None, CommandType | None, str | None]:
    """The request id, type and project id, as far as they are readable (for failures)."""
    try:
        command = parse_command(body)
    except BadCommand as bad:
        return bad.request_id, bad.command_type, bad.project_id
    return command.id, command.type, command.project_id


def _matching(value: Any, pattern: str) -> str | None:
    return value if isinstance(value, str) and re.fullmatch(pattern, value) else None


def subject_hash(email: str, salt: bytes) -> str:
    """The data subject's pseudonym: HMAC-SHA256 of the lower-cased address under the salt."""
    return hmac.new(salt, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def scope_of(command: PrivacyCommand, salt: bytes) -> PrivacyScope:
    if command.contact_email is None:
        return PrivacyScope(kind="project")
    return PrivacyScope(kind="subject", subject_hash=subject_hash(command.contact_email, salt))


def command_identity(command: PrivacyCommand, scope: PrivacyScope) -> dict[str, Any]:
    """What a request id stands for: reusing the id for anything else is a conflict."""
    return {
        "type": command.type,
        "project_id": command.project_id,
        "scope": scope.kind,
        "subject_hash": scope.subject_hash,
    }


def reused_request_id(command: PrivacyCommand) -> BadCommand:
    return BadCommand(
        "request_id_reused",
        "This request id was already used for a different command.",
        command.id,
        command.type,
        command.project_id,
    )


def unknown_project(command: PrivacyCommand) -> BadCommand:
    return BadCommand(
        "unknown_project", "No such project.", command.id, command.type, command.project_id
    )
