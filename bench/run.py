"""Benchmark of the returns service against what its parts cost on their own, in the same run.

    python bench/run.py            # full run: JSON + table under bench/results/
    python bench/run.py --quick    # smaller, a couple of minutes, nothing written
    python bench/run.py --projection [--quick]   # only batch appends and the read model's rebuild

Starts the embedded stack (Temporal dev server with a database file, embedded PostgreSQL) in a
temporary folder, runs bench/baseline.py (bare Temporal workflow of a return's shape,
raw asyncpg commits and COPY) and the service side by side, prints a table and, as its last line,
one JSON object. The machine is shared and noisy: read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# A deployed worker runs byte-compiled modules. Where PYTHONDONTWRITEBYTECODE is set (as on the
# development machine) the workflow sandbox would compile the workflow module from source for
# every new case, a cost no deployment pays: the benchmark keeps byte code, outside the repository.
PYCACHE = Path(tempfile.gettempdir()) / "returns-bench-pycache"

import httpx  # noqa: E402
from temporalio.client import Client, WorkflowHandle  # noqa: E402
from temporalio.worker import Replayer, Worker  # noqa: E402

from activities.event_store import row_of_stream  # noqa: E402
from domain.view import CaseView  # noqa: E402
from payload.codec import KEYS_ENV, Keyring  # noqa: E402
from payload.converter import data_converter  # noqa: E402
from policies import DEFAULT_POLICY_FILE  # noqa: E402
from returns_client import ReturnsClient  # noqa: E402
from stack.embedded import start_postgres, start_temporal_dev_server  # noqa: E402
from store.db import create_pool  # noqa: E402
from store.event_store import EventStore, NewEvent  # noqa: E402
from store.migrate import create_database  # noqa: E402
from store.personal_data import MASTER_KEYS_ENV  # noqa: E402
from store.read_model import CaseRow, case_rider, rebuild  # noqa: E402
from webhooks import WebhookSettings  # noqa: E402
from webhooks import run as run_webhooks  # noqa: E402
from webhooks.endpoints import create_endpoint  # noqa: E402
from webhooks.events import Recorded, payloads  # noqa: E402
from webhooks.relay import relay_once  # noqa: E402
from webhooks.signing import sign  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows.return_case import ReturnCaseWorkflow  # noqa: E402
from workflows.search_attributes import SEARCH_ATTRIBUTES  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def load_baseline() -> ModuleType:
    """bench/baseline.py, or the file RETURNS_BASELINE names. Imported by name from sys.path:
    the workflow sandbox re-imports the module of BareReturn."""
    path = Path(os.environ.get("RETURNS_BASELINE") or ROOT / "bench" / "baseline.py")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (RETURNS_BASELINE)")
    sys.path.insert(0, str(path.parent))
    return importlib.import_module(path.stem)


@dataclass(frozen=True)
class Sizes:
    """How much work each part does; --quick shrinks everything."""

    rounds: int  # bare and service take turns this many times, each on `sequential`/`concurrent`
    sequential: int
    concurrent: int
    concurrency: int
    appends: int
    projection_events: int
    replay: int
    open_cases: int
    scale_cases: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(2, 8, 40, 20, 1000, 10_000, 40, 200, 60)
        return cls(3, 20, 150, 20, 4000, 100_000, 200, 2000, 300)


def pct(values: Sequence[float], p: float) -> float:
    """Same percentile rule as baseline.py."""
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


# --- return requests of two shapes: photos then resolved, parcel then resolved ---------------
def request(return_id: str, shape: str) -> dict[str, Any]:
    delivered = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    placed = (datetime.now(UTC) - timedelta(days=7)).isoformat()
    if shape == "photos":  # a toner that does not work: warranty, one photo, returnless refund
        line = {"sku": "HB-410X", "name": "Toner 410X", "category": "printer_supplies", "price": "39.95"}
        reason, condition = "defective", "used"
    else:  # shoes that do not fit: return, parcel, refund
        line = {"sku": "NK-PEG40-43", "name": "Pegasus 40", "category": "shoes", "price": "119.95"}
        reason, condition = "does_not_fit", "unopened"
    n = return_id.rsplit("-", 1)[-1]
    return {
        "return_id": return_id,
        "order": {
            "order_id": f"O-{return_id}",
            "customer": {"id": f"C-{n}", "email": f"klant{n}@example.nl", "name": "Klant"},
            "placed_at": placed,
            "delivered_at": delivered,
            "payment": {"method": "ideal", "reference": f"tr_{n}"},
            "currency": "EUR",
            "lines": [
                {
                    "line_id": "L1",
                    "sku": line["sku"],
                    "name": line["name"],
                    "category": line["category"],
                    "kind": "physical",
                    "unit_price": line["price"],
                    "quantity": 1,
                }
            ],
        },
        "items": [{"line_id": "L1", "quantity": 1, "reason": reason, "condition": condition, "photos": []}],
        "preferred_resolution": "refund",
    }


@dataclass
class CaseRun:
    cases: int
    concurrency: int
    cases_per_s: float
    submit_ms: list[float] = field(default_factory=list)
    return_ids: list[str] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return pct(self.submit_ms, 0.50)

    @property
    def p99(self) -> float:
        return pct(self.submit_ms, 0.99)


async def run_cases(returns: ReturnsClient, n: int, concurrency: int, *, finish: bool = True) -> CaseRun:
    """n cases, at most `concurrency` at a time: submit (timed), then photos or parcel, then
    check it resolved. finish=False stops after submit (cases stay open)."""
    gate = asyncio.Semaphore(concurrency)
    run = CaseRun(n, concurrency, 0.0)
    tag = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        shape = "photos" if i % 2 == 0 else "parcel"
        if not finish:
            shape = "parcel"
        return_id = f"R-{tag}-{i}"
        async with gate:
            t0 = time.perf_counter()
            view = await returns.submit(request(return_id, shape))
            run.submit_ms.append((time.perf_counter() - t0) * 1000)
            if not finish:
                assert view.status == "awaiting_parcel", view.status
                return
            if shape == "photos":
                view = await returns.submit_photos(return_id, "L1", ["error.jpg"])
            else:
                view = await returns.parcel_received(return_id)
            # A full case: its workflow completes once resolved and every effect is done.
            handle = returns.client.get_workflow_handle(returns.case_id(return_id), result_type=CaseView)
            result: CaseView = await handle.result()
            assert result.status == "resolved", (return_id, result.status)
            run.return_ids.append(return_id)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    run.cases_per_s = n / (time.perf_counter() - t0)
    return run


# --- the stack ---------------------------------------------------------------------------------
@dataclass
class Stack:
    address: str
    dsn: str
    admin_dsn: str
    client: Client
    tmp: Path
    temporal_pid: int

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by this process (workers and clients), the Temporal server
        and PostgreSQL (postmaster, its live backends and those that exited)."""
        postmaster = int((self.tmp / "pg" / "postmaster.pid").read_text().split()[0])
        pg = _cpu_of(postmaster, children=True)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    pg += (int(fields[11]) + int(fields[12])) / _HZ
        t = os.times()
        return {"python": t.user + t.system, "temporal": _cpu_of(self.temporal_pid), "postgres": pg}


