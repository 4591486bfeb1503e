"""Reading ticket events off the queue, and which ones the team is told about."""

from pydantic import ValidationError
from zumik_contracts.events import TicketEvent

from zumik_notifier.topology import NOTIFIED_EVENT_TYPES, TEAM_CHANNELS, ChannelName

_MAX_LISTED_ERRORS = 3


class MalformedEvent(Exception):
    """The body is not a TicketEvent. `detail` names what is wrong but never quotes the input."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def parse_event(body: bytes) -> TicketEvent:
    try:
        return TicketEvent.model_validate_json(body)
    except ValidationError as error:
        raise MalformedEvent(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    # `str(error)` would echo the input values (personal data); only locations and kinds are used.
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    if any(problem["type"] == "json_invalid" for problem in problems):
        return "body is not valid JSON"
    listed = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or '<root>'}: {problem['type']}"
        for problem in problems[:_MAX_LISTED_ERRORS]
    )
    more = len(problems) - _MAX_LISTED_ERRORS
    return f"not a TicketEvent ({listed}{f'; and {more} more' if more > 0 else ''})"


def wanted_by(event: TicketEvent, channel: ChannelName) -> bool:
    """The team's channels hear what `should_notify` says; the customer hears the team's replies."""
    if channel in TEAM_CHANNELS:
        return should_notify(event)
    message = event.data.message
    return (
        event.type == "ticket.message_added" and message is not None and message.author == "support"
    )


def should_notify(event: TicketEvent) -> bool:
    """New tickets, customer messages (not the team's own replies) and SLA breaches."""
    if event.type not in NOTIFIED_EVENT_TYPES:
        return False
    if event.type == "ticket.message_added":
        return event.data.message is not None and event.data.message.author == "customer"
    return True
