"""Project names for notification text, from the accounts library."""

import logging

from zumik_accounts.projects import Projects

log = logging.getLogger("zumik_notifier.projects")


class ProjectNames:
    def __init__(self, projects: Projects) -> None:
        self._projects = projects

    async def name_of(self, project_id: str) -> str | None:
        """The project's name, or None (the caller shows the id) when unknown or unreadable.

        A notification without the name is better than none, so a store error is not fatal here.
        """
        try:
            return await self._projects.name_of(project_id)
        except Exception as error:
            log.warning("project name lookup failed: %s", type(error).__name__)
            return None
