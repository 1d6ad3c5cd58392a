"""The steps of erasing a customer (GDPR Art. 17), each an idempotent activity: a retried step,
or the workflow resumed after its worker was SIGKILLed, finds its own work done and does nothing
twice. The workflow (workflows/erase_customer.py) runs them in this order:

1. check_erasable      refuse (non-retryable "Refused") while any case of theirs is open
2. record_tombstone    erased_customers: who, why, when, and the pseudonym (made once)
3. clear_personal_rows stored mails (outbox), webhook payloads, stored API answers of the cases
4. anonymise_rows      read model and ledgers: customer id -> pseudonym, amounts kept
5. delete_executions   the cases' Temporal executions, until the server says not found
6. forget_keys         the customer's data keys made before the tombstone: every field sealed
                       under them becomes unreadable (a case opened meanwhile has a new key)
7. record_erased       the audited `customer_erased` event on stream customer-<id>

The keys go last of the data steps: steps 3 to 5 may still need the clear data (today they do
not read it, but a blob store's photo references would be sealed). No step ever writes personal
data into its inputs or results: they carry ids and counts only, so the erasure's own history
holds nothing to erase.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
from pydantic import BaseModel
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DescribeWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.customer import (
    CustomerErased,
    ErasureCounts,
    customer_event_to_json,
    customer_stream,
    erased_event_id,
    pseudonym,
)
from domain.personal import ERASED_EMAIL, ERASED_TEXT
from payload.codec import data_dir
from photos.port import PhotoStore
from photos.settings import photo_store_from_env
from store.event_store import EventStore, NewEvent
from store.personal_data import PersonalData, vacuum_keys
from workflows.interface import workflow_id
from workflows.search_attributes import CUSTOMER_ID

REFUSED = "Refused"


class KeyStore(Protocol):
    """What erasure needs of the key store (store.personal_data.PersonalData)."""

    async def forget(self, conn: asyncpg.Pool, customer_id: str) -> int: ...


class Customer(BaseModel):
    customer_id: str


class Erasable(BaseModel):
    """The customer's cases, all closed: their return ids and the Temporal executions to delete."""

    return_ids: list[str]
    workflow_ids: list[str]


class Tombstone(BaseModel):
    customer_id: str
    actor: str
    reason: str
    erasure_id: str


class Recorded(BaseModel):
    pseudonym: str
    erased_at: datetime


class Cases(BaseModel):
    customer_id: str
    pseudonym: str
    return_ids: list[str]


class Executions(BaseModel):
    workflow_ids: list[str]


class Erased(BaseModel):
    customer_id: str
    erasure_id: str
    pseudonym: str
    actor: str
    reason: str
    return_ids: list[str]
    counts: ErasureCounts


async def _describe_status(client: Client, wid: str) -> WorkflowExecutionStatus.ValueType | None:
    """The status of the latest run of `wid`, or None when the server has no such execution."""
    try:
        resp = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=wid)
            )
        )
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return resp.workflow_execution_info.status


