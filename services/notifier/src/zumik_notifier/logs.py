"""Logging set-up for the process: JSON lines (see `zumik_observability.logs`).

httpx2 logs every request line with its URL at INFO, and the ops webhook URL may carry a token, so
HTTP client loggers are held at WARNING. The notifier's own lines carry ids and statuses only.
"""

from zumik_observability.logs import configure_logging as configure_json_logging


def configure_logging(level: int | None = None) -> None:
    configure_json_logging("zumik-notifier", level)
