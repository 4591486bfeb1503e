import httpx

from tests.conftest import ApiProject


async def test_create_then_get(api: httpx.AsyncClient, project: ApiProject) -> None:
    created = await api.post(
        "/v2/support/tickets",
        json={"subject": "Hi", "body": "Hello"},
        headers=project.headers,
    )
    assert created.status_code == 201, created.text
    got = await api.get(f"/v2/support/tickets/{created.json()['id']}", headers=project.headers)
    assert got.json() == created.json()
