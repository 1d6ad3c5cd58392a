"""Clients call the workflow by the names in workflows.interface, never importing the workflow:
those names must be exactly the ones the workflow registers."""

from __future__ import annotations

from temporalio import workflow

from workflows import interface as wf
from workflows.return_case import ReturnCaseWorkflow


def test_the_interface_names_every_update_query_and_signal_of_the_workflow() -> None:
    defn = workflow._Definition.from_class(ReturnCaseWorkflow)
    assert defn is not None and defn.name == wf.WORKFLOW
    updates = {
        wf.SUBMIT,
        wf.SUBMIT_PHOTOS,
        wf.CHOOSE_RESOLUTION,
        wf.PARCEL_RECEIVED,
        wf.INSPECTION_RESULT,
        wf.REPAIR_COMPLETED,
        wf.CANCEL,
        wf.OVERRIDE,
        wf.RECORD_FACT,
    }
    assert set(defn.updates) == updates
    assert set(defn.queries) == {wf.VIEW}
    assert set(defn.signals) == {wf.REQUEST_OVERRIDE}