async def _visible_cases(client: Client, customer_id: str, running_only: bool) -> list[str]:
    """Workflow ids of the customer's cases by the CustomerId search attribute (a case that has
    not reached the read model yet is there too). Empty where visibility cannot answer."""
    query = f'{CUSTOMER_ID.name} = "{_quoted(customer_id)}"'
    if running_only:
        query += ' AND ExecutionStatus = "Running"'
    try:
        return sorted({w.id async for w in client.list_workflows(query)})
    except RPCError as e:
        activity.logger.warning("erasure: visibility query refused (%s); the read model decides", e.message)
        return []


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class ErasureActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        keys: KeyStore | None = None,
        client: Client | None = None,
        photos: PhotoStore | None = None,
    ) -> None:
        """`keys`: the key store, by default the process's master keys (PersonalData.from_env);
        none: nothing was sealed, so there is no key to delete. `photos`: the customers' photos,
        by default the store RETURNS_PHOTO_STORE names."""
        self._pool = pool
        self._photos = photos if photos is not None else photo_store_from_env(data_dir())
        self._keys: KeyStore | None = keys if keys is not None else PersonalData.from_env(pool)
        self._client = client  # tests may pass one; otherwise the worker's (activity.client())

    def _temporal(self) -> Client:
        return self._client or activity.client()

    @activity.defn
    async def check_erasable(self, c: Customer) -> Erasable:
        """Every case of the customer closed in the read model and none of their ReturnCase
        workflows running; otherwise a non-retryable Refused naming the open cases. Cases already
        anonymised by an earlier, interrupted erasure (their pseudonym) count as theirs."""
        rows = await self._pool.fetch(
            "select return_id, status, closed_at from return_cases where customer_id = $1"
            " or customer_id = (select pseudonym from erased_customers where customer_id = $1)"
            " order by opened_at, return_id",
            c.customer_id,
        )
        client = self._temporal()
        open_cases = {r["return_id"]: r["status"] for r in rows if r["closed_at"] is None}
        workflow_ids = {workflow_id(r["return_id"]): r["return_id"] for r in rows}
        for wid in await _visible_cases(client, c.customer_id, running_only=False):
            workflow_ids.setdefault(wid, wid.removeprefix(workflow_id("")))
        for wid, rid in workflow_ids.items():
            if rid not in open_cases and await _describe_status(client, wid) == (
                WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
            ):
                open_cases[rid] = "running"
        if open_cases:
            listed = ", ".join(f"{rid} ({status})" for rid, status in sorted(open_cases.items()))
            raise ApplicationError(
                f"erase refused for customer {c.customer_id}: open cases {listed}; "
                "a customer is erased once every case of theirs is closed",
                sorted(open_cases),
                type=REFUSED,
                non_retryable=True,
            )
        return Erasable(
            return_ids=sorted({r["return_id"] for r in rows} | set(workflow_ids.values())),
            workflow_ids=sorted(workflow_ids),
        )

    @activity.defn
    async def record_tombstone(self, t: Tombstone) -> Recorded:
        """The tombstone: inserted, or renewed by a later erasure (a customer who came back);
        the same erasure retried changes nothing. The pseudonym is made once per customer."""
        row = await self._pool.fetchrow(
            """
insert into erased_customers (customer_id, erased_at, actor, reason, pseudonym, erasure_id)
values ($1, now(), $2, $3, $4, $5)
on conflict (customer_id) do update set
    erased_at = now(), actor = excluded.actor, reason = excluded.reason,
    pseudonym = coalesce(erased_customers.pseudonym, excluded.pseudonym),
    erasure_id = excluded.erasure_id
where erased_customers.erasure_id is distinct from excluded.erasure_id
"""
            + " returning pseudonym, erased_at",
            t.customer_id,
            t.actor,
            t.reason,
            pseudonym(t.erasure_id),
            t.erasure_id,
        )
        if row is None:  # this erasure wrote it already
            row = await self._pool.fetchrow(
                "select pseudonym, erased_at from erased_customers where customer_id = $1", t.customer_id
            )
        return Recorded(pseudonym=row["pseudonym"], erased_at=row["erased_at"])

    @activity.defn
    async def clear_personal_rows(self, c: Cases) -> ErasureCounts:
        """Stored mails keep their row (what was sent, when: the effect's idempotency key) with
        the address, data and text at their erased values and the sealed copy dropped (rows
        written before sealing held them in the clear), and one not yet sent is never sent
        (erased); webhook payloads of the cases become a
        stub naming the event, and a message not yet sent fails (as the sender fails one whose
        key is gone); stored API answers about the cases held in the clear (written before
        sealing) are deleted; sealed ones become unreadable with the key (a retry answers 410).
        The photos the portal stored for the cases are deleted from the photo store (their
        references stay inside the sealed events, unreadable once the key is gone); a retry
        finds them gone and counts 0."""
        async with self._pool.acquire() as conn, conn.transaction():
            outbox = await conn.execute(
                "update outbox set email = $2, data = '{}'::jsonb, text = $3, sealed = null,"
                " state = case when state = 'queued' then 'erased' else state end"
                " where return_id = any($1::text[])"
                " and (sealed is not null or email <> $2 or text <> $3 or data <> '{}'::jsonb)",
                c.return_ids,
                ERASED_EMAIL,
                ERASED_TEXT,
            )
            webhooks = await conn.execute(
                "update webhook_messages set payload = jsonb_build_object("
                " 'type', event_type, 'data', jsonb_build_object('return_id', return_id, 'erased', true)),"
                " status = case when status = 'pending' then 'failed' else status end"
                " where return_id = any($1::text[])"
                " and not coalesce((payload->'data'->>'erased')::bool, false)",
                c.return_ids,
            )
            answers = await conn.execute(
                "delete from api_idempotency where response->>'return_id' = any($1::text[])", c.return_ids
            )
        photos = 0
        for return_id in c.return_ids:  # keys are "<return_id>/<line_id>/<hash>.<ext>"
            photos += await self._photos.delete_prefix(f"{return_id}/")
        return ErasureCounts(
            outbox_messages=_count(outbox),
            webhook_messages=_count(webhooks),
            idempotency_answers=_count(answers),
            photos=photos,
        )

    @activity.defn
    async def anonymise_rows(self, c: Cases) -> ErasureCounts:
        """The read model's rows and the ledgers' customer ids of the cases -> the pseudonym.
        Amounts, payment methods and references stay (the books keep them). The store credit of
        the cases moves from the customer's balance to the pseudonym's in the same transaction
        as its ledger rows, so it moves once and the balance stays the sum of its ledger."""
        async with self._pool.acquire() as conn, conn.transaction():
            cases = await conn.execute(
                "update return_cases set customer_id = $2, updated_at = now()"
                " where return_id = any($1::text[]) and customer_id = $3",
                c.return_ids,
                c.pseudonym,
                c.customer_id,
            )
            outbox = await conn.execute(
                "update outbox set customer_id = $2 where return_id = any($1::text[]) and customer_id = $3",
                c.return_ids,
                c.pseudonym,
                c.customer_id,
            )
            moved = await conn.fetch(
                "update store_credits set customer_id = $2"
                " where return_id = any($1::text[]) and customer_id = $3 returning amount",
                c.return_ids,
                c.pseudonym,
                c.customer_id,
            )
            # The customer's redemptions of that credit go with it (the shop's references stay),
            # so each balance stays its grants less its redemptions.
            redeemed = await conn.fetch(
                "update store_credit_redemptions set customer_id = $2"
                " where customer_id = $1 returning amount",
                c.customer_id,
                c.pseudonym,
            )
            balances = 0
            if moved or redeemed:
                amount = sum(r["amount"] for r in moved) - sum(r["amount"] for r in redeemed)
                await conn.execute(
                    "update customer_balances set balance = balance - $2 where customer_id = $1",
                    c.customer_id,
                    amount,
                )
                await conn.execute(
                    "delete from customer_balances where customer_id = $1 and balance = 0", c.customer_id
                )
                await conn.execute(
                    "insert into customer_balances (customer_id, balance) values ($1, $2)"
                    " on conflict (customer_id) do update"
                    " set balance = customer_balances.balance + excluded.balance",
                    c.pseudonym,
                    amount,
                )
                balances = 1
        del outbox  # the outbox rows are counted by clear_personal_rows
        return ErasureCounts(cases=_count(cases), store_credits=len(moved), balances=balances)

    @activity.defn
    async def delete_executions(self, e: Executions) -> int:
        """Delete each closed execution and wait until the server answers not found (deletion is
        asynchronous: a few seconds on the embedded dev server, up to about 40 s on a server with the
        default 30 s acknowledgement interval). Returns how many were there."""
        client = self._temporal()
        deleted = 0
        pending = set(e.workflow_ids)
        requested: set[str] = set()
        deadline = time.monotonic() + 600
        while pending:
            for wid in sorted(pending):
                status = await _describe_status(client, wid)
                if status is None:
                    pending.discard(wid)
                    continue
                if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
                    # Checked closed in step 1; a case's workflow may finish its last effect late.
                    raise ApplicationError(f"{wid} is still running; retried")
                if wid not in requested:
                    try:
                        await client.workflow_service.delete_workflow_execution(
                            DeleteWorkflowExecutionRequest(
                                namespace=client.namespace,
                                workflow_execution=WorkflowExecution(workflow_id=wid),
                            )
                        )
                    except RPCError as err:
                        if err.status != RPCStatusCode.NOT_FOUND:
                            raise
                    requested.add(wid)
                    deleted += 1
            activity.heartbeat(len(pending))
            if pending:
                if time.monotonic() > deadline:
                    raise ApplicationError(f"executions not deleted yet: {sorted(pending)}; retried")
                await asyncio.sleep(2)
        return deleted

    @activity.defn
    async def forget_keys(self, c: Customer) -> int:
        """Delete the customer's data keys: every field sealed under them reads as erased. Then
        VACUUM FULL the small key table, so the deleted rows leave its files too (the wrapped
        keys stay in old WAL and backups until their master key is rotated away)."""
        if self._keys is None:
            return 0
        forgotten = await self._keys.forget(self._pool, c.customer_id)
        await vacuum_keys(self._pool)
        return forgotten

    @activity.defn
    async def record_erased(self, e: Erased) -> bool:
        """Append customer_erased to the customer's stream once: False when this erasure's
        event is already recorded."""
        event_id = erased_event_id(e.customer_id, e.erasure_id)
        stream = customer_stream(e.customer_id)
        if await self._pool.fetchval("select true from events where event_id = $1", event_id):
            return False
        version = await self._pool.fetchval("select version from streams where stream_id = $1", stream)
        event = CustomerErased(
            at=datetime.now(UTC),
            customer_id=e.customer_id,
            pseudonym=e.pseudonym,
            actor=e.actor,
            reason=e.reason,
            return_ids=tuple(e.return_ids),
            counts=e.counts,
        )
        await EventStore(self._pool).append(
            stream,
            version or 0,
            [NewEvent(event_id=event_id, type=event.type, data=customer_event_to_json(event))],
        )
        return True


def _count(status: str) -> int:
    """The row count of an asyncpg command status ("UPDATE 3", "DELETE 0")."""
    return int(status.split()[-1])
