"""Answers to direct reply-to queues (one per command-line run) share one metrics label."""

from faststream.rabbit import RabbitExchange
from faststream.rabbit.response import RabbitPublishCommand
from faststream.response.publish_type import PublishType
from zumik_messaging.metrics import BoundedDestinations


def _destination(routing_key: str, exchange: str | None = None) -> str:
    command = RabbitPublishCommand(
        b"{}",
        _publish_type=PublishType.PUBLISH,
        routing_key=routing_key,
        exchange=RabbitExchange(exchange) if exchange else None,
    )
    return BoundedDestinations().get_publish_destination_name_from_cmd(command)


def test_every_reply_to_queue_is_one_label() -> None:
    first = _destination("amq.rabbitmq.reply-to.g1h2AA5yZXBseUAzMzIxMTU5NQAAJxMAAAAAYiHz5g==")
    second = _destination("amq.rabbitmq.reply-to.g1h2AA5yZXBseUAzMzIxMTU5NQAAJxQAAAAAYiHz5w==")
    assert first == second == "default.amq.rabbitmq.reply-to"


def test_other_destinations_keep_their_names() -> None:
    assert _destination("privacy.export_completed", "zumik.privacy") == (
        "zumik.privacy.privacy.export_completed"
    )
    assert _destination("zumik.notifier.webhook.retry.10s") == (
        "default.zumik.notifier.webhook.retry.10s"
    )
