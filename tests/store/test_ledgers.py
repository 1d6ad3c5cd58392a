from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg

from store import ledgers


def _key() -> str:
    return uuid.uuid4().hex


async def test_refund_is_recorded_once(pool: asyncpg.Pool) -> None:
    key = _key()
    for expected in (True, False):
        created = await ledgers.record_refund(
            pool,
            idempotency_key=key,
            return_id="r1",
            amount=Decimal("19.99"),
            payment_method="card",
            payment_reference="pay-1",
        )
        assert created is expected
    rows = await pool.fetch("select amount from refunds where idempotency_key = $1", key)
    assert [r["amount"] for r in rows] == [Decimal("19.99")]


async def test_store_credit_adds_to_balance_once(pool: asyncpg.Pool) -> None:
    customer = f"c-{_key()}"
    key = _key()

    async def grant(k: str, amount: str) -> bool:
        return await ledgers.grant_store_credit(
            pool, idempotency_key=k, return_id="r1", customer_id=customer, amount=Decimal(amount)
        )

    # Concurrent retries of the same grant: exactly one creates.
    results = await asyncio.gather(*(grant(key, "10.00") for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await grant(key, "10.00") is False
    assert await ledgers.customer_balance(pool, customer) == Decimal("10.00")
    assert await grant(_key(), "2.50") is True
    assert await ledgers.customer_balance(pool, customer) == Decimal("12.50")
    assert await ledgers.customer_balance(pool, "nobody") == Decimal("0.00")


async def test_replacement_order_once(pool: asyncpg.Pool) -> None:
    key = _key()
    for expected in (True, False):
        created = await ledgers.create_replacement_order(
            pool, idempotency_key=key, return_id="r1", order_id="o1", line_ids=["l1", "l2"]
        )
        assert created is expected
    row = await pool.fetchrow("select * from replacement_orders where idempotency_key = $1", key)
    assert row["line_ids"] == ["l1", "l2"]


async def test_repair_order_once(pool: asyncpg.Pool) -> None:
    key = _key()
    for expected in (True, False):
        created = await ledgers.create_repair_order(
            pool, idempotency_key=key, return_id="r1", order_id="o1", line_ids=["l1"]
        )
        assert created is expected
    rows = await pool.fetch("select * from repair_orders where idempotency_key = $1", key)
    assert [r["line_ids"] for r in rows] == [["l1"]]


async def test_licence_revocation_once(pool: asyncpg.Pool) -> None:
    key = _key()
    for expected in (True, False):
        created = await ledgers.revoke_licence(
            pool, idempotency_key=key, return_id="r1", order_id="o1", line_id="l1", sku="SKU-1"
        )
        assert created is expected


async def test_outbox_email_once(pool: asyncpg.Pool) -> None:
    key = _key()
    for expected in (True, False):
        created = await ledgers.enqueue_email(
            pool,
            idempotency_key=key,
            return_id="r1",
            customer_id="c1",
            email="c1@example.com",
            template="refund_issued",
            data={"amount": "19.99", "lines": [1, 2]},
            text="Your refund is on its way.",
        )
        assert created is expected
    data = await pool.fetchval("select data from outbox where idempotency_key = $1", key)
    assert data == {"amount": "19.99", "lines": [1, 2]}