_HZ = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int, children: bool = False) -> float:
    # /proc/<pid>/stat after the command name: utime, stime, cutime, cstime are fields 11-14.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _HZ


@contextlib.contextmanager
def cpu_per(stack: Stack, into: dict[str, float], count: int) -> Iterator[None]:
    """Adds CPU milliseconds per unit (a case) of each part to `into`, and the wall time."""
    before, t0 = stack.cpu(), time.perf_counter()
    yield
    after, wall = stack.cpu(), time.perf_counter() - t0
    into.update({f"cpu_ms_{k}": round((after[k] - before[k]) * 1000 / count, 1) for k in after})
    into["wall_ms"] = round(wall * 1000 / count, 1)


@contextlib.asynccontextmanager
async def embedded_stack() -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="returns-bench-") as tmp_name:
        tmp = Path(tmp_name)
        temporal = start_temporal_dev_server(
            tmp / "temporal.db", search_attributes=SEARCH_ATTRIBUTES, log_file=tmp / "temporal.log"
        )
        try:
            pg = start_postgres(tmp / "pg", ephemeral=True)
            try:
                dsn = await new_database(pg.dsn, "returns")
                client = await Client.connect(temporal.address, data_converter=data_converter())
                yield Stack(temporal.address, dsn, pg.dsn, client, tmp, temporal.process.pid)
            finally:
                pg.stop()
        finally:
            temporal.stop()


