"""The RabbitMQ exchanges the services share, declared identically by every service."""

from faststream.rabbit import ExchangeType, RabbitExchange

from zumik_contracts.events import SUPPORT_EXCHANGE

support_exchange = RabbitExchange(SUPPORT_EXCHANGE, type=ExchangeType.TOPIC, durable=True)
