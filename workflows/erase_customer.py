"""EraseCustomer: erase a customer (GDPR Art. 17) once every case of theirs is closed. One per
customer at a time (id `erase-<customer_id>`); its input and results hold ids, counts, the
actor and the reason, never personal data. The steps are activities/erasure.py's, in its order;
each is idempotent, so a worker killed at any point leaves a workflow that the next worker
carries on from the last step it recorded, and a step cut off half-way does its rest again.
A refusal (an open case) fails the workflow before anything is changed."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field, model_validator
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.erasure import (
        REFUSED,
        Cases,
        Customer,
        Erasable,
        Erased,
        ErasureActivities,
        Executions,
        Tombstone,
    )
    from domain.customer import ErasureCounts

ERASE_WORKFLOW = "EraseCustomer"
STEP = timedelta(seconds=60)
# Steps retry until they succeed (the database or Temporal may be away for a while); a refusal
# does not.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[REFUSED],
)


def erase_workflow_id(customer_id: str) -> str:
    return f"erase-{customer_id}"


class EraseCustomer(BaseModel):
    customer_id: str = Field(min_length=1, max_length=100)
    actor: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _storable(self) -> EraseCustomer:
        # PostgreSQL text holds no NUL: refused here, or a step would retry for ever.
        for name in ("customer_id", "actor", "reason"):
            if "\x00" in getattr(self, name) or not getattr(self, name).strip():
                raise ValueError(f"{name}: must not be blank or contain NUL characters")
        return self


class ErasureSummary(BaseModel):
    customer_id: str
    pseudonym: str
    actor: str
    reason: str
    return_ids: list[str]
    counts: ErasureCounts
    recorded: bool  # False: this erasure's customer_erased event was recorded before


@workflow.defn(name=ERASE_WORKFLOW)
class EraseCustomerWorkflow:
    @workflow.run
    async def run(self, req: EraseCustomer) -> ErasureSummary:
        customer = Customer(customer_id=req.customer_id)
        erasable = await workflow.execute_activity_method(
            ErasureActivities.check_erasable, customer, start_to_close_timeout=STEP, retry_policy=RETRY
        )
        # Made once, recorded in history: the same erasure id on every retry and replay.
        erasure_id = str(workflow.uuid4())
        tomb = await workflow.execute_activity_method(
            ErasureActivities.record_tombstone,
            Tombstone(customer_id=req.customer_id, actor=req.actor, reason=req.reason, erasure_id=erasure_id),
            start_to_close_timeout=STEP,
            retry_policy=RETRY,
        )
        # A case the customer opens while this runs is sealed under a new key (the tombstone
        # condemns only the keys made before it) and is not among these cases: it stays theirs.
        counts = await self._erase_cases(req.customer_id, tomb.pseudonym, erasable)
        keys = await workflow.execute_activity_method(
            ErasureActivities.forget_keys, customer, start_to_close_timeout=STEP, retry_policy=RETRY
        )
        counts = counts + ErasureCounts(data_keys=keys)
        erased = Erased(
            customer_id=req.customer_id,
            erasure_id=erasure_id,
            pseudonym=tomb.pseudonym,
            actor=req.actor,
            reason=req.reason,
            return_ids=erasable.return_ids,
            counts=counts,
        )
        recorded = await workflow.execute_activity_method(
            ErasureActivities.record_erased, erased, start_to_close_timeout=STEP, retry_policy=RETRY
        )
        return ErasureSummary(
            customer_id=req.customer_id,
            pseudonym=tomb.pseudonym,
            actor=req.actor,
            reason=req.reason,
            return_ids=erasable.return_ids,
            counts=counts,
            recorded=recorded,
        )

    async def _erase_cases(self, customer_id: str, pseudonym: str, erasable: Erasable) -> ErasureCounts:
        """Steps 3 to 5 for these cases: personal rows cleared, rows anonymised, executions gone."""
        cases = Cases(customer_id=customer_id, pseudonym=pseudonym, return_ids=erasable.return_ids)
        cleared = await workflow.execute_activity_method(
            ErasureActivities.clear_personal_rows, cases, start_to_close_timeout=STEP, retry_policy=RETRY
        )
        anonymised = await workflow.execute_activity_method(
            ErasureActivities.anonymise_rows, cases, start_to_close_timeout=STEP, retry_policy=RETRY
        )
        executions = await workflow.execute_activity_method(
            ErasureActivities.delete_executions,
            Executions(workflow_ids=erasable.workflow_ids),
            start_to_close_timeout=timedelta(minutes=15),
            heartbeat_timeout=timedelta(seconds=20),
            retry_policy=RETRY,
        )
        return cleared + anonymised + ErasureCounts(executions=executions)
