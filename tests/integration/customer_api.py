"""Small calls on the customer API that several test modules make."""

from typing import Any

import httpx

from tests.conftest import ApiProject

TICKETS = "/v2/support/tickets"


async def get(api: httpx.AsyncClient, project: ApiProject, ticket_id: str) -> dict[str, Any]:
    response = await api.get(f"{TICKETS}/{ticket_id}", headers=project.headers)
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def reply(
    api: httpx.AsyncClient, project: ApiProject, ticket_id: str, body: str
) -> httpx.Response:
    return await api.post(
        f"{TICKETS}/{ticket_id}/messages", json={"body": body}, headers=project.headers
    )


async def set_status(
    api: httpx.AsyncClient, project: ApiProject, ticket_id: str, status: str
) -> httpx.Response:
    return await api.patch(
        f"{TICKETS}/{ticket_id}", json={"status": status}, headers=project.headers
    )
