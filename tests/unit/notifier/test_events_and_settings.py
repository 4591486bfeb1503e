"""Which events notify, how malformed ones are described, settings and topology."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from zumik_contracts.events import EVENT_TYPES, MessageRef, TicketEvent, TicketEventData
from zumik_notifier.events import MalformedEvent, parse_event, should_notify
from zumik_notifier.settings import Settings
from zumik_notifier.topology import ChannelName, Topology

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _event(event_type: str, author: str | None = "customer") -> TicketEvent:
    return TicketEvent.model_validate(
        {
            "id": "evt_1",
            "type": event_type,
            "occurred_at": datetime.now(UTC),
            "project_id": "prj_1",
            "data": TicketEventData(
                ticket_id="spt_1",
                subject="s",
                status="open",
                priority="normal",
                plan_tier="base",
                sla_tier="standard",
                priority_queue=False,
                message=None
                if author is None
                else MessageRef(id="spm_1", author=author, preview="p"),
            ),
        }
    )


def test_the_team_hears_of_new_tickets_customer_messages_and_sla_breaches() -> None:
    notified = {t for t in EVENT_TYPES if should_notify(_event(t))}
    assert notified == {"ticket.created", "ticket.message_added", "ticket.sla_breached"}
    assert not should_notify(_event("ticket.message_added", author="support"))
    assert not should_notify(_event("ticket.message_added", author=None))


def test_malformed_bodies_are_described_without_quoting_them() -> None:
    with pytest.raises(MalformedEvent) as not_json:
        parse_event(b"{not json")
    assert not_json.value.detail == "body is not valid JSON"

    with pytest.raises(MalformedEvent) as wrong_shape:
        parse_event(b'{"id": "evt_1", "type": "secret-value", "project_id": 7}')
    detail = wrong_shape.value.detail
    assert detail.startswith("not a TicketEvent (")
    assert "type: literal_error" in detail
    assert "secret-value" not in detail


def test_blank_channel_settings_mean_off() -> None:
    settings = Settings(resend_api_key="", ops_webhook_url=" ", _env_file=None)
    assert not settings.email_enabled
    assert not settings.webhook_enabled


def test_channels_need_their_other_settings() -> None:
    with pytest.raises(ValidationError, match="SUPPORT_TEAM_EMAIL"):
        Settings(resend_api_key="re_x", _env_file=None)
    with pytest.raises(ValidationError, match="OPS_WEBHOOK_SECRET"):
        Settings(ops_webhook_url="https://ops.example/hook", _env_file=None)
    with pytest.raises(ValidationError) as bad_secret:
        Settings(
            ops_webhook_url="https://ops.example/hook",
            ops_webhook_secret="whsec_@@@@",
            _env_file=None,
        )
    assert "@@@@" not in str(bad_secret.value).split("input_value")[0]


def test_retry_delays_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_RETRY_DELAYS", "1, 0.5,30")
    assert Settings(_env_file=None).notifier_retry_delays == [0.5, 1.0, 30.0]
    monkeypatch.setenv("NOTIFIER_RETRY_DELAYS", "[2, 4]")
    assert Settings(_env_file=None).notifier_retry_delays == [2.0, 4.0]
    monkeypatch.setenv("NOTIFIER_RETRY_DELAYS", "0")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_topology_queue_arguments() -> None:
    settings = Settings(notifier_retry_delays=[0.5, 2], _env_file=None)
    topology = Topology.from_settings(settings)

    assert topology.events_queue.name == "zumik.notifier"
    consumed = [topology.events_queue, *topology.work_queues.values()]
    for queue in consumed:
        assert queue.arguments is not None
        assert queue.arguments["x-queue-type"] == "quorum"
        assert queue.arguments["x-delivery-limit"] == 5
        assert queue.arguments["x-dead-letter-exchange"] == "zumik.notifier.dlx"
    assert topology.work_queues[ChannelName.EMAIL].name == "zumik.notifier.email"

    assert [level.queue.name for level in topology.delay_levels] == [
        "zumik.notifier.delay.500ms",
        "zumik.notifier.delay.2000ms",
    ]
    for level in topology.delay_levels:
        assert level.queue.arguments is not None
        assert level.queue.arguments["x-message-ttl"] == round(level.seconds * 1000)
        assert level.queue.arguments["x-dead-letter-exchange"] == "zumik.notifier.work"
        assert "x-dead-letter-routing-key" not in level.queue.arguments
        # Headers exchanges ignore `x-` headers when matching, so the header is not one.
        assert level.queue.bind_arguments == {"x-match": "all", "zumik-delay": level.label}

    assert topology.dead_letters.queue.name == "zumik.notifier.dead"
    assert topology.dead_letters.queue.arguments is not None
    assert topology.dead_letters.queue.arguments["x-message-ttl"] == 7 * 24 * 3600 * 1000
