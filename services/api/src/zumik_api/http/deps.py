"""Request dependencies: the container, and the project an API key belongs to."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zumik_api.adapters.projects import looks_like_api_key
from zumik_api.container import Container
from zumik_api.http.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="A project API key: `zsk_...`.")


async def get_container(request: Request) -> Container:
    """Async on purpose: FastAPI runs a sync dependency on its thread pool, a thread hop per
    request."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(
        401,
        "authentication_error",
        code,
        message,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def project_id(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None:
        raise unauthorized(
            "missing_api_key",
            "No API key provided. Send it as `Authorization: Bearer <api key>`.",
        )
    if not looks_like_api_key(credentials.credentials):
        raise unauthorized("malformed_api_key", "The API key is malformed.")
    found = await container.projects.project_id_for_key(credentials.credentials)
    if found is None:
        raise unauthorized("invalid_api_key", "The API key is not valid.")
    return found


ProjectIdDep = Annotated[str, Depends(project_id)]
