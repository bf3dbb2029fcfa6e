"""NOPIC numbers typed by hand: each belongs to one commodity of one request; a second claim is refused.

Staff copy each number from OID into nopic (manual issuance); a slip of the finger may give one request the
number of another. The workflow claims a number before recording it (`claim_nopic_number`): in one
PostgreSQL transaction the number is taken in `nopic_claims` (migration 0020), unless another commodity of
any request holds it already there or in the read model's certificates (numbers issued through the OID
gateway). A refused claim names the holder, so the reviewer can look it up; a number corrected while
issuing is released for the commodity that held it (`release_nopic_number`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel
from temporalio import activity

if TYPE_CHECKING:  # the workflows import this module's models, and their sandbox needs no asyncpg
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Queries = asyncpg.Pool | PoolConnectionProxy[asyncpg.Record]


class NumberHolder(BaseModel):
    request_id: str
    commodity_index: int
    product_name: str | None = None

    def refusal(self, number: str) -> str:
        """Why a commodity of another request may not take this number, for the reviewer who typed it."""
        product = f", {self.product_name}" if self.product_name else ""
        held = f"request {self.request_id} (commodity {self.commodity_index}{product})"
        return f"{number} is already recorded for {held}: check the number in OID"


class NumberClaim(BaseModel):
    number: str
    request_id: str
    commodity_index: int


class ClaimedNumber(BaseModel):
    number: str
    held_by: NumberHolder | None = None
    """None: the number is this commodity's now. Otherwise the other commodity that holds it."""


class NumberRegistry(Protocol):
    async def claim(self, claim: NumberClaim) -> NumberHolder | None:
        """Take the number for the claim's commodity; the other holder instead, if there is one."""
        ...

    async def release(self, claim: NumberClaim) -> None:
        """The commodity gives the number up (a corrected typo); another may take it then."""
        ...


class NumberActivities:
    def __init__(self, registry: NumberRegistry) -> None:
        self._registry = registry

    @activity.defn
    async def claim_nopic_number(self, claim: NumberClaim) -> ClaimedNumber:
        holder = await self._registry.claim(claim)
        if holder is not None:
            activity.logger.info("NOPIC number held elsewhere", extra={"nopic": claim.number})
        return ClaimedNumber(number=claim.number, held_by=holder)

    @activity.defn
    async def release_nopic_number(self, claim: NumberClaim) -> None:
        await self._registry.release(claim)


_HOLDER_IN_CERTIFICATES = """
SELECT request_id, commodity_index, product_name FROM certificates
WHERE nopic_number = $1 AND NOT (request_id = $2 AND commodity_index = $3)
ORDER BY request_id, commodity_index LIMIT 1
"""


_HOLDER_IN_CLAIMS = """
SELECT c.request_id, c.commodity_index,
       (SELECT product_name FROM certificates f
        WHERE f.request_id = c.request_id AND f.commodity_index = c.commodity_index
        ORDER BY revision DESC LIMIT 1) AS product_name
FROM nopic_claims c
WHERE c.nopic_number = $1 AND NOT (c.request_id = $2 AND c.commodity_index = $3)
"""


async def holder_of(conn: Queries, claim: NumberClaim) -> NumberHolder | None:
    """Who else holds the number: a claim of another commodity, or another commodity's certificate."""
    arguments = (claim.number, claim.request_id, claim.commodity_index)
    row = await conn.fetchrow(_HOLDER_IN_CLAIMS, *arguments)
    if row is None:
        row = await conn.fetchrow(_HOLDER_IN_CERTIFICATES, *arguments)
    return NumberHolder.model_validate(dict(row)) if row is not None else None


class PgNumberRegistry:
    """`NumberRegistry` on PostgreSQL; the claims table is this module's own."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, claim: NumberClaim) -> NumberHolder | None:
        async with self._pool.acquire() as conn, conn.transaction():
            # Serialises two claims of one number: the second waits for the first's commit, then sees it.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", claim.number)
            holder = await holder_of(conn, claim)
            if holder is not None:
                return holder
            await conn.execute(
                "INSERT INTO nopic_claims (nopic_number, request_id, commodity_index) VALUES ($1, $2, $3) "
                "ON CONFLICT (nopic_number) DO NOTHING",
                claim.number,
                claim.request_id,
                claim.commodity_index,
            )
        return None

    async def release(self, claim: NumberClaim) -> None:
        await self._pool.execute(
            "DELETE FROM nopic_claims WHERE nopic_number = $1 AND request_id = $2 AND commodity_index = $3",
            claim.number,
            claim.request_id,
            claim.commodity_index,
        )
