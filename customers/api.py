"""The routes of /v1/customers (ops): erase a customer (GDPR Art. 17) and export their data
(Art. 15 and 20). The erasure runs as the EraseCustomer workflow; the call waits for it."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from temporalio.service import RPCError

from api import problems
from api.auth import Principal, require
from api.problems import Problem, invalid
from customers.erase import ErasureRefused, erase_customer
from customers.export import CustomerExport, export_customer
from domain.request import describe
from returns_client import ReturnsClient
from store.event_store import EventStore
from workflows.erase_customer import ErasureSummary

router = APIRouter(prefix="/v1/customers", tags=["customers"])
OPS = require("ops")

CustomerId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        description="the request's order.customer.id",
        examples=["C-EXAMPLE-ERASE"],
    ),
]


class ErasureBody(BaseModel):
    """Why the customer is erased (kept in the audit record; the actor is the ops key's)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "request of 2026-11-30"}]}
    )

    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _text(cls, reason: str) -> str:
        if "\x00" in reason:
            raise ValueError("must not contain NUL characters")
        if not reason.strip():
            raise ValueError("must not be blank")
        return reason


problems.INVALID_PREFIX["erase"] = "invalid EraseCustomer"


def _no_nul(customer_id: str) -> None:
    if "\x00" in customer_id:
        raise invalid("invalid request: customer_id: must not contain NUL characters")


@router.post(
    "/{customer_id}/erasure",
    name="erase",
    summary="Erase a customer once every case of theirs is closed (ops)",
    response_model=ErasureSummary,
    responses=problems.responses(401, 403, 409, 413, 422, 503),
)
async def erase(
    request: Request,
    customer_id: CustomerId,
    body: ErasureBody,
    principal: Annotated[Principal, Depends(OPS)],
) -> JSONResponse:
    """Deletes the customer's data keys (their personal data in events, mails and webhooks reads
    as erased from then on), anonymises their read-model and ledger rows (amounts, payment
    methods and references kept), deletes their cases' Temporal executions, and records
    `customer_erased`. 409 naming the open cases while any is open (nothing changed). Again for
    an erased customer: 200, nothing more to do."""
    _no_nul(customer_id)
    rc: ReturnsClient = request.app.state.returns
    actor = principal.actor or f"api-key:{principal.key_id}"
    try:
        summary = await erase_customer(
            rc.client, customer_id, actor=actor, reason=body.reason, task_queue=rc.task_queue
        )
    except ValidationError as e:
        raise invalid(describe(e).replace("invalid request", "invalid EraseCustomer")) from None
    except ErasureRefused as e:
        raise Problem(409, str(e), open_cases=e.open_cases) from None
    except RPCError as e:
        raise Problem(503, f"Temporal refused the call: {e.message}") from None
    return JSONResponse(summary.model_dump(mode="json"))


@router.get(
    "/{customer_id}/export",
    name="export",
    summary="Every case of a customer with its view, events, mails and ledger entries (ops)",
    response_model=CustomerExport,
    responses=problems.responses(401, 403, 422, 503),
)
async def export(
    request: Request, customer_id: CustomerId, principal: Annotated[Principal, Depends(OPS)]
) -> JSONResponse:
    """The customer's data as the service holds it (JSON). A customer it holds nothing of gets
    an empty `cases` list; an erased one's older cases are no longer theirs (pseudonymised)."""
    _no_nul(customer_id)
    pool: asyncpg.Pool = request.app.state.pool
    try:
        data = await export_customer(pool, EventStore(pool), customer_id)
    except (OSError, asyncpg.PostgresConnectionError) as e:
        raise Problem(503, f"the store is unavailable: {type(e).__name__}") from None
    return JSONResponse(data.model_dump(mode="json"))
