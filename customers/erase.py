"""Start (or join) a customer's erasure and wait for it: the one call the HTTP API, the CLI and
tests make. The EraseCustomer workflow (id `erase-<customer_id>`) does the work."""

from __future__ import annotations

from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, FailureError

from activities.erasure import REFUSED
from workflows.erase_customer import ERASE_WORKFLOW, EraseCustomer, ErasureSummary, erase_workflow_id
from workflows.interface import TASK_QUEUE


class ErasureRefused(Exception):
    """A case of the customer is still open: nothing was changed."""

    def __init__(self, message: str, open_cases: list[str]) -> None:
        super().__init__(message)
        self.open_cases = open_cases


def _refusal(e: BaseException) -> ApplicationError | None:
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type == REFUSED:
            return cause
        cause = cause.cause if isinstance(cause, WorkflowFailureError | FailureError) else None
    return None


async def erase_customer(
    client: Client, customer_id: str, *, actor: str, reason: str, task_queue: str = TASK_QUEUE
) -> ErasureSummary:
    """Erase the customer once every case of theirs is closed. An erasure of the customer already
    running is joined (its answer); a finished one runs again (a customer who came back, or a
    retry: every step finds its work done). Raises ErasureRefused while a case is open."""
    req = EraseCustomer(customer_id=customer_id, actor=actor, reason=reason)
    handle = await client.start_workflow(
        ERASE_WORKFLOW,
        req,
        id=erase_workflow_id(customer_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        result_type=ErasureSummary,
    )
    try:
        summary: ErasureSummary = await handle.result()
        return summary
    except WorkflowFailureError as e:
        refusal = _refusal(e)
        if refusal is None:
            raise
        details = refusal.details[0] if refusal.details else []
        raise ErasureRefused(refusal.message, [str(d) for d in details]) from None
