"""FastStream's Prometheus middleware with a bounded set of destination labels."""

from aio_pika import IncomingMessage
from faststream.prometheus.middleware import PrometheusMiddleware
from faststream.rabbit.prometheus.provider import RabbitMetricsSettingsProvider
from faststream.rabbit.response import RabbitPublishCommand
from prometheus_client import CollectorRegistry

# RabbitMQ's direct reply-to: every caller (each run of the command line) has its own queue.
REPLY_TO = "amq.rabbitmq.reply-to"


class BoundedDestinations(RabbitMetricsSettingsProvider):
    def get_publish_destination_name_from_cmd(self, cmd: RabbitPublishCommand) -> str:
        if cmd.destination.startswith(REPLY_TO):
            return f"default.{REPLY_TO}"
        return super().get_publish_destination_name_from_cmd(cmd)


class RabbitMetrics(PrometheusMiddleware[IncomingMessage, RabbitPublishCommand]):
    """`RabbitPrometheusMiddleware`, except that answers to direct reply-to queues share one
    `destination_name` label: one per caller would add series without bound."""

    def __init__(self, *, registry: CollectorRegistry) -> None:
        super().__init__(
            settings_provider_factory=lambda _: BoundedDestinations(), registry=registry
        )
