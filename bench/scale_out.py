"""Scale-out curve: full cases through the HTTP API against 1, 2 and 4 `worker.py` processes.

Each set is the service as a user runs it: N worker.py processes (RETURNS_API_PORT=off) and one
API process (`python -m api serve`), on the task queue of the set, all on the same Temporal dev
server and PostgreSQL. Every set is started up front and they take turns (`rounds` times, order
reversed every other round), so load from elsewhere on the machine hits each alike. A case is
submitted with a webshop key (POST /v1/returns, timed), then gets its photos (webshop) or its
parcel (warehouse key) over HTTP, and counts once its workflow ended resolved.

Per set: cases/s, submit p50/p99, CPU ms per case of the workers, the API process, the Temporal
server and PostgreSQL, and the Temporal server's share: of the machine's CPU time during the run
(cores x wall) and of all the CPU the run used.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from api.keys import create_key
from bench.processes import Services, cpu_by_part, cpu_s, service_env, services
from domain.view import CaseView
from returns_client import ReturnsClient
from store.db import create_pool

if TYPE_CHECKING:
    from bench.run import Stack

WORKER_COUNTS = (1, 2, 4)


def pct(values: Sequence[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] if s else 0.0


@dataclass
class Keys:
    webshop: str
    warehouse: str

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


async def make_keys(dsn: str) -> Keys:
    """A webshop and a warehouse key, as `python -m api keys create` makes them."""
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        _, webshop = await create_key(pool, "webshop", None, "bench")
        _, warehouse = await create_key(pool, "warehouse", None, "bench")
        return Keys(webshop, warehouse)
    finally:
        await pool.close()


@dataclass
class HttpRun:
    cases: int
    seconds: float = 0.0
    submit_ms: list[float] = field(default_factory=list)

    @property
    def cases_per_s(self) -> float:
        return self.cases / self.seconds


async def http_cases(
    http: httpx.AsyncClient, url: str, keys: Keys, returns: ReturnsClient, n: int, concurrency: int
) -> HttpRun:
    """n full cases over HTTP, at most `concurrency` at a time: submit (timed), then photos
    (toner, warranty) or parcel (shoes, return), until the workflow ended resolved."""
    from bench.run import request

    gate = asyncio.Semaphore(concurrency)
    run = HttpRun(n)
    tag = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        shape = "photos" if i % 2 == 0 else "parcel"
        return_id = f"R-{tag}-{i}"
        async with gate:
            t0 = time.perf_counter()
            r = await http.post(
                f"{url}/v1/returns", json=request(return_id, shape), headers=keys.headers("webshop")
            )
            run.submit_ms.append((time.perf_counter() - t0) * 1000)
            # 200: a retry inside the API (a transient Temporal error) found the case its first
            # attempt started; the view is the same.
            assert r.status_code in (200, 201), r.text
            if shape == "photos":
                r = await http.post(
                    f"{url}/v1/returns/{return_id}/photos",
                    json={"line_id": "L1", "photos": ["error.jpg"]},
                    headers=keys.headers("webshop"),
                )
            else:
                r = await http.post(
                    f"{url}/v1/returns/{return_id}/parcel", json={}, headers=keys.headers("warehouse")
                )
            assert r.status_code == 200, r.text
            handle = returns.client.get_workflow_handle(returns.case_id(return_id), result_type=CaseView)
            result: CaseView = await handle.result()
            assert result.status == "resolved", (return_id, result.status)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    run.seconds = time.perf_counter() - t0
    return run


async def bench_scale_out(
    stack: Stack, cases: int, concurrency: int = 40, rounds: int = 2, counts: Sequence[int] = WORKER_COUNTS
) -> dict[str, Any]:
    """The curve: for each worker count, medians over `rounds` runs of cases // rounds cases."""
    keys = await make_keys(stack.dsn)
    cpus = os.cpu_count() or 1
    sets: dict[int, tuple[Services, ReturnsClient]] = {}
    runs: dict[int, list[HttpRun]] = {c: [] for c in counts}
    cpu: dict[int, dict[str, float]] = {c: {} for c in counts}
    wall: dict[int, float] = dict.fromkeys(counts, 0.0)
    with contextlib.ExitStack() as exits:
        for count in counts:
            queue = f"scale{count}-{uuid.uuid4().hex[:8]}"
            env = service_env(
                stack.address,
                stack.dsn,
                queue,
                stack.tmp / f"scale{count}",
                RETURNS_WEBHOOKS="0",  # the curve is cases; webhooks are the sale day's
            )
            procs = exits.enter_context(services(env, stack.tmp / f"scale{count}" / "logs", count))
            sets[count] = (procs, ReturnsClient(stack.client, queue))
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=concurrency)) as http:
            for procs, returns in sets.values():
                await http_cases(
                    http, procs.api_url, keys, returns, 10, 10
                )  # warm up: imports, sandbox, pools
            per_run = max(1, cases // rounds)
            for r in range(rounds):
                for count in counts if r % 2 == 0 else tuple(reversed(counts)):
                    procs, returns = sets[count]
                    before = cpu_by_part(stack, procs)
                    t0 = time.perf_counter()
                    runs[count].append(
                        await http_cases(http, procs.api_url, keys, returns, per_run, concurrency)
                    )
                    wall[count] += time.perf_counter() - t0
                    after = cpu_by_part(stack, procs)
                    for k, v in after.items():
                        cpu[count][k] = cpu[count].get(k, 0.0) + v - before[k]
                    procs.check_alive()
    curve: dict[str, dict[str, float]] = {}
    for count in counts:
        done = runs[count]
        n = sum(r.cases for r in done)
        used = cpu[count]
        total = sum(used.values())
        curve[str(count)] = {
            "cases_per_s": round(statistics.median(r.cases_per_s for r in done), 2),
            "submit_p50_ms": round(statistics.median(pct(r.submit_ms, 0.5) for r in done), 1),
            "submit_p99_ms": round(statistics.median(pct(r.submit_ms, 0.99) for r in done), 1),
            **{f"cpu_ms_per_case_{k}": round(v * 1000 / n, 1) for k, v in used.items()},
            # The dev server's share of the machine (cores x wall) and of all CPU the run used.
            "temporal_cpu_share_of_machine": round(used["temporal"] / (wall[count] * cpus), 2),
            "temporal_cpu_share_of_used": round(used["temporal"] / total, 2) if total else 0.0,
            "machine_cpu_busy": round(total / (wall[count] * cpus), 2),
        }
    return {"scale_out": curve, "scale_out_cases": cases, "scale_out_concurrency": concurrency}


def table_rows(r: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """Rows for bench/run.py's table: one per worker count."""
    rows: list[tuple[str, Any, Any, Any]] = []
    for count, c in r.get("scale_out", {}).items():
        rows.append(
            (
                f"HTTP full cases/s, {count} worker process(es), {r['scale_out_concurrency']} concurrent",
                c["cases_per_s"],
                f"submit p50/p99 {c['submit_p50_ms']}/{c['submit_p99_ms']} ms",
                "",
            )
        )
        rows.append(
            (
                f"  CPU ms/case workers/api/temporal/postgres, {count} worker(s)",
                f"{c['cpu_ms_per_case_workers']}/{c['cpu_ms_per_case_api']}/"
                f"{c['cpu_ms_per_case_temporal']}/{c['cpu_ms_per_case_postgres']}",
                f"temporal {c['temporal_cpu_share_of_used']:.0%} of used CPU",
                f"machine {c['machine_cpu_busy']:.0%} busy",
            )
        )
    return rows


__all__ = ["WORKER_COUNTS", "Keys", "bench_scale_out", "cpu_s", "http_cases", "make_keys", "table_rows"]


async def main(cases: int) -> dict[str, Any]:
    """`bench/run.py --scale-out [--quick]`: the curve alone, on a fresh embedded stack."""
    from bench.run import embedded_stack, service_keys

    service_keys()
    load_before = os.getloadavg()
    async with embedded_stack() as stack:
        result = await bench_scale_out(stack, cases)
    result["load"] = [round(x, 2) for x in (*load_before, *os.getloadavg())]
    rows = table_rows(result)
    width = [max(len(str(row[i])) for row in rows) for i in range(4)]
    print("\n".join("  ".join(str(v).ljust(width[i]) for i, v in enumerate(row)) for row in rows))
    return result
