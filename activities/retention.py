"""Which customers the retention setting erases: every case of theirs closed more than N days
ago, none open, and not erased since their last case opened."""

from __future__ import annotations

import asyncpg
from pydantic import BaseModel, Field
from temporalio import activity

from domain.customer import PSEUDONYM_PREFIX


class Expired(BaseModel):
    days: int = Field(ge=0)
    limit: int = Field(default=1000, ge=1)


# Erased customers' rows carry their pseudonym, so they drop out by themselves; the tombstone
# check also skips a customer whose erasure is under way (rows not yet anonymised).
_EXPIRED = """
select c.customer_id
from return_cases c
left join erased_customers e on e.customer_id = c.customer_id
where c.customer_id not like $3
group by c.customer_id
having bool_and(c.closed_at is not null)
   and max(c.closed_at) < now() - make_interval(days => $1)
   and (max(e.erased_at) is null or max(e.erased_at) < max(c.opened_at))
order by c.customer_id
limit $2
"""


class RetentionActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def expired_customers(self, e: Expired) -> list[str]:
        rows = await self._pool.fetch(_EXPIRED, e.days, e.limit, PSEUDONYM_PREFIX + "%")
        return [r["customer_id"] for r in rows]
