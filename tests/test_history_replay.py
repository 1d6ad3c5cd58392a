"""Histories recorded by earlier releases of the workflow code replay against today's code.
release-1/ was recorded before search attributes, details and the override signal existed
(their commands sit behind workflow.patched("ops-visibility"))."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from converter import data_converter
from workflows.return_case import ReturnCaseWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("release-*/*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[ReturnCaseWorkflow], data_converter=data_converter())
    await replayer.replay_workflow(history)


def test_release_1_histories_are_there() -> None:
    assert len([p for p in HISTORIES if p.parent.name == "release-1"]) >= 30
