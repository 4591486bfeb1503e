"""Project names for notification text, read from the API's `projects` collection."""

import logging

from pymongo.asynchronous.database import AsyncDatabase

from zumik_notifier.store import Document

log = logging.getLogger("zumik_notifier.projects")


class ProjectNames:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._projects = db.projects

    async def name_of(self, project_id: str) -> str | None:
        """The project's name, or None (the caller shows the id) when unknown or unreadable.

        A notification without the name is better than none, so a store error is not fatal here.
        """
        try:
            doc = await self._projects.find_one({"_id": project_id}, {"name": 1})
        except Exception as error:
            log.warning("project name lookup failed: %s", type(error).__name__)
            return None
        name = None if doc is None else doc.get("name")
        return name if isinstance(name, str) and name else None
