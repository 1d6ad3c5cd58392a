"""Baselines to run side by side with the project's own benchmark, in the same process.

A benchmark of the returns service reports its figures as ratios against these,
measured in the same run on the same servers, because the machines are noisy.
(Kept verbatim as the project's planners wrote it, so figures stay comparable across runs.)

- temporal_baseline: a bare workflow of the same shape as a return (start with an
  update that answers after `acts` steps, then a signal, then `acts` more steps),
  with no domain logic and no I/O. It is what Temporal itself costs.
- postgres_baseline: single-row INSERT ... ON CONFLICT DO NOTHING commits and one
  COPY batch into an unindexed-but-keyed table: what PostgreSQL itself costs.

Usage from a benchmark (the workflow must be registered on a worker):

    from baseline import BareReturn, bare_step, temporal_baseline, postgres_baseline
    async with Worker(client, task_queue=q, workflows=[BareReturn], activities=[bare_step]):
        base = await temporal_baseline(client, q, n=200, concurrency=20, local=True)
    pg = await postgres_baseline(dsn, n=2000, concurrency=8)
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def bare_step(n: int) -> int:
    return n + 1


@workflow.defn
class BareReturn:
    def __init__(self) -> None:
        self._ready = False
        self._poked = False

    @workflow.run
    async def run(self, acts: int, local: bool) -> int:
        x = await self._steps(acts, local, 0)
        self._ready = True
        await workflow.wait_condition(lambda: self._poked)
        return await self._steps(acts, local, x)

    async def _steps(self, acts: int, local: bool, x: int) -> int:
        for _ in range(acts):
            if local:
                x = await workflow.execute_local_activity(
                    bare_step, x, start_to_close_timeout=timedelta(seconds=10)
                )
            else:
                x = await workflow.execute_activity(
                    bare_step, x, start_to_close_timeout=timedelta(seconds=10)
                )
        return x

    @workflow.update
    async def assess(self) -> bool:
        await workflow.wait_condition(lambda: self._ready)
        return True

    @workflow.signal
    def poke(self) -> None:
        self._poked = True


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


async def temporal_baseline(
    client, task_queue: str, n: int = 200, concurrency: int = 20, acts: int = 3, local: bool = True
) -> dict:
    """Start n bare cases with update-with-start, signal each, wait for all results."""
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy

    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one() -> None:
        async with gate:
            op = WithStartWorkflowOperation(
                BareReturn.run,
                args=[acts, local],
                id=f"bare-{uuid.uuid4()}",
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
            t0 = time.perf_counter()
            await client.execute_update_with_start_workflow(BareReturn.assess, start_workflow_operation=op)
            latencies.append(time.perf_counter() - t0)
            handle = await op.workflow_handle()
            await handle.signal(BareReturn.poke)
            await handle.result()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    elapsed = time.perf_counter() - t0
    return {
        "cases": n,
        "concurrency": concurrency,
        "cases_per_s": n / elapsed,
        "assess_p50_ms": _pct(latencies, 0.50) * 1000,
        "assess_p99_ms": _pct(latencies, 0.99) * 1000,
    }


async def postgres_baseline(dsn: str, n: int = 2000, concurrency: int = 8, batch: int = 50_000) -> dict:
    """Raw asyncpg: single-row commits (sequential and concurrent) and one COPY batch."""
    import asyncpg

    table = f"baseline_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    try:
        async with pool.acquire() as c:
            await c.execute(
                f"CREATE TABLE {table} (stream_id text, version int, event_id uuid UNIQUE,"
                " type text, payload jsonb, PRIMARY KEY (stream_id, version))"
            )
        sql = (
            f"INSERT INTO {table} (stream_id, version, event_id, type, payload)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING"
        )

        async def insert(i: int) -> None:
            async with pool.acquire() as c:
                await c.execute(sql, f"s{i % 500}", i, uuid.uuid4(), "E", json.dumps({"i": i}))

        t0 = time.perf_counter()
        for i in range(n):
            await insert(i)
        sequential = n / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(insert(i) for i in range(n, 2 * n)))
        concurrent = n / (time.perf_counter() - t0)

        rows = [(f"c{i % 1000}", i, uuid.uuid4(), "E", json.dumps({"i": i})) for i in range(batch)]
        t0 = time.perf_counter()
        async with pool.acquire() as c:
            await c.copy_records_to_table(
                table, records=rows, columns=["stream_id", "version", "event_id", "type", "payload"]
            )
        copy_rate = batch / (time.perf_counter() - t0)
        async with pool.acquire() as c:
            await c.execute(f"DROP TABLE {table}")
    finally:
        await pool.close()
    return {
        "single_row_commits_per_s": sequential,
        "concurrent_commits_per_s": concurrent,
        "concurrency": concurrency,
        "copy_rows_per_s": copy_rate,
    }
