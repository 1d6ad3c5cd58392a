"""The refund follower's side of the `refunds` ledger (016_refund_status.sql): which provider
refunds are due to be asked for their status, and what the provider answered.

Taken as the outbox's relays take messages: `take` picks due rows, oldest check first, with
`for update skip locked` and moves their next_check_at past a lease in the same statement, so no
transaction is held while the provider is asked and another follower (this process or another)
neither waits for nor takes them. The answer is recorded only under the lease that asked
(`lease_id`): a follower whose lease ran out records nothing over a newer one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg


@dataclass(frozen=True)
class Due:
    """A provider refund taken to be asked for its status."""

    key: str
    return_id: str
    provider: str
    provider_refund_id: str
    payment_reference: str
    status: str  # as last recorded
    checks: int  # this one included
    lease_id: uuid.UUID


_TAKE = """
with due as (
    select idempotency_key from refunds
    where next_check_at <= now() and provider_refund_id is not null
    order by next_check_at
    limit $1
    for update skip locked
)
update refunds r
set next_check_at = now() + $2::interval, checks = r.checks + 1, lease_id = gen_random_uuid()
from due where r.idempotency_key = due.idempotency_key
returning r.idempotency_key, r.return_id, r.provider, r.provider_refund_id, r.payment_reference,
          r.status, r.checks, r.lease_id
"""


async def take(db: asyncpg.Pool | asyncpg.Connection, limit: int, lease: timedelta) -> list[Due]:
    """Up to `limit` due refunds, those due longest taken first, each leased for `lease`."""
    rows = await db.fetch(_TAKE, limit, lease)
    return [
        Due(
            key=r["idempotency_key"],
            return_id=r["return_id"],
            provider=r["provider"],
            provider_refund_id=r["provider_refund_id"],
            payment_reference=r["payment_reference"],
            status=r["status"],
            checks=r["checks"],
            lease_id=r["lease_id"],
        )
        for r in rows
    ]


async def record_status(pool: asyncpg.Pool, due: Due, status: str, next_check_in: timedelta | None) -> bool:
    """The provider's answer; asked again after `next_check_in`, never when None (final). True
    when this lease recorded it."""
    done = await pool.execute(
        "update refunds set status = $3, checked_at = now(), check_error = null, lease_id = null,"
        " next_check_at = now() + $4::interval"  # null when final: null + interval is null
        " where idempotency_key = $1 and lease_id = $2",
        due.key,
        due.lease_id,
        status,
        next_check_in,
    )
    return bool(done == "UPDATE 1")


async def check_later(pool: asyncpg.Pool, due: Due, error: str, delay: timedelta) -> bool:
    """The provider could not be asked (an error, no adapter for it): asked again after `delay`."""
    done = await pool.execute(
        "update refunds set check_error = $3, lease_id = null, next_check_at = now() + $4::interval"
        " where idempotency_key = $1 and lease_id = $2",
        due.key,
        due.lease_id,
        error[:1000],
        delay,
    )
    return bool(done == "UPDATE 1")
