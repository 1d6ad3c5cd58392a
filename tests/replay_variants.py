"""Two variants of the ReturnCase workflow for tests/test_replay.py, under the same workflow name:
the same change made wrongly and rightly. A module of their own: the replayer's sandbox imports
a workflow's module afresh for every history, so it is kept small. PYTEST_DONT_REWRITE: that
import runs on a worker thread, where pytest's rewriting would parse it with `ast` while the
main thread may be parsing a failure report (see tests/faults/probe.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.view import CaseView
    from workflows.interface import StartCase
    from workflows.return_case import ReturnCaseWorkflow


@workflow.defn(name="ReturnCase")
class IncompatibleReturnCase(ReturnCaseWorkflow):
    """An engineer adds a step before the case is opened (a timer) without workflow.patched."""

    @workflow.run
    async def run(self, start: StartCase) -> CaseView:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


@workflow.defn(name="ReturnCase")
class PatchedReturnCase(ReturnCaseWorkflow):
    """The same change as it must be made: histories from before it take the old path."""

    @workflow.run
    async def run(self, start: StartCase) -> CaseView:
        if workflow.patched("pause-before-opening"):
            await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)
