"""Who is calling: a project's API key makes a customer; a staff token, a team member."""

from zumik_api.service.ports import Customer, Directory, TeamMember


class Access:
    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def key_is_well_formed(self, api_key: str) -> bool:
        return self._directory.key_is_well_formed(api_key)

    async def customer(self, api_key: str) -> Customer | None:
        return await self._directory.customer_for_key(api_key)

    async def team_member(self, token: str) -> TeamMember | None:
        return await self._directory.member_for_token(token)

    def used(self, principal: Customer | TeamMember) -> None:
        """Keep `last_used_at` of the credential (coarsely, without a write per request)."""
        self._directory.record_use(principal)
