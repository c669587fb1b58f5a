"""Redemption codes: the admin creates a batch (shown once, kept as hashes); a user redeems one, exactly once."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import time

from sqlalchemy import Connection

from relaygate.admin import console_schemas as cs
from relaygate.admin.changes import Audit, OperatorBase
from relaygate.core.bounds import MAX_QUOTA
from relaygate.core.errors import BadRequest, Conflict, NotFound
from relaygate.store import redemption_sql
from relaygate.store.redemption_sql import BalanceFull
from relaygate.store.rows import Row

CODE_CHARS = 32
_ALPHABET = string.ascii_uppercase + string.digits
_CODE = re.compile(cs.CODE_PATTERN)


def new_code() -> str:
    """32 characters of A–Z and 0–9 from the OS's CSPRNG (165 bits), in groups of eight: ABCD1234-…"""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(raw[i:i + 8] for i in range(0, CODE_CHARS, 8))


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def code_hint(code: str) -> str:
    return code[:4] + "..." + code[-4:]


def code_out(row: Row, now: float) -> cs.CodeOut:
    if row["redeemed_at"] is not None:
        status = "redeemed"
    elif row["expires_at"] is not None and row["expires_at"] <= now:
        status = "expired"
    else:
        status = "unused"
    return cs.CodeOut(**row, status=status)


class RedemptionVerbs(OperatorBase):
    async def create_codes(self, body: cs.CodesIn) -> cs.CodesCreated:
        codes = [new_code() for _ in range(body.count)]

        def run(c: Connection, audit: Audit) -> list[Row]:
            ids = redemption_sql.create_codes(c, [(code_hash(x), code_hint(x)) for x in codes], body.name,
                                              body.amount, body.expires_at)
            audit("redemption.create", f"redemption codes {ids[0]}-{ids[-1]}", body.model_dump())
            return redemption_sql.list_codes(c, len(ids))
        rows = await self._write(run, reload=False)
        now = time.time()
        return cs.CodesCreated(codes=codes, created=[code_out(r, now) for r in reversed(rows)])

    async def codes(self, limit: int = 1000) -> list[cs.CodeOut]:
        now = time.time()
        return [code_out(r, now) for r in await self._read(lambda c: redemption_sql.list_codes(c, limit))]

    async def redeemed_by(self, user_id: int) -> list[cs.CodeOut]:
        now = time.time()
        rows = await self._read(lambda c: redemption_sql.list_codes(c, 1000, redeemed_by=user_id))
        return [code_out(r, now) for r in rows]

    async def delete_code(self, code_id: int) -> None:
        def run(c: Connection, audit: Audit) -> None:
            row = redemption_sql.delete_code(c, code_id)
            if row is None:
                raise NotFound(f"No redemption code with id {code_id}.")
            audit("redemption.delete", f"redemption code {code_id}", {"hint": row["hint"]})
        await self._write(run, reload=False)

    async def redeem(self, user_id: int, body: cs.RedeemIn) -> cs.RedeemOut:
        """Add a code's amount to the user's balance, once: the same code again, an expired or unknown one is a
        clear refusal, whoever tries and however many at once."""
        code = body.code.strip()
        if not _CODE.match(code):
            raise BadRequest("A redemption code is 12 or more letters, digits, '-' or '_'.", code="invalid_code",
                             param="code")
        digest, now, request_id = code_hash(code), time.time(), self.actor.request_id or ""

        def run(c: Connection, audit: Audit) -> tuple[int, int]:
            try:
                done = redemption_sql.redeem(c, digest, user_id, now)
            except BalanceFull:
                raise BadRequest(f"Your balance would pass the largest relaygate holds ({MAX_QUOTA:,} quota units).",
                                 code="balance_full") from None
            if done == "unknown":
                raise NotFound("invalid redemption code: no such code.", code="code_not_found", param="code")
            if done == "used":
                raise Conflict("This redemption code was already used.", code="code_already_used", param="code")
            if done == "expired":
                raise BadRequest("This redemption code has expired.", code="code_expired", param="code")
            row, before, after = done
            redemption_sql.log_redemption(c, request_id, user_id, int(row["amount"]), now)
            audit("user.redeem", f"user {user_id}", {"balance": {"from": before, "to": after},
                                                     "amount": row["amount"], "code": f"redemption code {row['id']}",
                                                     "hint": row["hint"]})
            return int(row["amount"]), after
        amount, balance = await self._write(run, reload=False)
        return cs.RedeemOut(amount=amount, amount_usd=cs.usd(amount), balance=balance, balance_usd=cs.usd(balance))