async def new_database(admin_dsn: str, name: str) -> str:
    """A fresh, migrated database: each part measures on tables of its own."""
    return await create_database(admin_dsn, f"{name}_{uuid.uuid4().hex[:6]}")


@contextlib.contextmanager
def worker_processes(
    stack: Stack, task_queue: str, count: int = 1
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Real worker.py processes against the embedded stack (as deployed: own process each)."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
        "TEMPORAL_ADDRESS": stack.address,
        "DATABASE_URL": stack.dsn,
        "RETURNS_TASK_QUEUE": task_queue,
        "RETURNS_DATA_DIR": str(stack.tmp / "worker"),
        # The bench serves HTTP itself (bench_http); a worker's API would take port 8000.
        "RETURNS_API_PORT": os.environ.get("RETURNS_API_PORT", "off"),
    }
    procs = []
    try:
        for i in range(count):
            log = (stack.tmp / f"worker-{task_queue}-{i}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(ROOT / "worker.py")], env=env, stdout=log, stderr=log, cwd=ROOT
                )
            )
        for i, p in enumerate(procs):
            log_path = stack.tmp / f"worker-{task_queue}-{i}.log"
            deadline = time.monotonic() + 60
            while b"Worker polling" not in log_path.read_bytes():
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        yield procs
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


# --- the parts ---------------------------------------------------------------------------------
async def bench_temporal(stack: Stack, baseline: ModuleType, sizes: Sizes) -> dict[str, Any]:
    """Bare workflow and the service, each on a worker in this process, same concurrency, taking
    turns (`rounds` times, order swapped each round) so load from elsewhere hits both alike."""
    pool = await create_pool(stack.dsn, min_size=2, max_size=10)
    bare_q, svc_q = f"bare-{uuid.uuid4()}", f"svc-{uuid.uuid4()}"
    returns = ReturnsClient(stack.client, svc_q)
    out: dict[str, Any] = {"bare": {}, "service": {}, "cpu": {}, "done": []}
    bare_worker = Worker(
        stack.client, task_queue=bare_q, workflows=[baseline.BareReturn], activities=[baseline.bare_step]
    )
    try:
        async with bare_worker, build_worker(stack.client, pool, DEFAULT_POLICY_FILE, svc_q):
            # Warm up both (imports, sandbox, connections).
            await baseline.temporal_baseline(stack.client, bare_q, n=5, concurrency=5)
            await run_cases(returns, 5, 5)
            for c, n in ((1, sizes.sequential), (sizes.concurrency, sizes.concurrent)):
                cpu: dict[str, dict[str, float]] = {"bare": {}, "service": {}}
                bare_runs: list[dict[str, Any]] = []
                svc_runs: list[CaseRun] = []

                for r in range(sizes.rounds):
                    for part in ("bare", "service") if r % 2 == 0 else ("service", "bare"):
                        with cpu_per(stack, cpu[part], n):
                            if part == "bare":
                                bare_runs.append(
                                    await baseline.temporal_baseline(stack.client, bare_q, n=n, concurrency=c)
                                )
                            else:
                                svc_runs.append(await run_cases(returns, n, c))
                out["bare"][c] = {
                    k: statistics.median(b[k] for b in bare_runs)
                    for k in ("cases_per_s", "assess_p50_ms", "assess_p99_ms")
                }
                out["service"][c] = {
                    "cases_per_s": statistics.median(r.cases_per_s for r in svc_runs),
                    "submit_p50_ms": statistics.median(r.p50 for r in svc_runs),
                    "submit_p99_ms": statistics.median(r.p99 for r in svc_runs),
                }
                out["cpu"][c] = cpu  # CPU of the last round of each
                out["done"] += [rid for r in svc_runs for rid in r.return_ids]
    finally:
        await pool.close()
    return out


