"""The RabbitMQ broker every service builds the same way: publisher confirms, and a connection
that fails over between the nodes of a cluster (see `connection`).

Publishes are bounded where they are made (`asyncio.timeout` around each one,
`PUBLISH_TIMEOUT_SECONDS` by default): FastStream's broker-level `timeout=` bounds a connection
attempt, not a publish, and aio-pika's own publish timeout only starts once the channel is back.
"""

import logging
from collections.abc import Sequence
from typing import Any

from faststream.rabbit import Channel, RabbitBroker

from zumik_messaging.connection import make_broker

PUBLISH_TIMEOUT_SECONDS = 5.0


def confirming_broker(
    amqp_url: str | Sequence[str],
    *,
    prefetch: int | None = None,
    fail_fast: bool = True,
    graceful_timeout: float | None = None,
    logger: logging.Logger | None = None,
    log_level: int = logging.INFO,
    specification_url: str | None = None,
) -> RabbitBroker:
    """A broker whose publishes return only once RabbitMQ confirmed them, and raise when a
    `mandatory` message was unroutable instead of letting it vanish.

    `amqp_url` names one node or every node of a cluster (`AMQP_URL`: one URL with several
    hosts, `amqp://user:pass@h1:5672,h2:5672,h3:5672/vhost`, or several URLs separated by commas
    or spaces); a lost connection moves to the next node that answers."""
    options: dict[str, Any] = {}
    if specification_url is not None:
        options["specification_url"] = specification_url
    return make_broker(
        amqp_url,
        default_channel=Channel(
            publisher_confirms=True, on_return_raises=True, prefetch_count=prefetch
        ),
        fail_fast=fail_fast,
        graceful_timeout=graceful_timeout,
        logger=logger,
        log_level=log_level,
        **options,
    )
