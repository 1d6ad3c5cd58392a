"""A customer's data as JSON (GDPR Art. 15 and 20): every case of theirs with its view, its
events, the mails sent, the ledger entries and the webhook messages made of it. Read from
PostgreSQL as the service stores it, events unsealed by the event store (fields whose key is
erased read as the erased placeholders)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from pydantic import BaseModel

from activities.event_store import fold_stored
from domain.view import CaseView, case_view
from store.event_store import EventStore
from store.ledgers import messages
from store.read_model import CaseRow, cases_of_customer
from workflows.interface import workflow_id

# Ledger tables by the return id of their rows, with what a customer may see of each.
LEDGERS = {
    "refunds": "idempotency_key, amount, payment_method, payment_reference, created_at",
    "store_credits": "idempotency_key, amount, created_at",
    "replacement_orders": "idempotency_key, order_id, line_ids, created_at",
    "repair_orders": "idempotency_key, order_id, line_ids, created_at",
    "licence_revocations": "idempotency_key, order_id, line_id, sku, created_at",
}


class ExportedEvent(BaseModel):
    event_id: str
    stream_version: int
    type: str
    recorded_at: datetime
    data: dict[str, Any]


class ExportedCase(BaseModel):
    return_id: str
    row: CaseRow  # the read model's row ("my returns")
    view: CaseView | None  # the case view folded from its stored events
    events: list[ExportedEvent]
    messages: list[dict[str, Any]]  # the stored mails (outbox)
    ledgers: dict[str, list[dict[str, Any]]]
    webhook_messages: list[dict[str, Any]]  # what the shop was sent of the case (ids, types, status)


class CustomerExport(BaseModel):
    customer_id: str
    exported_at: datetime
    store_credit_balance: Decimal
    # What the shop redeemed of it (store_credit/ledger.py): amount, the shop's reference, when.
    store_credit_redemptions: list[dict[str, Any]] = []
    cases: list[ExportedCase]
    erased_at: datetime | None  # when the customer was last erased (their older cases are gone)


def _plain(record: asyncpg.Record) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in dict(record).items()}


async def export_customer(pool: asyncpg.Pool, store: EventStore, customer_id: str) -> CustomerExport:
    cases: list[ExportedCase] = []
    for row in await cases_of_customer(pool, customer_id):
        stored = await store.read_stream(workflow_id(row.return_id))
        case = fold_stored(stored) if stored else None
        mails = await messages(pool, store.personal, return_id=row.return_id)
        ledgers = {
            table: [
                _plain(r)
                for r in await pool.fetch(
                    f"select {columns} from {table} where return_id = $1"
                    " order by created_at, idempotency_key",
                    row.return_id,
                )
            ]
            for table, columns in LEDGERS.items()
        }
        webhooks = await pool.fetch(
            "select msg_id, endpoint_id, event_type, status, attempts, delivered_at, created_at"
            " from webhook_messages where return_id = $1"
            " order by transaction_id, global_position, endpoint_id",
            row.return_id,
        )
        cases.append(
            ExportedCase(
                return_id=row.return_id,
                row=row,
                view=case_view(case) if case is not None else None,
                events=[
                    ExportedEvent(
                        event_id=str(e.event_id),
                        stream_version=e.stream_version,
                        type=e.type,
                        recorded_at=e.recorded_at,
                        data=e.data,
                    )
                    for e in stored
                ],
                messages=[
                    {
                        "idempotency_key": m.idempotency_key,
                        "template": m.template,
                        "email": m.email,
                        "data": m.data,
                        "text": m.text,
                        "created_at": m.created_at,
                        "erased": m.erased,
                    }
                    for m in mails
                ],
                ledgers=ledgers,
                webhook_messages=[_plain(w) for w in webhooks],
            )
        )
    balance = await pool.fetchval("select balance from customer_balances where customer_id = $1", customer_id)
    redemptions = await pool.fetch(
        "select amount, reference, created_at from store_credit_redemptions where customer_id = $1"
        " order by created_at, redemption_id",
        customer_id,
    )
    erased_at = await pool.fetchval(
        "select erased_at from erased_customers where customer_id = $1", customer_id
    )
    return CustomerExport(
        customer_id=customer_id,
        exported_at=datetime.now(UTC),
        store_credit_balance=Decimal(balance) if balance is not None else Decimal("0.00"),
        store_credit_redemptions=[_plain(r) for r in redemptions],
        cases=cases,
        erased_at=erased_at,
    )
