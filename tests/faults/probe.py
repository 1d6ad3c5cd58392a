"""A workflow that only waits on a timer: it shows the dev server fires a timer it persisted in its
database file before a restart (ReturnCase timers are day-scale; see docs/reliability.md).

PYTEST_DONT_REWRITE: the workflow sandbox imports this module afresh on a worker thread for every
run, and pytest's assertion rewriting would parse it there with `ast` while the main thread parses
source for a failure report; CPython 3.11.7 shares the ast module's recursion counter between
threads, and the report then dies with "AST constructor recursion depth mismatch", taking the
whole run down (an INTERNALERROR) instead of showing the failure."""

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
