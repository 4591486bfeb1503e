"""Whose tickets a caller may see: one project's (a customer), or every project's (the team).

Every read and change names its scope explicitly; there is no default that means "everyone".
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectScope:
    """A customer: the tickets of one project."""

    project_id: str

    def allows(self, project_id: str) -> bool:
        return project_id == self.project_id


@dataclass(frozen=True)
class TeamScope:
    """The Zumik team: every project's tickets."""

    def allows(self, project_id: str) -> bool:
        return True


Scope = ProjectScope | TeamScope
TEAM = TeamScope()
