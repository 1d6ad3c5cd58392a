"""A workflow that only waits on a timer: it shows the dev server fires a timer it persisted in its
database file before a restart (ReturnCase timers are day-scale; see docs/reliability.md)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn(name="FaultsTimerProbe")
class TimerProbe:
    @workflow.run
    async def run(self, seconds: float) -> str:
        started = workflow.now()
        await workflow.sleep(timedelta(seconds=seconds), summary="fault test timer")
        return (workflow.now() - started).total_seconds().__repr__()
