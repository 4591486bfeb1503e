"""The RabbitMQ broker every service builds the same way: publisher confirms, bounded publishes,
and a connection that fails over between the hosts of a cluster (see `connection`)."""

import logging

from faststream.rabbit import Channel, RabbitBroker

PUBLISH_TIMEOUT_SECONDS = 5.0


def confirming_broker(
    amqp_url: str,
    *,
    prefetch: int | None = None,
    publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
    fail_fast: bool = True,
    graceful_timeout: float | None = None,
    logger: logging.Logger | None = None,
    log_level: int = logging.INFO,
    specification_url: str | None = None,
) -> RabbitBroker:
    """A broker whose publishes return only once RabbitMQ confirmed them, and raise when a
    `mandatory` message was unroutable instead of letting it vanish."""
    return RabbitBroker(
        amqp_url,
        default_channel=Channel(
            publisher_confirms=True, on_return_raises=True, prefetch_count=prefetch
        ),
        timeout=publish_timeout,
        fail_fast=fail_fast,
        reconnect_interval=1.0,
        graceful_timeout=graceful_timeout,
        logger=logger,
        log_level=log_level,
        specification_url=specification_url,
    )
