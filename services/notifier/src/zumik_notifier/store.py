"""The MongoDB connection (MongoDB 7 in production, FerretDB locally)."""

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

DEFAULT_DATABASE = "zumik_support"

Document = dict[str, Any]


def connect(url: str) -> AsyncMongoClient[Document]:
    # Created inside the running event loop: a client is bound to the loop it is first used on.
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, timeoutMS=10000)


def database(client: AsyncMongoClient[Document]) -> AsyncDatabase[Document]:
    return client.get_default_database(DEFAULT_DATABASE)