async def bench_appends(
    stack: Stack, baseline: ModuleType, sizes: Sizes, row: CaseRow, concurrency: int = 8
) -> tuple[dict[str, float], dict[str, float]]:
    """EventStore.append, one event per call, `concurrency` writers on streams of 50 events
    (as baseline.py's rows); then the same with the read-model row the workflow writes too.
    Takes turns with baseline.py's raw commits (`rounds` times); medians of both."""
    dsn = await new_database(stack.admin_dsn, "appends")
    pool = await create_pool(dsn, min_size=concurrency, max_size=concurrency)
    store = EventStore(pool)
    try:

        async def writer(w: int, n: int, with_row: bool, tag: str) -> None:
            for i in range(n):
                stream, version = f"{tag}-{w}-{i // 50}", i % 50
                event = NewEvent(event_id=uuid.uuid4(), type="E", data={"i": i})
                rider = (
                    case_rider(row.model_copy(update={"return_id": stream, "stream_version": version + 1}))
                    if with_row
                    else None
                )
                await store.append(stream, version, [event], rider)

        runs: dict[str, list[float]] = {}
        for _ in range(sizes.rounds):
            pg = await baseline.postgres_baseline(stack.dsn, n=sizes.appends, concurrency=concurrency)
            for k, v in pg.items():
                runs.setdefault(k, []).append(v)
            for with_row in (False, True):
                per = sizes.appends // concurrency
                t0 = time.perf_counter()
                await asyncio.gather(
                    *(writer(w, per, with_row, uuid.uuid4().hex[:6]) for w in range(concurrency))
                )
                key = "append_with_row_events_per_s" if with_row else "append_events_per_s"
                runs.setdefault(key, []).append(per * concurrency / (time.perf_counter() - t0))
        medians = {k: statistics.median(v) for k, v in runs.items()}
        return medians, {k: medians[k] for k in ("append_events_per_s", "append_with_row_events_per_s")}
    finally:
        await pool.close()


Template = list[tuple[str, str]]


async def stream_templates(stack: Stack, return_ids: Sequence[str]) -> tuple[list[Template], CaseRow]:
    """(type, data as JSON text) of real resolved cases, to clone into many streams, and the
    read-model row of one of them."""
    pool = await create_pool(stack.dsn, min_size=1, max_size=2)
    try:
        store = EventStore(pool)
        out = []
        rows = []
        for rid in return_ids[:2]:  # one of each shape (photos, parcel)
            events = await store.read_stream(f"return-{rid}")
            out.append([(e.type, json.dumps(e.data).replace(rid, "{RID}")) for e in events])
            rows.append(row_of_stream(events))
        assert rows[0] is not None
        return out, rows[0]
    finally:
        await pool.close()


async def bench_batch_and_projection(
    stack: Stack, templates: list[Template], events: int, concurrency: int = 8
) -> dict[str, float]:
    """Batch appends of whole cases (a stream's events in one call, 8 writers) until `events`
    are stored, then the read model rebuilt from them."""
    dsn = await new_database(stack.admin_dsn, "projection")
    pool = await create_pool(dsn, min_size=concurrency, max_size=concurrency)
    store = EventStore(pool)
    try:
        per_case = sum(len(t) for t in templates) / len(templates)
        cases = int(events / per_case) + 1
        queue = list(range(cases))

        async def writer() -> int:
            written = 0
            while queue:
                i = queue.pop()
                template = templates[i % len(templates)]
                rid = f"P-{i}"
                batch = [
                    NewEvent(event_id=uuid.uuid4(), type=t, data=json.loads(d.replace("{RID}", rid)))
                    for t, d in template
                ]
                await store.append(f"return-{rid}", 0, batch)
                written += len(batch)
            return written

        t0 = time.perf_counter()
        written = sum(await asyncio.gather(*(writer() for _ in range(concurrency))))
        batch_rate = written / (time.perf_counter() - t0)

        t0, cpu0 = time.perf_counter(), stack.cpu()
        rows = await rebuild(pool, row_of_stream)
        projection = written / (time.perf_counter() - t0)
        cpu = {k: v - cpu0[k] for k, v in stack.cpu().items()}
        assert rows == cases, (rows, cases)
        return {
            "batch_append_events_per_s": batch_rate,
            "batch_size": per_case,
            "projection_events": written,
            "projection_events_per_s": projection,
            # What bounds it: the fold is Python CPU; this is the rate with a core to itself.
            # (/proc counts in clock ticks: a tiny rebuild may show none)
            "projection_events_per_python_cpu_s": written / max(cpu["python"], 1 / _HZ),
            "projection_postgres_cpu_s": cpu["postgres"],
            "projection_python_cpu_s": cpu["python"],
        }
    finally:
        await pool.close()


