"""What users do on their own account: their own client keys, their balance as OpenAI-style billing answers."""

from __future__ import annotations

from relaygate.admin import console_schemas as cs
from relaygate.admin import schemas as s
from relaygate.admin.accounts import AccountVerbs
from relaygate.core.errors import NotFound
from relaygate.core.records import KeyRecord
from relaygate.store import usage_sql

UNLIMITED_USD = 100_000_000.0
"""What one-api and new-api report as the limit of a key without a quota."""


class SelfServiceVerbs(AccountVerbs):
    async def own_key(self, user_id: int, key_id: int) -> s.KeyOut:
        key = await self.key(key_id)
        if key.user_id != user_id:
            raise NotFound(f"You have no key with id {key_id}.")  # another's key is no business of theirs
        return key

    async def own_keys(self, user_id: int) -> list[s.KeyOut]:
        return await self.keys(user_id, "client")

    async def create_own_key(self, user_id: int, body: cs.SelfKeyIn) -> s.KeyCreated:
        return await self.create_key(s.KeyIn(user_id=user_id, kind="client", **body.model_dump()))

    async def update_own_key(self, user_id: int, key_id: int, patch: cs.SelfKeyPatch) -> s.KeyOut:
        await self.own_key(user_id, key_id)
        return await self.update_key(key_id, s.KeyPatch(**patch.model_dump(exclude_unset=True)))

    async def revoke_own_key(self, user_id: int, key_id: int) -> s.KeyOut:
        await self.own_key(user_id, key_id)
        return await self.revoke_key(key_id)

    async def billing(self, key: KeyRecord) -> tuple[float, float, int]:
        """(limit in USD, used in USD, access until) of a client key, as one-api's billing routes count them: a
        key's remaining plus used quota; 100,000,000 for a key without a quota."""
        found = await self._read(lambda c: usage_sql.key_quota(c, key.id))
        if found is None:
            raise NotFound("No such key.")
        unlimited, remain, used, expires_at, _owner = found
        limit = UNLIMITED_USD if unlimited else cs.usd(remain + used)
        return limit, cs.usd(used), int(expires_at or 0)
