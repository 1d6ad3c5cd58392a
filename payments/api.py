"""The routes of payments under /v1/returns/{id}: the case's refunds as the providers made them
(webshop, ops), and ops' retry of an effect a provider refused (the `retry_effects` signal)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.service import RPCError

from api import problems
from api.auth import Principal, require
from api.case_rows import rows_of_case
from api.problems import Problem
from api.returns import ReturnId
from domain.money import Money
from returns_client import CaseNotFound, Refused, ReturnsClient
from store import ledgers

router = APIRouter(prefix="/v1/returns", tags=["payments"])
WEBSHOP_OR_OPS = require("webshop", "ops")
OPS = require("ops")


class RefundRow(BaseModel):
    """A refund of the case: the effect's key, what was refunded to which payment, and the
    provider's record of it (`provider_refund_id` is null for the embedded ledger). `status` is
    the provider's latest answer: the worker asks until it is final (succeeded or refunded;
    failed or canceled flag the case for ops); `checked_at` is when it last answered (null: not
    asked since the refund was made)."""

    key: str
    amount: Money
    payment_method: str
    payment_reference: str
    provider: str
    provider_refund_id: str | None
    status: str
    created_at: datetime
    checked_at: datetime | None


class Refunds(BaseModel):
    return_id: str
    refunds: list[RefundRow]


class RetryAsked(BaseModel):
    return_id: str
    retry_effects: str = "sent"


@router.get(
    "/{return_id}/refunds",
    name="refunds",
    summary="The case's refunds with the payment provider's ids (webshop, ops)",
    response_model=Refunds,
    responses=problems.responses(401, 403, 404, 422, 503),
)
async def refunds(
    request: Request, return_id: ReturnId, principal: Annotated[Principal, Depends(WEBSHOP_OR_OPS)]
) -> JSONResponse:
    rows = await rows_of_case(request, return_id, ledgers.refunds_of, "the refunds ledger")
    out = Refunds(return_id=return_id, refunds=[RefundRow(**vars(r)) for r in rows])
    return JSONResponse(out.model_dump(mode="json"))


@router.post(
    "/{return_id}/retry-effects",
    name="retry_effects",
    summary="retry_effects (ops): try again an effect the payment provider refused",
    response_model=RetryAsked,
    status_code=202,
    responses=problems.responses(401, 403, 404, 409, 422, 503),
)
async def retry_effects(
    request: Request, return_id: ReturnId, principal: Annotated[Principal, Depends(OPS)]
) -> JSONResponse:
    rc: ReturnsClient = request.app.state.returns
    try:
        await rc.retry_effects(return_id)
    except CaseNotFound as e:
        raise Problem(404, str(e)) from None
    except Refused as e:
        raise Problem(409, str(e)) from None
    except RPCError as e:
        raise Problem(503, f"Temporal refused the call: {e.message}") from None
    return JSONResponse(RetryAsked(return_id=return_id).model_dump(mode="json"), status_code=202)
