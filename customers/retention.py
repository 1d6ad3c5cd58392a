"""The retention setting as a Temporal schedule: `personal-data-retention` runs RetentionSweep
daily (overlaps skipped), visible under Schedules in the Web UI. The worker keeps the schedule
in line with RETURNS_PERSONAL_DATA_RETENTION_DAYS at every start: created or updated when set,
deleted when unset (no automatic erasure)."""

from __future__ import annotations

import os
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from workflows.retention_sweep import RETENTION_ENV, RETENTION_WORKFLOW, SCHEDULE_ID, Sweep

SWEEP_EVERY = timedelta(days=1)


class RetentionSettingError(ValueError):
    """RETURNS_PERSONAL_DATA_RETENTION_DAYS is not a whole number of days >= 0."""


def retention_days(value: str | None = None) -> int | None:
    """The setting: None when unset or empty (no automatic erasure)."""
    raw = os.environ.get(RETENTION_ENV) if value is None else value
    if raw is None or raw.strip() == "":
        return None
    try:
        days = int(raw)
    except ValueError:
        raise RetentionSettingError(f"{RETENTION_ENV}: {raw!r} is not a whole number of days") from None
    if days < 0:
        raise RetentionSettingError(f"{RETENTION_ENV}: {days} is negative")
    return days


def retention_schedule(days: int, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RETENTION_WORKFLOW,
            Sweep(days=days),
            id=f"{SCHEDULE_ID}-sweep",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=SWEEP_EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            note=f"{RETENTION_ENV}={days}: erase customers whose cases all closed more than {days} days ago"
        ),
    )


async def ensure_retention_schedule(client: Client, days: int | None, task_queue: str) -> str:
    """Create, update or delete the schedule for the setting; a line saying which."""
    handle = client.get_schedule_handle(SCHEDULE_ID)
    if days is None:
        try:
            await handle.delete()
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            return f"{RETENTION_ENV} unset: no automatic erasure"
        return f"{RETENTION_ENV} unset: schedule {SCHEDULE_ID} deleted, no automatic erasure"
    schedule = retention_schedule(days, task_queue)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        return f"schedule {SCHEDULE_ID}: daily, erases customers {days} days after their last case closed"
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(update)
        return f"schedule {SCHEDULE_ID} updated: erases customers {days} days after their last case closed"
