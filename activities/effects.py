"""Effects on outside systems, each idempotent on its key: a retry or replay finds the row and stops.

The payment provider, shop backend, licence server and mailer cannot exist here, so each is a
ledger table in PostgreSQL with the idempotency a real provider offers.
"""

from __future__ import annotations

import asyncpg
from temporalio import activity

from domain.effects import CustomerMessage, LicenceRevocation, Refund, RepairOrder, Replacement, StoreCredit
from mail.render import render_text
from mail.shop import ShopSettings
from store import ledgers
from store.personal_data import PersonalData


class EffectActivities:
    """`personal`: the cipher of the outbox's personal columns; by default the process's master
    keys (store.personal_data.master_keyring), none: written in the clear. `shop`: the shop the
    messages speak for (mail.shop.ShopSettings.from_env by default)."""

    def __init__(
        self, pool: asyncpg.Pool, personal: PersonalData | None = None, shop: ShopSettings | None = None
    ) -> None:
        self._pool = pool
        self._personal = personal if personal is not None else PersonalData.from_env(pool)
        self._shop = shop if shop is not None else ShopSettings.from_env()

    @activity.defn
    async def refund(self, e: Refund) -> bool:
        return await ledgers.record_refund(
            self._pool,
            idempotency_key=e.key,
            return_id=e.return_id,
            amount=e.amount,
            payment_method=e.payment_method,
            payment_reference=e.payment_reference,
        )

    @activity.defn
    async def grant_store_credit(self, e: StoreCredit) -> bool:
        return await ledgers.grant_store_credit(
            self._pool,
            idempotency_key=e.key,
            return_id=e.return_id,
            customer_id=e.customer_id,
            amount=e.amount,
        )

    @activity.defn
    async def order_replacement(self, e: Replacement) -> bool:
        return await ledgers.create_replacement_order(
            self._pool,
            idempotency_key=e.key,
            return_id=e.return_id,
            order_id=e.order_id,
            line_ids=e.line_ids,
        )

    @activity.defn
    async def order_repair(self, e: RepairOrder) -> bool:
        return await ledgers.create_repair_order(
            self._pool,
            idempotency_key=e.key,
            return_id=e.return_id,
            order_id=e.order_id,
            line_ids=e.line_ids,
        )

    @activity.defn
    async def revoke_licence(self, e: LicenceRevocation) -> bool:
        return await ledgers.revoke_licence(
            self._pool,
            idempotency_key=e.key,
            return_id=e.return_id,
            order_id=e.order_id,
            line_id=e.line_id,
            sku=e.sku,
        )

    @activity.defn
    async def send_message(self, e: CustomerMessage) -> bool:
        return await ledgers.enqueue_email(
            self._pool,
            idempotency_key=e.key,
            return_id=e.return_id,
            customer_id=e.customer_id,
            email=e.email,
            template=e.template,
            data=e.data,
            # The outbox keeps the text part as the customer reads it (mail/render.py).
            text=render_text(e.template, e.data, self._shop),
            personal=self._personal,
        )
