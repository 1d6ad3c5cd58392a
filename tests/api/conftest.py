"""The HTTP API served for real: uvicorn on a free port, the `returns` fixture's worker and
test server behind it, the workflow tests' database, and one key per role."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from api.app import Deps, create_app
from api.keys import create_key
from api.server import serving
from payload.codec import Keyring
from returns_client import ReturnsClient
from tests.conftest import ROOT, own_time_skipping_worker


@pytest.fixture(scope="session")
async def returns(session_pool: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    """The API's cases on a time-skipping server of their own (see own_time_skipping_worker)."""
    async with own_time_skipping_worker(session_pool) as client:
        yield client


@pytest.fixture(scope="session")
async def api(returns: ReturnsClient, session_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """The base URL of the API serving the `returns` fixture's cases."""
    # Payload keys, so webhook secrets can be sealed (without them registering an endpoint is 503).
    keyring = Keyring.parse(Keyring.generate("api-tests"))
    async with serving(create_app(Deps(pool=session_pool, returns=returns, keyring=keyring))) as url:
        yield url


@pytest.fixture(scope="session")
async def admin(session_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """The owner's connection to the API's database: keys are made and revoked as the CLI does."""
    conn = await asyncpg.connect(session_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def keys(admin: asyncpg.Connection) -> dict[str, str]:
    """A key per role; the ops key's actor is ops:anna."""
    out = {}
    for role, actor in (("webshop", None), ("warehouse", None), ("ops", "ops:anna")):
        _, out[role] = await create_key(admin, role, actor, label=f"tests {role}")
    return out


@pytest.fixture(scope="session")
async def http(api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def api_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m api ARGS` with these settings on top of this process's environment."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
