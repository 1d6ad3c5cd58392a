"""Ledgers of the fake outside systems (refunds, store credit, ...).

Every write is keyed by an idempotency key and answers `created`: False means
the same key was already recorded, so a retried activity never doubles money,
orders or e-mails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import asyncpg

from domain.effects import CustomerMessage
from store.outbox import open_fields, outbox_row
from store.personal_data import PersonalData


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
    provider: str = "ledger",
    provider_refund_id: str | None = None,
    status: str = "succeeded",
) -> bool:
    """The refund as the provider made it (payments/). A retry after the provider answered finds
    the row. A provider's refund (one with its id) is due for the refund follower at once
    (store.refund_checks), which asks the provider until its status is final."""
    return await _insert(
        pool,
        "insert into refunds (idempotency_key, return_id, amount, payment_method,"
        " payment_reference, provider, provider_refund_id, status, next_check_at)"
        " values ($1, $2, $3, $4, $5, $6, $7, $8, case when $7::text is null then null else now() end)"
        " on conflict (idempotency_key) do nothing returning true",
        idempotency_key,
        return_id,
        amount,
        payment_method,
        payment_reference,
        provider,
        provider_refund_id,
        status,
    )


@dataclass(frozen=True)
class RefundRow:
    """A row of the refunds ledger, for ops (GET /v1/returns/{id}/refunds)."""

    key: str
    amount: Decimal
    payment_method: str
    payment_reference: str
    provider: str
    provider_refund_id: str | None
    status: str
    created_at: datetime
    checked_at: datetime | None  # when the provider last answered the follower; None: not asked


async def refunds_of(pool: asyncpg.Pool, return_id: str) -> list[RefundRow]:
    """The refunds of a case, oldest first."""
    rows = await pool.fetch(
        "select idempotency_key, amount, payment_method, payment_reference, provider,"
        " provider_refund_id, status, created_at, checked_at from refunds where return_id = $1"
        " order by created_at, idempotency_key",
        return_id,
    )
    return [
        RefundRow(
            key=r["idempotency_key"],
            amount=Decimal(r["amount"]),
            payment_method=r["payment_method"],
            payment_reference=r["payment_reference"],
            provider=r["provider"],
            provider_refund_id=r["provider_refund_id"],
            status=r["status"],
            created_at=r["created_at"],
            checked_at=r["checked_at"],
        )
        for r in rows
    ]


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
    personal: PersonalData | None = None,
) -> bool:
    """The message in the outbox, as the send_message activity of histories from before the
    outbox rider wrote it. With `personal` its e-mail address, data and text are sealed under
    the customer's key (`sealed`), and the clear columns hold the erased values; read them back
    with `messages`."""
    row = await outbox_row(
        CustomerMessage(
            key=idempotency_key,
            return_id=return_id,
            customer_id=customer_id,
            email=email,
            template=template,
            data=data,
        ),
        text,
        personal,
    )
    return await _insert(
        pool,
        "insert into outbox (idempotency_key, return_id, customer_id, email, template,"
        " data, text, sealed) values ($1, $2, $3, $4, $5, $6, $7, $8)"
        " on conflict (idempotency_key) do nothing returning true",
        row.idempotency_key,
        row.return_id,
        row.customer_id,
        row.email,
        row.template,
        row.data,
        row.text,
        row.sealed,
    )


@dataclass(frozen=True)
class Message:
    """An outbox row as its reader sees it: opened, or with `erased` and the erased values once
    the customer's key is gone."""

    idempotency_key: str
    return_id: str
    customer_id: str
    email: str
    template: str
    data: dict[str, Any]
    text: str
    created_at: datetime
    erased: bool


async def messages(
    pool: asyncpg.Pool,
    personal: PersonalData | None,
    *,
    return_id: str | None = None,
    customer_id: str | None = None,
) -> list[Message]:
    """The outbox rows of a case or of a customer, oldest first, unsealed."""
    if (return_id is None) == (customer_id is None):
        raise ValueError("messages: give a return_id or a customer_id")
    column = "return_id" if return_id is not None else "customer_id"
    rows = await pool.fetch(
        "select idempotency_key, return_id, customer_id, email, template, data, text, sealed, created_at"
        f" from outbox where {column} = $1 order by created_at, idempotency_key",
        return_id if return_id is not None else customer_id,
    )
    out: list[Message] = []
    for r in rows:
        opened = await open_fields(r, personal)
        erased = opened is None
        fields = {"email": r["email"], "data": r["data"], "text": r["text"]} if opened is None else opened
        out.append(
            Message(
                idempotency_key=r["idempotency_key"],
                return_id=r["return_id"],
                customer_id=r["customer_id"],
                email=fields["email"],
                template=r["template"],
                data=fields["data"],
                text=fields["text"],
                created_at=r["created_at"],
                erased=erased,
            )
        )
    return out
