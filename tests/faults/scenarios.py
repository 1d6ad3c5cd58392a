"""The fault runs, shared by the quick pytest versions and `python -m tests.faults --full`.
Each returns its figures; each raises AssertionError when a case was lost, doubled or stuck."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from temporalio.worker import Worker

from returns_client import Refused
from store.event_store import EventStore
from tests.faults.harness import (
    Figures,
    Run,
    Script,
    Stack,
    chaos,
    check,
    check_case,
    load_scripts,
    until_answered,
)
from tests.faults.probe import TimerProbe


@dataclass(frozen=True)
class Sizes:
    """How hard a run breaks things: QUICK for CI, FULL for `python -m tests.faults --full`."""

    die_on_effect: int  # the worker kills itself right after every N-th ledger write
    crash_cases: int
    kill_gap: float  # mean seconds between random SIGKILLs
    concurrency: int
    pg_cases: int
    pg_outages: int
    temporal_cases: int
    temporal_restarts: int
    race_rounds: int


# Since message-outbox a case makes about one effect call (its money or goods), not three: a
# worker dies on every 4th (every 3rd in the full run), so it still dies that way between random
# kills on a loaded machine.
QUICK = Sizes(4, 16, 6.0, 25, 20, 2, 6, 1, 2)
FULL = Sizes(3, 200, 4.0, 25, 60, 5, 20, 3, 10)


@dataclass
class Report:
    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CrashFigures(Report):
    cases: int
    random_kills: int
    kills_after_effect: int
    restarts: int
    effects_checked: int
    events_checked: int
    seconds: float


async def crashes(s: Stack, size: Sizes, seed: int) -> CrashFigures:
    """Past cases driven while the worker is SIGKILLed every ~kill_gap seconds (and kills itself
    right after every N-th ledger write, see tests/faults/worker.py), then checked."""
    cases, kill_gap, concurrency = size.crash_cases, size.kill_gap, size.concurrency
    began = time.monotonic()
    rng = random.Random(seed)
    scripts = load_scripts()
    chosen = [scripts[n % len(scripts)] for n in range(cases)]
    rng.shuffle(chosen)
    run = Run()
    stop = asyncio.Event()
    s.worker.die_on_effect(size.die_on_effect)
    kills, self_kills = s.worker.kills, len(s.worker.self_kills)
    killer = asyncio.create_task(chaos(s.worker, stop, rng, kill_gap))
    try:
        await run.drive_all(s.returns, chosen, f"crash{seed}-", concurrency)
    finally:
        stop.set()
        await killer
        s.worker.die_on_effect(None)
    figures = await check(run, s.returns, s.pool)
    return CrashFigures(
        cases=figures.cases,
        random_kills=s.worker.kills - kills,
        kills_after_effect=len(s.worker.self_kills) - self_kills,
        restarts=s.worker.kills - kills + len(s.worker.self_kills) - self_kills,  # one after each death
        effects_checked=figures.effects,
        events_checked=figures.events,
        seconds=round(time.monotonic() - began, 1),
    )


def data_dir(base: Path, name: str) -> Path:
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass
class OutageFigures(Report):
    cases: int
    outages: int
    seconds_down: float
    effects_checked: int
    events_checked: int
    seconds: float


async def postgres_outages(s: Stack, size: Sizes, seed: int, down: float = 3.0) -> OutageFigures:
    """PostgreSQL crashes (immediate shutdown) and comes back, `outages` times, while cases run:
    appends and effects retry until it is back, none is lost or doubled."""
    cases, outages, concurrency = size.pg_cases, size.pg_outages, size.concurrency
    began = time.monotonic()
    rng = random.Random(seed)
    scripts = load_scripts()
    chosen = [scripts[rng.randrange(len(scripts))] for _ in range(cases)]
    run = Run()
    driving = asyncio.create_task(run.drive_all(s.returns, chosen, f"pg{seed}-", concurrency))
    downtime = 0.0
    for _ in range(outages):
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        if driving.done():
            break
        s.pg.crash()
        log.info("postgres crashed")
        stopped = time.monotonic()
        await asyncio.sleep(down)
        await asyncio.to_thread(s.pg.start)
        downtime += time.monotonic() - stopped
        log.info("postgres back after %.1fs", time.monotonic() - stopped)
    await driving
    log.info("all cases driven")
    await s.pool.expire_connections()  # the harness's own connections died with the server
    figures = await check(run, s.returns, s.pool)
    log.info("checked")
    return OutageFigures(
        cases=figures.cases,
        outages=outages,
        seconds_down=round(downtime, 1),
        effects_checked=figures.effects,
        events_checked=figures.events,
        seconds=round(time.monotonic() - began, 1),
    )


log = logging.getLogger("tests.faults")
PROBE_SECONDS = 8.0


@dataclass
class TemporalRestartFigures(Report):
    cases: int
    restarts: int
    open_cases_with_timer: int
    probe_timer_seconds: float
    effects_checked: int
    seconds: float


async def temporal_restarts(s: Stack, size: Sizes, seed: int) -> TemporalRestartFigures:
    """The dev server SIGKILLed and restarted on its database file between the steps of open
    cases: every case continues to its scripted end, every open case still has its next timer,
    and a short timer set before the restart fires after it."""
    cases, restarts = size.temporal_cases, size.temporal_restarts
    began = time.monotonic()
    rng = random.Random(seed)
    scripts = [sc for sc in load_scripts() if sc.actions]
    chosen = [scripts[rng.randrange(len(scripts))] for _ in range(cases)]
    run = Run()
    steps = {}
    for n, script in enumerate(chosen):
        return_id, request = script.instance(f"tmp{seed}-{n}")
        run.cases[return_id] = script
        await s.returns.submit(request)
        steps[return_id] = list(script.actions)
    probe_queue = "faults-probe"
    probe_client = s.returns.client
    async with Worker(probe_client, task_queue=probe_queue, workflows=[TimerProbe]):
        for r in range(restarts):
            probe = await probe_client.start_workflow(
                TimerProbe.run, PROBE_SECONDS, id=f"probe-{seed}-{r}", task_queue=probe_queue
            )
            open_with_timer = await _cases_with_pending_timer(s, run)
            log.info("temporal restart %d: %d open cases with a timer", r, len(open_with_timer))
            await asyncio.to_thread(s.temporal.restart, kill=True)
            log.info("temporal restarted")
            assert await _cases_with_pending_timer(s, run) == open_with_timer
            log.info("timers still there")
            waited = float(await until_answered(probe.result))
            assert waited >= PROBE_SECONDS
            log.info("probe timer fired after %.1fs", waited)
            # One step further for every case, then the next restart.
            for return_id in list(steps):
                if steps[return_id]:
                    action, args = steps[return_id].pop(0)
                    await _act(s, run, return_id, action, args)
        log.info("one step further done")
        for return_id, rest in steps.items():
            for action, args in rest:
                await _act(s, run, return_id, action, args)
        log.info("all steps done")
    figures = await check(run, s.returns, s.pool)
    log.info("checked")
    return TemporalRestartFigures(
        cases=figures.cases,
        restarts=restarts,
        open_cases_with_timer=len(open_with_timer),
        probe_timer_seconds=waited,
        effects_checked=figures.effects,
        seconds=round(time.monotonic() - began, 1),
    )


async def _act(s: Stack, run: Run, return_id: str, action: str, args: dict[str, Any]) -> None:
    try:
        await s.returns.act(return_id, action, args)
    except Refused:
        run.refused.setdefault(return_id, []).append(action)


async def _cases_with_pending_timer(s: Stack, run: Run) -> set[str]:
    """Open cases whose history holds a started timer not yet fired or cancelled; every open case
    must have one (its next deadline)."""
    found, open_cases = set(), set()
    for return_id in run.cases:
        handle = s.returns.client.get_workflow_handle(s.returns.case_id(return_id))
        history = await until_answered(handle.fetch_history)
        view = await until_answered(functools.partial(s.returns.status, return_id))
        if view.closed_at is not None:
            continue
        open_cases.add(return_id)
        started: set[str] = set()
        for e in history.events:
            if e.HasField("timer_started_event_attributes"):
                started.add(e.timer_started_event_attributes.timer_id)
            for attr in ("timer_fired_event_attributes", "timer_canceled_event_attributes"):
                if e.HasField(attr):
                    started.discard(getattr(e, attr).timer_id)
        if started:
            found.add(return_id)
    assert found == open_cases, f"open cases without a timer: {open_cases - found}"
    return found


@dataclass
class RaceFigures(Report):
    same_submits: int
    choice_races: int
    cancel_parcel_races: int
    cancel_won: int
    parcel_won: int
    seconds: float


def _script(number: str) -> Script:
    return next(sc for sc in load_scripts() if sc.name.startswith(f"{number}:"))


async def races(s: Stack, size: Sizes, seed: int) -> RaceFigures:
    """Concurrent submits of one return_id (the worker SIGKILLed meanwhile), two choices at once,
    a cancel racing the parcel scan: each ends in one state that its events explain."""
    rounds = size.race_rounds
    began = time.monotonic()
    figures = Figures()
    rc, pool = s.returns, s.pool
    won = {"cancel": 0, "parcel_received": 0}
    for r in range(rounds):
        # 20 submits of the same return_id, with the worker killed while they wait.
        return_id, request = _script("002").instance(f"race{seed}-{r}")
        submits = asyncio.gather(*(rc.submit(request) for _ in range(20)))
        await asyncio.sleep(0.3)
        s.worker.kill()
        views = await submits
        assert len({v.model_dump_json() for v in views}) == 1, "different answers to one return_id"
        events = await EventStore(pool).read_stream(rc.case_id(return_id))
        assert [e.type for e in events] == ["case_assessed", "message_sent"]
        await check_case(rc, pool, return_id, {"status": "awaiting_photos"}, figures)

        # Two different choices at once on a case waiting only for the choice: one wins.
        return_id, request = _script("015").instance(f"race{seed}-{r}")
        await rc.submit(request)
        choices = ("refund", "store_credit", "replacement")
        results = await asyncio.gather(
            *(rc.choose_resolution(return_id, c) for c in choices), return_exceptions=True
        )
        winners = [c for c, x in zip(choices, results, strict=True) if not isinstance(x, BaseException)]
        assert len(winners) == 1 and all(
            isinstance(x, Refused) for x in results if isinstance(x, BaseException)
        )
        view = await check_case(
            rc, pool, return_id, {"status": "resolved", "resolution": winners[0]}, figures
        )
        stored = [e.type for e in await EventStore(pool).read_stream(rc.case_id(return_id))]
        assert stored.count("resolution_chosen") == 1 and stored.count("case_resolved") == 1, stored
        assert len(view.customer_messages) == 2

        # The customer cancels while the warehouse scans the parcel: one of them wins.
        return_id, request = _script("025").instance(f"race{seed}-{r}")
        await rc.submit(request)
        actions = ("cancel", "parcel_received")
        results = await asyncio.gather(*(rc.act(return_id, a, {}) for a in actions), return_exceptions=True)
        winners = [a for a, x in zip(actions, results, strict=True) if not isinstance(x, BaseException)]
        assert len(winners) == 1, results
        won[winners[0]] += 1
        if winners[0] == "cancel":
            expect = {"status": "cancelled", "refunded": "0.00", "customer_messages": ["case_opened"]}
        else:
            expect = {"status": "resolved", "customer_messages": ["case_opened", "case_resolved"]}
        await check_case(rc, pool, return_id, expect, figures)
        stored = [e.type for e in await EventStore(pool).read_stream(rc.case_id(return_id))]
        assert ("case_cancelled" in stored) != ("parcel_received" in stored), stored
    return RaceFigures(
        same_submits=rounds * 20,
        choice_races=rounds,
        cancel_parcel_races=rounds,
        cancel_won=won["cancel"],
        parcel_won=won["parcel_received"],
        seconds=round(time.monotonic() - began, 1),
    )


@dataclass
class TwoUpdatesFigures(Report):
    death: str
    updates_in_one_task: int
    task_attempts_lost: int
    events_checked: int
    seconds: float


async def two_updates_in_one_task(s: Stack, size: Sizes, seed: int) -> TwoUpdatesFigures:
    """A choice and the parcel scan reach the worker in one workflow task (sent while no worker
    runs); the worker dies right after the task's second append committed, before the task
    completed. The retried task decides both again: each handler must adopt its own recorded
    batch, no more, so both actions succeed and the case ends exactly as its script says."""
    began = time.monotonic()
    script = _script("014")  # choose_resolution store_credit, then parcel_received
    return_id, request = script.instance(f"two{seed}")
    rc = s.returns
    await rc.submit(request)
    async with s.worker.paused():
        actions = [asyncio.create_task(rc.act(return_id, a, args)) for a, args in script.actions]
        await asyncio.sleep(3)  # both updates wait at the server for the next worker
        death = await s.worker.run_until_killed(FAULTS_DIE_AFTER_APPEND="2")
        log.info("worker died: %s", death)
    results = await asyncio.gather(*actions, return_exceptions=True)
    actions_done = zip(script.actions, results, strict=True)
    failed = [f"{a}: {x!r}" for (a, _), x in actions_done if isinstance(x, BaseException)]
    assert not failed, failed
    figures = Figures()
    await check_case(rc, s.pool, return_id, script.expect, figures)

    # The history shows the setting: both updates accepted by one completed task, after an
    # attempt of it that never completed.
    history = await until_answered(rc.client.get_workflow_handle(rc.case_id(return_id)).fetch_history)
    completed, accepted_by, lost = 0, [], 0
    for e in history.events:
        if e.HasField("workflow_task_completed_event_attributes"):
            completed += 1
        elif e.HasField("workflow_execution_update_accepted_event_attributes"):
            accepted_by.append(completed)
        elif e.HasField("workflow_task_timed_out_event_attributes") or e.HasField(
            "workflow_task_failed_event_attributes"
        ):
            lost += 1
    assert len(accepted_by) == 3 and accepted_by[1] == accepted_by[2], accepted_by  # submit, then both
    assert lost >= 1, "no workflow task attempt was lost"
    return TwoUpdatesFigures(
        death=death.split(" ", 1)[1],
        updates_in_one_task=accepted_by.count(accepted_by[-1]),
        task_attempts_lost=lost,
        events_checked=figures.events,
        seconds=round(time.monotonic() - began, 1),
    )
