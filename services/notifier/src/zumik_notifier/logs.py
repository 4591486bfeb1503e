"""Logging set-up for the process.

httpx logs every request line with its URL at INFO, and the ops webhook URL may carry a token, so
HTTP client loggers are held at WARNING. The notifier's own lines carry ids and statuses only.
"""

import logging

_QUIET = ("httpx", "httpcore", "aiormq", "aio_pika", "pymongo")


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