async def bench_replay(stack: Stack, return_ids: Sequence[str], n: int) -> dict[str, float]:
    returns = ReturnsClient(stack.client)
    handles: list[WorkflowHandle[Any, Any]] = [
        stack.client.get_workflow_handle(returns.case_id(rid)) for rid in return_ids[:n]
    ]
    histories = [await h.fetch_history() for h in handles]
    replayer = Replayer(workflows=[ReturnCaseWorkflow], data_converter=data_converter())
    t0, cpu0 = time.perf_counter(), time.process_time()
    async with replayer.workflow_replay_iterator(_aiter(histories)) as results:
        async for r in results:
            if r.replay_failure is not None:
                raise r.replay_failure
    return {
        "replay_cases": len(histories),
        "replay_cases_per_s": len(histories) / (time.perf_counter() - t0),
        "replay_cases_per_cpu_s": len(histories) / (time.process_time() - cpu0),
    }


async def _aiter(items: Sequence[Any]) -> AsyncIterator[Any]:
    for i in items:
        yield i


async def bench_open_cases(stack: Stack, open_cases: int) -> dict[str, float]:
    """RSS of one worker.py process holding `open_cases` cases that wait for their parcel."""
    task_queue = f"rss-{uuid.uuid4()}"
    with worker_processes(stack, task_queue) as (proc,):
        idle = rss_mb(proc.pid)
        returns = ReturnsClient(stack.client, task_queue)
        run = await run_cases(returns, open_cases, 50, finish=False)
        await asyncio.sleep(2)  # let the worker settle after the last task
        return {
            "worker_rss_mb_idle": idle,
            f"worker_rss_mb_{open_cases}_open": rss_mb(proc.pid),
            "open_submit_p50_ms": run.p50,
        }


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    """os.environ with these values inside the block (worker processes inherit it)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def bench_webhooks(stack: Stack, cases: int, concurrency: int) -> dict[str, float]:
    """Webhook delivery lag: from an event's recorded_at to its receipt by a shop's endpoint (a
    real HTTP receiver verifying signatures), for every event of `cases` full cases run
    `concurrency` at a time by a worker.py process; the relay and sender run in this process,
    as in the API's. The bare part: a signed POST of the same body straight to the receiver."""
    from tests.webhooks.receiver import Receiver

    keyring = Keyring.from_env()
    pool = await create_pool(stack.dsn, min_size=2, max_size=20)
    receiver = await Receiver([]).start()
    try:
        async with pool.acquire() as conn:
            _, secret = await create_endpoint(conn, keyring, receiver.url)
        receiver.secrets.append(secret)
        while (await relay_once(pool))[0]:  # past the events of the other parts first
            pass
        task_queue = f"webhooks-{uuid.uuid4()}"
        returns = ReturnsClient(stack.client, task_queue)
        stop = asyncio.Event()
        relay = asyncio.create_task(run_webhooks(pool, keyring, WebhookSettings(), stop))
        with environ(RETURNS_API_PORT="off", RETURNS_WEBHOOKS="0"), worker_processes(stack, task_queue):
            await run_cases(returns, 4, 4)  # warm up
            done = await run_cases(returns, cases, concurrency)
            want: set[str] = set()
            for return_id in done.return_ids:
                stream = await EventStore(pool).read_stream(returns.case_id(return_id))
                recorded = [
                    Recorded(str(e.event_id), e.stream_version, e.recorded_at, e.data) for e in stream
                ]
                want |= {r.event_id for r, _ in payloads(recorded, {r.event_id for r in recorded})}
            deadline = time.monotonic() + 120
            while want - {r.payload["data"]["event_id"] for r in receiver.received}:
                if time.monotonic() > deadline:
                    raise RuntimeError("webhooks: not every event arrived within 120 s")
                await asyncio.sleep(0.05)
        stop.set()
        await relay
        lags = [
            (r.at - datetime.fromisoformat(r.payload["timestamp"]).timestamp()) * 1000
            for r in receiver.first_receipts()
            if r.payload["data"]["event_id"] in want
        ]
        body = json.dumps(receiver.received[-1].payload, separators=(",", ":"))
        direct: list[float] = []
        async with httpx.AsyncClient() as http:
            for n in range(50):
                t0 = time.perf_counter()
                await http.post(receiver.url, content=body, headers=sign(f"msg_bench{n}", body, [secret]))
                direct.append((time.perf_counter() - t0) * 1000)
        return {
            "webhook_lag_p50_ms": pct(lags, 0.50),
            "webhook_lag_p99_ms": pct(lags, 0.99),
            "webhook_direct_post_p50_ms": pct(direct, 0.50),
            "webhook_lag_p50_ratio": pct(lags, 0.50) / pct(direct, 0.50),
            "webhook_lag_p99_ratio": pct(lags, 0.99) / pct(direct, 0.50),
            "webhook_messages": len(lags),
            "webhook_duplicates": receiver.duplicates(),
        }
    finally:
        await receiver.stop()
        await pool.close()


