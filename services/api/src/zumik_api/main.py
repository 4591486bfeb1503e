"""`zumik-api`: serve the API with uvicorn on API_HOST:API_PORT."""

import logging

import uvicorn

from zumik_api.http.app import create_app
from zumik_api.settings import get_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)


if __name__ == "__main__":
    main()
