"""Notification channels. Each sends one event once and reports what happened; retrying is not
their business (see `zumik_notifier.retry` and `zumik_notifier.worker`)."""

from typing import Protocol

from zumik_contracts.events import TicketEvent

from zumik_notifier.channels.result import AttemptResult


class NotificationChannel(Protocol):
    async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
        """Deliver `event` (`body`: its exact bytes as published). Never raises for HTTP errors."""
        ...


__all__ = ["AttemptResult", "NotificationChannel"]