async def bench_http(stack: Stack, sizes: Sizes) -> dict[str, float]:
    """POST /v1/returns (uvicorn serving the API in this process, as worker.py does) against the
    Python client's submit, one case at a time, taking turns (`rounds` times, order swapped each
    round); the same worker and request shape for both. The ratio is what HTTP costs on top."""
    import httpx

    from api.app import Deps, create_app
    from api.keys import create_key
    from api.server import serving

    pool = await create_pool(stack.dsn, min_size=2, max_size=10)
    task_queue = f"http-{uuid.uuid4()}"
    returns = ReturnsClient(stack.client, task_queue)
    tag = uuid.uuid4().hex[:6]
    n = 2 * sizes.sequential
    client_ms: list[float] = []
    http_ms: list[float] = []
    try:
        _, key = await create_key(pool, "webshop", None, "bench")
        app = create_app(Deps(pool=pool, returns=returns))
        async with (
            build_worker(stack.client, pool, DEFAULT_POLICY_FILE, task_queue),
            serving(app) as url,
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http,
        ):

            async def by_client(i: int, into: list[float]) -> None:
                req = request(f"R-{tag}-c-{i}", "parcel")
                t0 = time.perf_counter()
                await returns.submit(req)
                into.append((time.perf_counter() - t0) * 1000)

            async def by_http(i: int, into: list[float]) -> None:
                req = request(f"R-{tag}-h-{i}", "parcel")
                t0 = time.perf_counter()
                r = await http.post("/v1/returns", json=req)
                into.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 201, r.text

            warm: list[float] = []
            for i in range(5):
                await by_client(-1 - i, warm)
                await by_http(-1 - i, warm)
            count = 0
            for r in range(sizes.rounds):
                parts = ((by_client, client_ms), (by_http, http_ms))
                for part, into in parts if r % 2 == 0 else parts[::-1]:
                    for _ in range(n):
                        await part(count, into)
                        count += 1
    finally:
        await pool.close()
    client_p50, http_p50 = pct(client_ms, 0.5), pct(http_ms, 0.5)
    return {
        "http_submit_p50_ms": round(http_p50, 1),
        "client_submit_p50_ms": round(client_p50, 1),
        "http_submit_p50_ratio": round(http_p50 / client_p50, 2),
    }


