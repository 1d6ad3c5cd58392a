"""RetentionSweep: personal data is kept no longer than needed (GDPR Art. 5(1)(e)). Run daily by
the Temporal schedule `personal-data-retention` (the worker keeps it in line with
RETURNS_PERSONAL_DATA_RETENTION_DAYS); it starts an EraseCustomer (actor `retention`) for every
customer whose cases all closed more than that many days ago. Each erasure runs on its own
(a child that outlives the sweep); one already running for a customer is left to finish."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.retention import Expired, RetentionActivities
    from workflows.erase_customer import EraseCustomer, EraseCustomerWorkflow, erase_workflow_id

RETENTION_WORKFLOW = "RetentionSweep"
SCHEDULE_ID = "personal-data-retention"
RETENTION_ENV = "RETURNS_PERSONAL_DATA_RETENTION_DAYS"
RETENTION_ACTOR = "retention"


class Sweep(BaseModel):
    days: int = Field(ge=0)


class Swept(BaseModel):
    started: list[str]  # customer ids whose erasure this sweep started
    already_running: list[str]


def retention_reason(days: int) -> str:
    return f"{RETENTION_ENV}={days}: every case closed more than {days} days ago"


@workflow.defn(name=RETENTION_WORKFLOW)
class RetentionSweepWorkflow:
    @workflow.run
    async def run(self, sweep: Sweep) -> Swept:
        customers = await workflow.execute_activity_method(
            RetentionActivities.expired_customers,
            Expired(days=sweep.days),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
        out = Swept(started=[], already_running=[])
        for customer_id in customers:
            try:
                await workflow.start_child_workflow(
                    EraseCustomerWorkflow.run,
                    EraseCustomer(
                        customer_id=customer_id, actor=RETENTION_ACTOR, reason=retention_reason(sweep.days)
                    ),
                    id=erase_workflow_id(customer_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                )
                out.started.append(customer_id)
            except WorkflowAlreadyStartedError:
                out.already_running.append(customer_id)
        return out
