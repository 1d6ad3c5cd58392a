"""The API process, which runs the webhook relay and sender, SIGKILLed mid-delivery again and again
while cases run: every event of every case still reaches the shop, in order per case (at least
once: duplicates are allowed, counted and printed)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from activities.event_store import fold_stored
from payload.codec import Keyring
from store.event_store import EventStore
from tests.faults.harness import ROOT, Run, Stack, load_scripts
from tests.webhooks.receiver import Receiver
from webhooks.endpoints import create_endpoint, delete_endpoint
from webhooks.events import Recorded, payloads

KILLS_MID_DELIVERY = 4
CASES = 8


class ApiProcess:
    """`python -m api serve` (the API with the relay and sender in its lifespan), restarted by a
    supervisor whenever it dies, as a process manager would."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.env = {**os.environ, **env, "RETURNS_WEBHOOKS": "1", "RETURNS_WEBHOOK_TIMEOUT": "2"}
        self.log = log.open("ab")
        self.starts = 0
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        return subprocess.Popen(
            [sys.executable, "-m", "api", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )

    def kill(self) -> None:
        """SIGKILL by PID: only ever the process this test started."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    async def supervise(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.proc.poll() is not None:
                self.proc = self._spawn()
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


async def settled_messages(s: Stack, return_ids: list[str], seconds: float = 120) -> dict[str, list[int]]:
    """Per case, the stream versions a shop hears of, once every effect of the case is recorded."""
    deadline = time.monotonic() + seconds
    want: dict[str, list[int]] = {}
    for return_id in return_ids:
        while True:
            stream = await EventStore(s.pool).read_stream(f"return-{return_id}")
            case = fold_stored(stream)
            if case is not None and not case.pending_effects:
                break
            assert time.monotonic() < deadline, f"{return_id}: effects still pending"
            await asyncio.sleep(0.2)
        recorded = [Recorded(str(e.event_id), e.stream_version, e.recorded_at, e.data) for e in stream]
        want[return_id] = [r.stream_version for r, _ in payloads(recorded, {r.event_id for r in recorded})]
    return want


async def test_the_api_and_relay_sigkilled_mid_delivery_lose_nothing(fault_stack: Stack) -> None:
    s = fault_stack
    keys = s.worker.env["RETURNS_CODEC_KEYS"]
    receiver = await Receiver([], delay=0.15).start()  # a slow shop: kills land mid-request
    async with s.pool.acquire() as conn:
        endpoint, secret = await create_endpoint(conn, Keyring.parse(keys), receiver.url)
    receiver.secrets.append(secret)
    env = {k: s.worker.env[k] for k in ("TEMPORAL_ADDRESS", "DATABASE_URL", "RETURNS_TASK_QUEUE")}
    api = ApiProcess({**env, "RETURNS_CODEC_KEYS": keys}, s.data_dir / "api.log")
    stop = asyncio.Event()
    supervisor = asyncio.create_task(api.supervise(stop))
    rng = random.Random(11)
    run = Run()
    kills = 0
    try:
        driving = asyncio.create_task(run.drive_all(s.returns, load_scripts()[:CASES], "wh", concurrency=4))
        deadline = time.monotonic() + 120
        while kills < KILLS_MID_DELIVERY or not driving.done():
            assert time.monotonic() < deadline, f"{kills} kills mid-delivery in 120 s"
            if receiver.in_flight > 0 and kills < KILLS_MID_DELIVERY:
                await asyncio.sleep(rng.uniform(0, 0.1))
                if receiver.in_flight > 0:
                    api.kill()  # the supervisor starts the next one
                    kills += 1
                    await asyncio.sleep(rng.uniform(1.0, 2.0))
            await asyncio.sleep(0.02)
        await driving
        want = await settled_messages(s, list(run.cases))
        deadline = time.monotonic() + 90
        while {k: v for k, v in receiver.sequences_by_case().items() if k in want} != want:
            assert time.monotonic() < deadline, "not every event reached the shop"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await supervisor
        api.stop()
        await receiver.stop()
        async with s.pool.acquire() as conn:
            await delete_endpoint(conn, endpoint.endpoint_id)
    messages = sum(len(v) for v in want.values())
    print(
        f"webhooks under SIGKILL: {len(want)} cases, {messages} messages, {len(receiver.received)} receipts, "
        f"{receiver.duplicates()} duplicates, {kills} kills mid-delivery, {api.starts} API starts"
    )
    assert receiver.rejected == 0 and kills == KILLS_MID_DELIVERY