async def timed(label: str, part: Awaitable[Any]) -> Any:
    t0 = time.perf_counter()
    print(f"# {label} ...", file=sys.stderr, flush=True)
    result = await part
    print(f"# {label}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return result


# --- the report --------------------------------------------------------------------------------
def summarize(
    temporal: dict[str, Any],
    pg: dict[str, float],
    appends: dict[str, float],
    parts: dict[str, float],
    sizes: Sizes,
) -> dict[str, Any]:
    c = sizes.concurrency
    svc, bare = temporal["service"], temporal["bare"]
    result: dict[str, Any] = {
        "submit_p50_ms": {str(k): round(v["submit_p50_ms"], 1) for k, v in svc.items()},
        "submit_p99_ms": {str(k): round(v["submit_p99_ms"], 1) for k, v in svc.items()},
        "submit_p50_ratio": {
            str(k): round(svc[k]["submit_p50_ms"] / bare[k]["assess_p50_ms"], 2) for k in svc
        },
        "bare_submit_p50_ms": {str(k): round(v["assess_p50_ms"], 1) for k, v in bare.items()},
        "bare_submit_p99_ms": {str(k): round(v["assess_p99_ms"], 1) for k, v in bare.items()},
        "cases_per_s": round(svc[c]["cases_per_s"], 2),
        "bare_cases_per_s": round(bare[c]["cases_per_s"], 2),
        "throughput_ratio": round(svc[c]["cases_per_s"] / bare[c]["cases_per_s"], 2),
        "sequential_cases_per_s": round(svc[1]["cases_per_s"], 2),
        "append_events_per_s": round(appends["append_events_per_s"]),
        "append_with_row_events_per_s": round(appends["append_with_row_events_per_s"]),
        "raw_concurrent_commits_per_s": round(pg["concurrent_commits_per_s"]),
        "append_ratio": round(appends["append_events_per_s"] / pg["concurrent_commits_per_s"], 2),
        "raw_single_row_commits_per_s": round(pg["single_row_commits_per_s"]),
        "raw_copy_rows_per_s": round(pg["copy_rows_per_s"]),
        # Where the time goes: CPU ms per case of each process, bare workflow vs service.
        "cpu_per_case": {str(k): v for k, v in temporal["cpu"].items()},
    }
    result.update({k: round(v, 2) if isinstance(v, float) else v for k, v in parts.items()})
    return result


def table(r: dict[str, Any]) -> str:
    rows = [("measure", "service", "bare part", "ratio")]
    for k in r["submit_p50_ms"]:
        rows.append(
            (
                f"submit p50 ms, {k} concurrent",
                r["submit_p50_ms"][k],
                r["bare_submit_p50_ms"][k],
                r["submit_p50_ratio"][k],
            )
        )
        rows.append((f"submit p99 ms, {k} concurrent", r["submit_p99_ms"][k], r["bare_submit_p99_ms"][k], ""))
    rows += [
        (
            "HTTP submit p50 ms (vs client submit)",
            r["http_submit_p50_ms"],
            r["client_submit_p50_ms"],
            r["http_submit_p50_ratio"],
        ),
        ("cases/s, 20 concurrent", r["cases_per_s"], r["bare_cases_per_s"], r["throughput_ratio"]),
        (
            "append events/s, 8 concurrent",
            r["append_events_per_s"],
            r["raw_concurrent_commits_per_s"],
            r["append_ratio"],
        ),
        ("  with read-model row", r["append_with_row_events_per_s"], r["raw_concurrent_commits_per_s"], ""),
        (
            "batch append events/s (a case per call)",
            r["batch_append_events_per_s"],
            r["raw_copy_rows_per_s"],
            "",
        ),
        (f"projection events/s ({r['projection_events']} events)", r["projection_events_per_s"], "", ""),
        ("  per Python CPU second", r["projection_events_per_python_cpu_s"], "", ""),
        (f"replay cases/s ({r['replay_cases']} histories)", r["replay_cases_per_s"], "", ""),
        ("  per CPU second", r["replay_cases_per_cpu_s"], "", ""),
    ]
    if "webhook_lag_p50_ms" in r:
        c = r["sizes"]["concurrency"] if "sizes" in r else ""
        rows += [
            (
                f"webhook lag p50 ms, {c} concurrent ({r['webhook_messages']} messages)",
                r["webhook_lag_p50_ms"],
                r["webhook_direct_post_p50_ms"],
                r["webhook_lag_p50_ratio"],
            ),
            (
                f"webhook lag p99 ms, {c} concurrent",
                r["webhook_lag_p99_ms"],
                r["webhook_direct_post_p50_ms"],
                r["webhook_lag_p99_ratio"],
            ),
        ]
    rows += [(k.replace("_", " "), v, "", "") for k, v in r.items() if k.startswith("worker_rss_mb")]
    if "scale_out" in r:
        from bench.scale_out import table_rows

        rows += table_rows(r)
    for c, parts in r["cpu_per_case"].items():
        for part in ("python", "temporal", "postgres"):
            svc, bare = parts["service"][f"cpu_ms_{part}"], parts["bare"][f"cpu_ms_{part}"]
            rows.append(
                (f"CPU ms/case {part}, {c} concurrent", svc, bare, round(svc / bare, 2) if bare else "")
            )
    width = [max(len(str(row[i])) for row in rows) for i in range(4)]
    return "\n".join("  ".join(str(v).ljust(width[i]) for i, v in enumerate(row)) for row in rows)


def service_keys() -> None:
    # Payloads encrypted as in production: this process and the worker processes share one key.
    os.environ.setdefault(KEYS_ENV, Keyring.generate("bench"))
    # Personal data sealed in PostgreSQL, as in production: worker processes on an external
    # database refuse to start without master keys, and share this run's.
    os.environ.setdefault(MASTER_KEYS_ENV, Keyring.generate("bench-master"))


async def run(sizes: Sizes) -> dict[str, Any]:
    service_keys()
    baseline = load_baseline()
    load_before = os.getloadavg()
    async with embedded_stack() as stack:
        temporal = await timed("temporal: bare vs service", bench_temporal(stack, baseline, sizes))
        done_ids = temporal["done"]
        templates, row = await stream_templates(stack, done_ids)
        pg, appends = await timed("appends vs raw commits", bench_appends(stack, baseline, sizes, row))
        parts: dict[str, float] = {}
        parts |= await timed("HTTP submit vs client submit", bench_http(stack, sizes))
        parts |= await timed(
            "batch + projection", bench_batch_and_projection(stack, templates, sizes.projection_events)
        )
        parts |= await timed("replay", bench_replay(stack, done_ids, sizes.replay))
        parts |= await timed("open cases", bench_open_cases(stack, sizes.open_cases))
        parts |= await timed(
            "webhook delivery lag", bench_webhooks(stack, sizes.concurrent, sizes.concurrency)
        )
        scale: dict[str, Any] = {}
        if sizes.scale_cases:
            from bench.scale_out import bench_scale_out

            scale = await timed(
                "scale out (HTTP, 1/2/4 worker processes)", bench_scale_out(stack, sizes.scale_cases)
            )
    result = summarize(temporal, pg, appends, parts, sizes)
    result.update(scale)
    result["sizes"] = dataclasses.asdict(sizes)
    result["machine"] = {
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


async def run_projection(sizes: Sizes, rounds: int = 3) -> dict[str, Any]:
    """The batch appends and the rebuild of the full run alone, `rounds` times on fresh
    databases (the rebuild is Python CPU: on a shared machine one run says little), templates
    from two real cases as in the full run."""
    service_keys()
    async with embedded_stack() as stack:
        pool = await create_pool(stack.dsn, min_size=2, max_size=4)
        queue = f"svc-{uuid.uuid4()}"
        try:
            async with build_worker(stack.client, pool, DEFAULT_POLICY_FILE, queue):
                done = await run_cases(ReturnsClient(stack.client, queue), 2, 2)
        finally:
            await pool.close()
        templates, _ = await stream_templates(stack, done.return_ids)
        runs = [
            await timed(
                f"batch + projection {r + 1}",
                bench_batch_and_projection(stack, templates, sizes.projection_events),
            )
            for r in range(rounds)
        ]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]} | {
        "projection_events_per_s_runs": [round(r["projection_events_per_s"]) for r in runs]
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller run, nothing written")
    parser.add_argument(
        "--scale-out", action="store_true", help="only the scale-out curve (bench/scale_out.py)"
    )
    parser.add_argument("--sale-day", action="store_true", help="the sale day instead (bench/sale_day.py)")
    parser.add_argument(
        "--projection", action="store_true", help="only batch appends and the rebuild, three times (medians)"
    )
    parser.add_argument("--returns", type=int, default=5000, help="--sale-day: returns submitted")
    parser.add_argument("--minutes", type=float, default=10.0, help="--sale-day: over this many minutes")
    parser.add_argument("--workers", type=int, default=2, help="--sale-day: worker.py processes")
    args = parser.parse_args(argv)
    from stack.runtime import install_runtime

    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(PYCACHE)
    install_runtime()
    if args.sale_day or args.scale_out:
        from bench import sale_day, scale_out

        if args.sale_day:
            report = asyncio.run(
                sale_day.main(args.returns, args.minutes, args.workers, write=not args.quick)
            )
        else:
            report = asyncio.run(scale_out.main(Sizes.of(args.quick).scale_cases))
        print(json.dumps(report))
        return
    if args.projection:
        print(json.dumps(asyncio.run(run_projection(Sizes.of(args.quick)))))
        return
    result = asyncio.run(run(Sizes.of(args.quick)))
    result["quick"] = args.quick
    text = table(result)
    print(text)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stem = f"{result['date'][:16].replace(':', '')}_{result['machine']['host']}"
        (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / f"{stem}.txt").write_text(text + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
