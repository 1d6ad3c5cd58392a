"""The returns worker with one fault built in, for the fault tests only (production code carries
no fault hooks): `python -m tests.faults.worker`, configured like worker.py (TEMPORAL_ADDRESS,
DATABASE_URL, RETURNS_TASK_QUEUE) plus

  FAULTS_DIE_ON_EFFECT  N: this process SIGKILLs itself on its N-th effect call, right after the
                        ledger or outbox write and before the activity answers, so the event that
                        records the effect is never appended by this process
  FAULTS_DIE_AFTER_APPEND  N: this process SIGKILLs itself right after its N-th append that
                        wrote events (append_events_once committed, its workflow task not yet
                        completed), so Temporal retries a task whose appends are already stored
  FAULTS_KILL_LOG       file that gets one line per such death (the harness counts them)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

import asyncpg
from temporalio import activity

from activities.effects import EffectActivities
from activities.event_store import Appended, AppendEvents, EventStoreActivities
from domain.effects import CustomerMessage, LicenceRevocation, Refund, Replacement, StoreCredit
from store.event_store import EventStore
from worker import Settings, build_worker, service


def die(kill_log: Path | None, line: str) -> None:
    """Log the death where the harness counts them, then SIGKILL this process."""
    if kill_log is not None:
        with kill_log.open("a") as log:
            log.write(f"{os.getpid()} {line}\n")
            log.flush()
            os.fsync(log.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


class DiesAfterEffect(EffectActivities):
    def __init__(self, pool: asyncpg.Pool, die_on: int | None, kill_log: Path | None) -> None:
        super().__init__(pool)
        self._die_on = die_on
        self._kill_log = kill_log
        self._calls = 0

    def _after(self, effect: Any, created: bool) -> bool:
        self._calls += 1
        if self._calls == self._die_on:
            die(self._kill_log, f"{effect.effect} {effect.key} created={created}")
        return created

    @activity.defn(name="refund")
    async def refund(self, e: Refund) -> bool:
        return self._after(e, await super().refund(e))

    @activity.defn(name="grant_store_credit")
    async def grant_store_credit(self, e: StoreCredit) -> bool:
        return self._after(e, await super().grant_store_credit(e))

    @activity.defn(name="order_replacement")
    async def order_replacement(self, e: Replacement) -> bool:
        return self._after(e, await super().order_replacement(e))

    @activity.defn(name="revoke_licence")
    async def revoke_licence(self, e: LicenceRevocation) -> bool:
        return self._after(e, await super().revoke_licence(e))

    @activity.defn(name="send_message")
    async def send_message(self, e: CustomerMessage) -> bool:
        return self._after(e, await super().send_message(e))


class DiesAfterAppend(EventStoreActivities):
    def __init__(self, pool: asyncpg.Pool, die_after: int | None, kill_log: Path | None) -> None:
        super().__init__(EventStore(pool))
        self._die_after = die_after
        self._kill_log = kill_log
        self._appends = 0

    @activity.defn(name="append_events_once")
    async def append_events_once(self, req: AppendEvents) -> Appended:
        appended = await super().append_events_once(req)
        if not appended.recorded:  # it wrote: adopting a recorded batch is not counted
            self._appends += 1
            if self._appends == self._die_after:
                types = ",".join(e.type for e in req.events)
                die(self._kill_log, f"append {req.stream_id}@{req.expected_version} {types}")
        return appended


def _int_env(name: str) -> int | None:
    return int(os.environ[name]) if os.environ.get(name) else None


async def main() -> None:
    settings = Settings.from_env()
    kill_log = Path(os.environ["FAULTS_KILL_LOG"]) if os.environ.get("FAULTS_KILL_LOG") else None
    async with service(settings) as (client, pool, _):
        effects = DiesAfterEffect(pool, _int_env("FAULTS_DIE_ON_EFFECT"), kill_log)
        store = DiesAfterAppend(pool, _int_env("FAULTS_DIE_AFTER_APPEND"), kill_log)
        async with build_worker(
            client, pool, settings.policy_file, settings.task_queue, effects=effects, store=store
        ):
            print(f"worker ready {os.getpid()}", flush=True)  # the harness waits for its own pid
            await asyncio.Event().wait()  # until SIGKILL (the point) or SIGTERM


if __name__ == "__main__":
    from stack.runtime import install_runtime

    # Workflow task failures and retries land in the worker log the harness keeps.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_runtime(core_level="ERROR")
    asyncio.run(main())
