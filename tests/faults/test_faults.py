"""The quick fault runs (see scenarios.py): each fails when a case is lost, doubled or stuck, an
effect is missing or doubled in its ledger, or a stored stream does not fold to the workflow's view."""

from __future__ import annotations

from tests.faults.harness import Stack
from tests.faults.scenarios import (
    PROBE_SECONDS,
    QUICK,
    crashes,
    postgres_outages,
    races,
    temporal_restarts,
    two_updates_in_one_task,
)


async def test_worker_sigkilled_at_random_and_between_effect_and_event(fault_stack: Stack) -> None:
    f = await crashes(fault_stack, QUICK, seed=7)
    print(f.as_dict())
    assert f.cases == QUICK.crash_cases and f.random_kills > 0 and f.kills_after_effect > 0
    assert f.effects_checked > f.cases  # every case sends at least one message


async def test_postgres_crashes_mid_run(fault_stack: Stack) -> None:
    f = await postgres_outages(fault_stack, QUICK, seed=7)
    print(f.as_dict())
    assert f.cases == QUICK.pg_cases and f.seconds_down >= 3.0 * QUICK.pg_outages


async def test_temporal_restarted_on_its_database_file(fault_stack: Stack) -> None:
    f = await temporal_restarts(fault_stack, QUICK, seed=7)
    print(f.as_dict())
    assert f.open_cases_with_timer > 0 and f.probe_timer_seconds >= PROBE_SECONDS


async def test_races_end_in_one_state(fault_stack: Stack) -> None:
    f = await races(fault_stack, QUICK, seed=7)
    print(f.as_dict())
    assert f.cancel_won + f.parcel_won == QUICK.race_rounds


async def test_two_updates_in_one_task_worker_killed_after_the_appends(fault_stack: Stack) -> None:
    f = await two_updates_in_one_task(fault_stack, QUICK, seed=7)
    print(f.as_dict())
    assert f.death.startswith("append ") and f.task_attempts_lost >= 1
