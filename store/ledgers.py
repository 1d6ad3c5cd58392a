"""Ledgers of the fake outside systems (refunds, store credit, ...).

Every write is keyed by an idempotency key and answers `created`: False means
the same key was already recorded, so a retried activity never doubles money,
orders or e-mails.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

import asyncpg


async def _insert(pool: asyncpg.Pool, sql: str, *args: Any) -> bool:
    return await pool.fetchval(sql, *args) is not None


async def record_refund(
    pool: asyncpg.Pool,
    *,
    idempotency_key: str,
    return_id: str,
    amount: Decimal,
    payment_method: str,
    payment_reference: str,
) -> bool:
    return await _insert(
        pool,
        "insert into refunds (idempotency_key, return_id, amount, payment_method,"
        " payment_reference) values ($1, $2, $3, $4, $5)"
        " on conflict (idempotency_key) do nothing returning true",
        idempotency_key,
        return_id,
        amount,
        payment_method,
        payment_reference,
    )


async def grant_store_credit(
    pool: asyncpg.Pool,
    *,
    idempotency_key: str,
    return_id: str,
    customer_id: str,
    amount: Decimal,
) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        created = (
            await conn.fetchval(
                "insert into store_credits (idempotency_key, return_id, customer_id, amount)"
                " values ($1, $2, $3, $4)"
                " on conflict (idempotency_key) do nothing returning true",
                idempotency_key,
                return_id,
                customer_id,
                amount,
            )
            is not None
        )
        # Only a new ledger row moves the balance, in the same transaction, so
        # the balance always equals the sum of the ledger.
        if created:
            await conn.execute(
                "insert into customer_balances (customer_id, balance) values ($1, $2)"
                " on conflict (customer_id) do update"
                " set balance = customer_balances.balance + excluded.balance",
                customer_id,
                amount,
            )
        return created


async def customer_balance(pool: asyncpg.Pool, customer_id: str) -> Decimal:
    balance = await pool.fetchval("select balance from customer_balances where customer_id = $1", customer_id)
    return Decimal("0.00") if balance is None else Decimal(balance)


async def create_replacement_order(
    pool: asyncpg.Pool, *, idempotency_key: str, return_id: str, order_id: str, line_ids: Sequence[str]
) -> bool:
    return await _order_lines(pool, "replacement_orders", idempotency_key, return_id, order_id, line_ids)


async def create_repair_order(
    pool: asyncpg.Pool, *, idempotency_key: str, return_id: str, order_id: str, line_ids: Sequence[str]
) -> bool:
    return await _order_lines(pool, "repair_orders", idempotency_key, return_id, order_id, line_ids)


async def _order_lines(
    pool: asyncpg.Pool,
    table: Literal["replacement_orders", "repair_orders"],
    idempotency_key: str,
    return_id: str,
    order_id: str,
    line_ids: Sequence[str],
) -> bool:
    """An order for lines of the shop's order (a replacement, a repair), once per key."""
    return await _insert(
        pool,
        f"insert into {table} (idempotency_key, return_id, order_id, line_ids)"
        " values ($1, $2, $3, $4)"
        " on conflict (idempotency_key) do nothing returning true",
        idempotency_key,
        return_id,
        order_id,
        list(line_ids),
    )


async def revoke_licence(
    pool: asyncpg.Pool,
    *,
    idempotency_key: str,
    return_id: str,
    order_id: str,
    line_id: str,
    sku: str,
) -> bool:
    return await _insert(
        pool,
        "insert into licence_revocations (idempotency_key, return_id, order_id, line_id, sku)"
        " values ($1, $2, $3, $4, $5)"
        " on conflict (idempotency_key) do nothing returning true",
        idempotency_key,
        return_id,
        order_id,
        line_id,
        sku,
    )


async def enqueue_email(
    pool: asyncpg.Pool,
    *,
    idempotency_key: str,
    return_id: str,
    customer_id: str,
    email: str,
    template: str,
    data: dict[str, Any],
    text: str,
) -> bool:
    return await _insert(
        pool,
        "insert into outbox (idempotency_key, return_id, customer_id, email, template,"
        " data, text) values ($1, $2, $3, $4, $5, $6, $7)"
        " on conflict (idempotency_key) do nothing returning true",
        idempotency_key,
        return_id,
        customer_id,
        email,
        template,
        data,
        text,
    )
