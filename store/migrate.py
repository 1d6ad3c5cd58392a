"""Tiny migration runner: plain .sql files applied in name order, once each."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any fixed number; shared by every process that migrates this database.
_LOCK_KEY = 0x5245_5455_524E  # "RETURN"


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction; return their names."""
    applied: list[str] = []
    for path in sorted(directory.glob("*.sql")):
        async with conn.transaction():
            # Transaction-scoped lock: concurrent migrators queue here and then
            # see the row the winner recorded, so nothing runs twice.
            await conn.execute("select pg_advisory_xact_lock($1)", _LOCK_KEY)
            await conn.execute(
                "create table if not exists schema_migrations ("
                " name text primary key,"
                " applied_at timestamptz not null default now())"
            )
            done = await conn.fetchval("select true from schema_migrations where name = $1", path.name)
            if done:
                continue
            # No arguments: simple query protocol, so a file may hold many statements.
            await conn.execute(path.read_text())
            await conn.execute("insert into schema_migrations (name) values ($1)", path.name)
            applied.append(path.name)
    return applied


async def create_database(admin_dsn: str, name: str, *, migrated: bool = True) -> str:
    """A new database on the server of ``admin_dsn`` (tests, benchmarks): its DSN, migrated."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(admin_dsn)
    dsn = urlunsplit(parts._replace(path=f"/{name}"))
    if migrated:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    return dsn
