"""The store-credit ledger the shop redeems (store_credit/ledger.py) on real PostgreSQL, as the
service's restricted role: a reference redeems once, the balance never goes below zero (not even
with redemptions racing), and an erasure moves redemptions with the credit they spent."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg
import pytest

from activities.erasure import Cases, ErasureActivities
from customers.export import export_customer
from store import ledgers
from store.event_store import EventStore
from store_credit import ledger


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def granted(pool: asyncpg.Pool, customer: str, amount: str, return_id: str | None = None) -> str:
    return_id = return_id or _id("R")
    assert await ledgers.grant_store_credit(
        pool,
        idempotency_key=f"return-{return_id}:3:store_credit",
        return_id=return_id,
        customer_id=customer,
        amount=Decimal(amount),
    )
    return return_id


async def test_a_reference_redeems_once_and_the_entries_show_both_sides(session_pool: asyncpg.Pool) -> None:
    pool = session_pool
    customer = _id("C")
    rid = await granted(pool, customer, "20.00")
    first = await ledger.redeem(pool, customer, Decimal("12.50"), "SHOP-1")
    assert (first.created, first.balance) == (True, Decimal("7.50"))
    again = await ledger.redeem(pool, customer, Decimal("12.50"), "SHOP-1")
    assert (again.created, again.redemption_id, again.balance) == (
        False,
        first.redemption_id,
        Decimal("7.50"),
    )
    with pytest.raises(ledger.ReferenceRedeemed, match=r"already redeemed for 12\.50"):
        await ledger.redeem(pool, customer, Decimal("1.00"), "SHOP-1")
    assert await ledger.balance_of(pool, customer) == Decimal("7.50")
    entries = await ledger.entries(pool, customer)
    assert [(e.type, e.amount, e.reference, e.return_id) for e in entries] == [
        ("redemption", Decimal("12.50"), "SHOP-1", None),
        ("grant", Decimal("20.00"), None, rid),
    ]


async def test_more_than_the_balance_is_refused_and_changes_nothing(session_pool: asyncpg.Pool) -> None:
    pool = session_pool
    customer = _id("C")
    await granted(pool, customer, "5.00")
    with pytest.raises(ledger.InsufficientBalance, match=r"the balance is 5\.00"):
        await ledger.redeem(pool, customer, Decimal("5.01"), "SHOP-2")
    with pytest.raises(ledger.InsufficientBalance, match=r"the balance is 0\.00"):
        await ledger.redeem(pool, _id("C"), Decimal("0.01"), "SHOP-2")
    assert await ledger.balance_of(pool, customer) == Decimal("5.00")
    assert len(await ledger.entries(pool, customer)) == 1


async def test_racing_redemptions_never_take_the_balance_below_zero(session_pool: asyncpg.Pool) -> None:
    pool = session_pool
    customer = _id("C")
    await granted(pool, customer, "10.00")

    async def attempt(n: int) -> bool:
        try:
            await ledger.redeem(pool, customer, Decimal("3.00"), f"SHOP-{n}")
            return True
        except ledger.InsufficientBalance:
            return False

    results = await asyncio.gather(*(attempt(n) for n in range(8)))
    assert results.count(True) == 3
    assert await ledger.balance_of(pool, customer) == Decimal("1.00")
    total = await pool.fetchval(
        "select sum(amount) from store_credit_redemptions where customer_id = $1", customer
    )
    assert total == Decimal("9.00")


async def test_the_database_refuses_a_negative_balance(session_pool: asyncpg.Pool) -> None:
    pool = session_pool
    customer = _id("C")
    await granted(pool, customer, "1.00")
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "update customer_balances set balance = balance - 2 where customer_id = $1", customer
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("delete from store_credit_redemptions where customer_id = $1", customer)


async def test_an_erasure_moves_the_redemptions_with_the_credit(session_pool: asyncpg.Pool) -> None:
    pool = session_pool
    customer, pseudonym = _id("C"), _id("P")
    rid = await granted(pool, customer, "20.00")
    await ledger.redeem(pool, customer, Decimal("12.50"), "SHOP-1")
    erasure = ErasureActivities(pool, keys=None)
    counts = await erasure.anonymise_rows(Cases(customer_id=customer, pseudonym=pseudonym, return_ids=[rid]))
    assert (counts.store_credits, counts.balances) == (1, 1)
    assert await ledger.balance_of(pool, customer) == Decimal("0.00")
    assert await pool.fetchval("select count(*) from customer_balances where customer_id = $1", customer) == 0
    assert await ledger.balance_of(pool, pseudonym) == Decimal("7.50")
    assert [e.reference for e in await ledger.entries(pool, pseudonym)] == ["SHOP-1", None]
    assert await ledger.entries(pool, customer) == []
    # Retried: nothing moves twice.
    await erasure.anonymise_rows(Cases(customer_id=customer, pseudonym=pseudonym, return_ids=[rid]))
    assert await ledger.balance_of(pool, pseudonym) == Decimal("7.50")


async def test_the_customers_export_lists_their_redemptions(session_pool: asyncpg.Pool) -> None:
    pool = session_pool
    customer = _id("C")
    await granted(pool, customer, "20.00")
    await ledger.redeem(pool, customer, Decimal("12.50"), "SHOP-1")
    data = await export_customer(pool, EventStore(pool), customer)
    assert data.store_credit_balance == Decimal("7.50")
    assert [(r["amount"], r["reference"]) for r in data.store_credit_redemptions] == [("12.50", "SHOP-1")]
