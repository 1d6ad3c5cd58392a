"""The store-credit balance of a customer, as the shop reads and redeems it: grants (the
`store_credits` ledger, written by the case's effect) and redemptions (`store_credit_redemptions`),
with `customer_balances` always their difference, never below zero."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import asyncpg

from domain.money import ZERO


class InsufficientBalance(Exception):
    def __init__(self, balance: Decimal, amount: Decimal) -> None:
        super().__init__(f"the balance is {balance:.2f}, less than the {amount:.2f} to redeem")
        self.balance = balance


class ReferenceRedeemed(Exception):
    """The reference was redeemed already, for another amount."""

    def __init__(self, reference: str, amount: Decimal) -> None:
        super().__init__(f"reference {reference} was already redeemed for {amount:.2f}")
        self.amount = amount


@dataclass(frozen=True)
class Entry:
    type: Literal["grant", "redemption"]
    amount: Decimal
    at: datetime
    return_id: str | None = None  # a grant: the case that granted it
    key: str | None = None  # a grant: the effect's idempotency key
    reference: str | None = None  # a redemption: the shop's reference (its order id)


@dataclass(frozen=True)
class Redemption:
    redemption_id: int
    customer_id: str
    reference: str
    amount: Decimal
    balance: Decimal  # after this redemption (for a repeat: the balance now)
    at: datetime
    created: bool  # False: the same reference was redeemed before, nothing changed now


async def balance_of(db: asyncpg.Pool | asyncpg.Connection, customer_id: str) -> Decimal:
    value = await db.fetchval("select balance from customer_balances where customer_id = $1", customer_id)
    return ZERO if value is None else Decimal(value)


async def entries(pool: asyncpg.Pool, customer_id: str, limit: int = 50) -> list[Entry]:
    """Grants and redemptions, newest first, at most `limit`."""
    rows = await pool.fetch(
        """
select * from (
    select 'grant' as type, amount, created_at, return_id, idempotency_key, null::text as reference,
           0 as ord
    from store_credits where customer_id = $1
    union all
    select 'redemption', amount, created_at, null, null, reference, redemption_id
    from store_credit_redemptions where customer_id = $1
) e
order by created_at desc, ord desc
limit $2
""",
        customer_id,
        limit,
    )
    return [
        Entry(
            type=r["type"],
            amount=Decimal(r["amount"]),
            at=r["created_at"],
            return_id=r["return_id"],
            key=r["idempotency_key"],
            reference=r["reference"],
        )
        for r in rows
    ]


async def redeem(
    pool: asyncpg.Pool, customer_id: str, amount: Decimal, reference: str, idempotency_key: str | None = None
) -> Redemption:
    """Redeem `amount` of the customer's balance for the shop's `reference`, once per reference:
    the same reference and amount again answers the first redemption and changes nothing.
    Raises InsufficientBalance (nothing changed) when the balance is less, ReferenceRedeemed when
    the reference was redeemed for another amount. Concurrent redemptions of one customer take
    turns on their balance row, so the balance never goes below zero."""
    if amount <= 0:
        raise ValueError("amount: must be more than 0")
    async with pool.acquire() as conn, conn.transaction():
        # The lock every redemption of this customer takes first; no row: a balance of zero.
        balance = await conn.fetchval(
            "select balance from customer_balances where customer_id = $1 for update", customer_id
        )
        current = ZERO if balance is None else Decimal(balance)
        earlier = await conn.fetchrow(
            "select redemption_id, amount, created_at from store_credit_redemptions"
            " where customer_id = $1 and reference = $2",
            customer_id,
            reference,
        )
        if earlier is not None:
            if Decimal(earlier["amount"]) != amount:
                raise ReferenceRedeemed(reference, Decimal(earlier["amount"]))
            return Redemption(
                redemption_id=earlier["redemption_id"],
                customer_id=customer_id,
                reference=reference,
                amount=amount,
                balance=current,
                at=earlier["created_at"],
                created=False,
            )
        if current < amount:
            raise InsufficientBalance(current, amount)
        row = await conn.fetchrow(
            "insert into store_credit_redemptions (customer_id, reference, amount, idempotency_key)"
            " values ($1, $2, $3, $4) returning redemption_id, created_at",
            customer_id,
            reference,
            amount,
            idempotency_key,
        )
        after = await conn.fetchval(
            "update customer_balances set balance = balance - $2 where customer_id = $1 returning balance",
            customer_id,
            amount,
        )
        return Redemption(
            redemption_id=row["redemption_id"],
            customer_id=customer_id,
            reference=reference,
            amount=amount,
            balance=Decimal(after),
            at=row["created_at"],
            created=True,
        )
