"""Domain errors: each says, in a sentence a person understands, why a change is refused."""


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class TicketClosed(DomainError):
    code = "ticket_closed"

    def __init__(self) -> None:
        super().__init__(
            "This ticket is closed and can no longer change. "
            "Please open a new ticket and mention this one in it."
        )


class ThreadTooLong(DomainError):
    code = "thread_too_long"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This ticket has reached its limit of {limit} messages. "
            "Please open a new ticket and mention this one in it.",
        )


class TicketTooLarge(DomainError):
    code = "ticket_too_large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            f"This ticket's thread has reached its size limit of {limit_bytes // 1024 // 1024} MB. "
            "Please open a new ticket and mention this one in it.",
        )


class TicketNotFound(Exception):
    """No such ticket in this scope (another project's ticket looks exactly the same)."""


class FileAlreadyAttached(DomainError):
    code = "file_already_attached"

    def __init__(self, file_id: str, param: str, *, repeated: bool = False) -> None:
        super().__init__(
            f"{file_id} is listed twice in attachments; a file can be attached once."
            if repeated
            else f"{file_id} is already attached to another message. A file can be attached "
            "to one message only: upload it again to attach it here.",
            param,
        )


class UnknownAttachment(Exception):
    """An attachment names no file this caller may attach (unknown, another project's, the
    other side's, or expired): a 400, like any invalid parameter."""

    def __init__(self, file_id: str, param: str) -> None:
        super().__init__(f"No such file: {file_id}.")
        self.message = (
            f"No such file: {file_id}. Attach a file uploaded for this project (by the team: "
            "for this ticket) that no message has taken yet."
        )
        self.param = param


class FileNotFound(Exception):
    """No such file for this caller (another project's file looks exactly the same)."""
