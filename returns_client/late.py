"""Late facts: what the service learns of a case after it may have closed (a message the mail
server refused for good, the shop's order id for a replacement). `tell_case` delivers one to the
case whether its workflow still runs or not.

- Running: the workflow's `record_fact` update, which decides on the workflow's state (a refused
  fact is rejected by the validator, before history).
- Completed (or gone from Temporal, or completing meanwhile): the workflow no longer appends, so
  this folds the stored stream, decides, and appends at the folded version with the read-model
  row in the same statement, as the workflow's append does; a version conflict reads again.

Not part of the shop's client package (`returns_client/__init__` does not import it): it needs
the service's database. The API, the relays and tests use it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.event_store import fold_stored
from domain import commands as cmd
from domain.case import ReturnCase, fold
from domain.decider import Refused as DomainRefused
from domain.decider import decide
from domain.events import event_to_json
from domain.summary import CaseSummary, summarize
from domain.view import CaseView, case_view
from returns_client.client import _retry_transient
from returns_client.errors import CaseNotFound, Refused
from store.event_store import ConcurrencyConflict, EventStore, NewEvent
from store.read_model import case_rider
from workflows import interface as wf

CONFLICT_RETRIES = 20


def fact_id(fact: cmd.LateFact) -> str:
    """The update id of a fact: the same fact sent again is applied once by the server too."""
    match fact:
        case cmd.MessageFailed():
            return f"fact-message_failed-{fact.key}"
        case cmd.ConfirmReplacementOrder():
            return f"fact-replacement_order-{fact.order_id}"
    raise AssertionError(fact)


async def tell_case(client: Client, pool: asyncpg.Pool, return_id: str, fact: cmd.LateFact) -> None:
    """Record a late fact on the case. Raises Refused (nothing changed) when the case does not
    take it, CaseNotFound when there is no such case. The same fact again changes nothing."""
    await record_fact(client, pool, return_id, fact)


async def record_fact(
    client: Client, pool: asyncpg.Pool, return_id: str, fact: cmd.LateFact, *, id_prefix: str = ""
) -> CaseView:
    """tell_case, answering the case view after the fact."""
    case_id = wf.workflow_id(return_id, id_prefix)
    handle = client.get_workflow_handle(case_id)
    try:
        view: CaseView = await _retry_transient(
            lambda: handle.execute_update(wf.RECORD_FACT, fact, id=fact_id(fact), result_type=CaseView)
        )
        return view
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "Refused":
            raise Refused(cause.message) from None
        if not _completed(e):
            raise
    except RPCError as e:
        # The workflow has completed (or Temporal no longer knows it): the stream is the case.
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
    return await append_fact(pool, case_id, fact)


def _completed(e: BaseException) -> bool:
    """An update the workflow never took because it completed first."""
    seen: BaseException | None = e
    while seen is not None:
        if "completed" in str(seen).lower():
            return True
        seen = seen.__cause__
    return False


async def stored_case(pool: asyncpg.Pool, case_id: str, store: EventStore | None = None) -> ReturnCase | None:
    """The case folded from its stored stream (personal fields unsealed)."""
    store = store or EventStore(pool)
    return fold_stored(await store.read_stream(case_id))


async def append_fact(pool: asyncpg.Pool, case_id: str, fact: cmd.LateFact) -> CaseView:
    """The fact decided on the stored stream and appended at its version (for a case whose
    workflow no longer runs). A conflicting append (another late fact at the same moment) reads
    the stream again and decides again."""
    store = EventStore(pool)
    for _ in range(CONFLICT_RETRIES):
        case = await stored_case(pool, case_id, store)
        if case is None:
            raise CaseNotFound(f"no return case {case_id.removeprefix('return-')}")
        try:
            events = decide(case, fact, datetime.now(UTC))
        except DomainRefused as e:
            raise Refused(str(e)) from None
        if not events:
            return case_view(case)
        after = fold(events, case)
        assert after is not None
        row = await _as_erased(pool, summarize(after))
        new = [NewEvent(event_id=uuid.uuid4(), type=e.type, data=event_to_json(e)) for e in events]
        try:
            await store.append(
                case_id, case.version, new, case_rider(row), owner=case.request.order.customer.id
            )
        except ConcurrencyConflict:
            continue
        return case_view(after)
    raise ConcurrencyConflict(f"{case_id}: the stream kept moving; the fact was not recorded")


async def _as_erased(pool: asyncpg.Pool, row: CaseSummary) -> CaseSummary:
    """The row keeps the customer id it has: an erasure put a pseudonym there (the stream still
    names the customer's id), and a late fact must not bring the id back."""
    kept = await pool.fetchval("select customer_id from return_cases where return_id = $1", row.return_id)
    return row if kept is None else row.model_copy(update={"customer_id": kept})
