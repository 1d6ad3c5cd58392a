"""The effect registry (domain/effect_registry.py): every effect type reaches an activity that takes
it, and an effect type it does not map fails loudly (mypy, the decider, the workflow task) and is
never recorded as done."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import typing
import uuid
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Literal

import asyncpg
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

import domain.case
from activities.effects import EffectActivities
from domain import commands as cmd
from domain import events as ev
from domain.case import ReturnCase
from domain.decider import decide
from domain.effect_registry import route
from domain.effects import (
    CustomerMessage,
    Effect,
    LicenceRevocation,
    Refund,
    RepairOrder,
    Replacement,
    StoreCredit,
    _Effect,
)
from domain.request import parse_request
from domain.view import CaseView
from policies import DEFAULT_POLICY_FILE
from stack.embedded import time_skipping_server
from store.event_store import EventStore
from store.read_model import get_case
from tests.domain.helpers import T0, Driver
from tests.workflow.test_return_case import ledger_count, toner
from worker import build_worker
from workflows.interface import StartCase, workflow_id
from workflows.return_case import ReturnCaseWorkflow

ROOT = Path(__file__).resolve().parents[2]
ONE_OF_EACH: list[Effect] = [
    Refund(
        key="k1", return_id="R-1", amount=Decimal("39.95"), payment_method="ideal", payment_reference="tr_1"
    ),
    StoreCredit(key="k2", return_id="R-1", customer_id="C-42", amount=Decimal("10.00")),
    Replacement(key="k3", return_id="R-1", order_id="O-1", line_ids=("L1", "L2")),
    RepairOrder(key="k6", return_id="R-1", order_id="O-1", line_ids=("L1",)),
    LicenceRevocation(key="k4", return_id="R-1", order_id="O-1", line_id="L3", sku="AV-1"),
    CustomerMessage(
        key="k5", return_id="R-1", customer_id="C-42", email="a@b.nl", template="reminder", data={}
    ),
]


class Voucher(_Effect):
    """An effect type the domain might grow, not mapped in the registry."""

    effect: Literal["voucher"] = "voucher"


def test_one_of_each_covers_the_effect_union() -> None:
    union = typing.get_args(typing.get_args(Effect)[0])
    assert {type(e) for e in ONE_OF_EACH} == set(union)


@pytest.mark.parametrize("effect", ONE_OF_EACH, ids=lambda e: e.effect)
def test_each_effect_reaches_an_activity_that_takes_it(effect: Effect) -> None:
    r = route(effect)
    method = getattr(EffectActivities, r.activity)
    assert activity._Definition.must_from_callable(method).name == r.activity  # the registered name
    assert typing.get_type_hints(method)["e"] is type(effect)
    done = r.done(T0)
    assert (done.key, done.at) == (effect.key, T0)
    assert r.summary


def test_summaries_read_as_ops_see_them() -> None:
    assert [route(e).summary for e in ONE_OF_EACH] == [
        "Refund €39.95 to ideal tr_1",
        "Store credit €10.00 for C-42",
        "Replacement order for L1, L2",
        "Repair order for L1",
        "Revoke licence AV-1 (L3)",
        "Message reminder to the customer",
    ]


def test_an_unmapped_effect_is_never_decided_done() -> None:
    voucher = Voucher(key="return-test:1:voucher", return_id="R-1001")
    with pytest.raises(AssertionError, match="Expected code to be unreachable"):
        route(voucher)  # type: ignore[arg-type]
    case = Driver(parse_request(toner())).case
    assert case is not None
    case = case.model_copy(update={"pending_effects": (voucher, *case.pending_effects)})
    with pytest.raises(AssertionError, match="voucher"):
        decide(case, cmd.EffectDone(key=voucher.key), T0)


@pytest.mark.slow
def test_mypy_fails_when_an_effect_type_is_added_and_not_mapped(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "domain", tmp_path / "domain")
    effects = tmp_path / "domain" / "effects.py"
    source = effects.read_text()
    assert "| CustomerMessage,\n" in source
    effects.write_text(
        source.replace("| CustomerMessage,\n", "| CustomerMessage | Voucher,\n")
        + '\n\nclass Voucher(_Effect):\n    effect: Literal["voucher"] = "voucher"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "domain"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout
    assert "domain/effect_registry.py" in done.stdout and "assert_never" in done.stdout, done.stdout


async def _first_task_failure(handle: WorkflowHandle[ReturnCaseWorkflow, CaseView]) -> str:
    for _ in range(300):
        async for e in handle.fetch_history_events():
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return e.workflow_task_failed_event_attributes.failure.message
        await asyncio.sleep(0.1)
    raise AssertionError("the workflow task never failed")


async def test_an_unmapped_effect_fails_the_workflow_task_and_is_not_recorded_done(
    session_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case opens calling for a Voucher before its first message: the task fails on it (and
    keeps failing: ops see it in the UI), and neither the voucher nor the message behind it is
    carried out or recorded."""
    calls_for = domain.case._calls_for

    def with_voucher(case: ReturnCase, e: ev.Event, done: Collection[str]) -> list[Effect]:
        effects = calls_for(case, e, done)
        if isinstance(e, ev.CaseAssessed):
            voucher = Voucher(key=f"{case.case_id}:{case.version}:voucher", return_id=case.return_id)
            effects.insert(0, voucher)  # type: ignore[arg-type]
        return effects

    monkeypatch.setattr(domain.case, "_calls_for", with_voucher)  # domain is passed through the sandbox
    task_queue = f"unmapped-{uuid.uuid4()}"
    req = toner()
    # A server of its own: on the session's, the timer tests run after this one timed out in
    # env.sleep (the test server no longer skipped time once a workflow task had failed).
    async with time_skipping_server() as env:
        # A client as production has it: the test environment's own turns an AssertionError in a
        # workflow into a failed workflow, where a worker fails the workflow task and retries it.
        client = Client(env.client.service_client, data_converter=env.client.data_converter)
        async with build_worker(client, session_pool, DEFAULT_POLICY_FILE, task_queue):
            handle = await client.start_workflow(
                ReturnCaseWorkflow.run,
                StartCase(request=parse_request(req)),
                id=workflow_id(req["return_id"]),
                task_queue=task_queue,
            )
            try:
                failure = await _first_task_failure(handle)
            finally:
                await handle.terminate("test over")
    assert "Expected code to be unreachable" in failure and "voucher" in failure
    events = await EventStore(session_pool).read_stream(workflow_id(req["return_id"]))
    assert [e.type for e in events] == ["case_assessed"]  # no done event, for either effect
    row = await get_case(session_pool, req["return_id"])
    assert row is not None and (row.stream_version, row.customer_messages) == (1, ())
    assert await ledger_count(session_pool, "outbox", req["return_id"]) == 0
