"""The console's session: what the browser is told about who is signed in."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SESSION_COOKIE = "zumik_session"
CSRF_HEADER = "X-CSRF-Token"


class ConsoleSession(BaseModel):
    object: Literal["console_session"] = "console_session"
    kind: Literal["customer", "staff"]
    project_id: str | None = None
    project_name: str | None = None
    plan: str | None = None
    email: str
    csrf_token: str = Field(
        description=f"Send it back as `{CSRF_HEADER}` on every POST, PATCH and DELETE made with "
        "the session cookie."
    )
    expires_at: datetime = Field(description="When the session ends however active it is.")
    idle_timeout_seconds: int = Field(description="It ends sooner after this long unused.")
