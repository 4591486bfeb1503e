"""The RabbitMQ exchanges the services share, declared identically by every service."""

from faststream.rabbit import ExchangeType, RabbitExchange

from zumik_contracts.billing import BILLING_EXCHANGE
from zumik_contracts.events import SUPPORT_EXCHANGE

support_exchange = RabbitExchange(SUPPORT_EXCHANGE, type=ExchangeType.TOPIC, durable=True)
billing_exchange = RabbitExchange(BILLING_EXCHANGE, type=ExchangeType.TOPIC, durable=True)
