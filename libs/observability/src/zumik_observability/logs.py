"""JSON logs: one object per line, carrying the context of the work at hand.

The context (`request_id` on an HTTP request; `event_id`, `ticket_id`, `project_id` on a
consumed message) lives in a context variable: `bind(...)` sets fields for everything logged
inside it, tasks started there included. The current span's `trace_id`/`span_id` are added when
there is one, so a line can be found from a trace and the other way round.

Every value goes through `json.dumps` with ASCII output: text a client controls (a path, a
header) is escaped, never a line break or a terminal escape, so it cannot forge a line.
"""

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar

from opentelemetry import trace
from pydantic import ValidationError

_NOTHING: Mapping[str, Any] = MappingProxyType({})
_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("zumik_log_context", default=_NOTHING)

# Loggers that are chatty at INFO, or that log URLs (the ops webhook URL may carry a token).
QUIET_LOGGERS = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "aiormq",
    "aio_pika",
    "pymongo",
    "opentelemetry",
)

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Adds `fields` (those not None) to every line logged inside the block."""
    token = _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def trace_fields() -> dict[str, str]:
    """`trace_id` and `span_id` of the current span, when there is one."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_CONTEXT.get())
        line.update(trace_fields())
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=True, separators=(",", ":"))


def configure_logging(service: str, level: int | str | None = None) -> None:
    """JSON lines on stderr for the whole process; `LOG_LEVEL` (default INFO) sets the level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO").upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn's loggers: through the root handler, and its access line is replaced by the API's
    # own (with the route, the request id and the duration).
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


Settings = TypeVar("Settings")


def settings_or_exit(load: Callable[[], Settings], logger: logging.Logger) -> Settings:
    """The process's settings from `load`. Invalid ones: each problem logged by its variable's
    name (`PRIVACY_SUBJECT_SALT`), never its value (Pydantic's own message quotes the input,
    secrets included), then exit with status 2."""
    try:
        return load()
    except ValidationError as error:
        for problem in error.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in problem["loc"]).upper() or "settings"
            logger.error("invalid configuration: %s: %s", where, problem["msg"])
        sys.exit(2)
