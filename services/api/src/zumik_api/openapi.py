"""The API's OpenAPI document, as committed in docs/openapi.json (a test keeps them equal):
`python -m zumik_api.openapi > docs/openapi.json`."""

from zumik_api.bootstrap import create_app
from zumik_api.http.openapi import render
from zumik_api.settings import Settings


def document() -> str:
    # Settings of their own: the document never depends on the environment it is made in.
    return render(create_app(Settings(_env_file=None)))


if __name__ == "__main__":
    print(document(), end="")
