"""The routes of /v1/customers/{customer_id}/balance: a shop without gift cards of its own reads
the store credit the service granted its customer and redeems it (webshop and ops)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api import idempotency, problems
from api.auth import Principal, require
from api.problems import Problem, invalid
from api.returns import IdempotencyKey
from domain.money import Money, fmt
from store_credit import ledger

router = APIRouter(prefix="/v1/customers", tags=["store credit"])
SHOP = require("webshop", "ops")
CURRENCY = "EUR"
MAX_ENTRIES = 200

CustomerId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        description="the request's order.customer.id",
        examples=["C-100"],
    ),
]


class BalanceEntry(BaseModel):
    type: Literal["grant", "redemption"]
    amount: Money  # always positive; a redemption takes it off
    at: datetime
    return_id: str | None = Field(description="a grant: the case that granted it")
    key: str | None = Field(description="a grant: its idempotency key (store_credit.granted's `key`)")
    reference: str | None = Field(description="a redemption: the shop's reference")


class Balance(BaseModel):
    customer_id: str
    balance: Money
    currency: Literal["EUR"]
    entries: list[BalanceEntry] = Field(description="grants and redemptions, newest first, at most `limit`")


class RedemptionBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": "12.50", "reference": "SHOP-ORDER-5001"}]}
    )

    amount: Money = Field(description='more than 0, at most 2 decimals, as a string: "12.50"')
    reference: str = Field(
        min_length=1, max_length=200, description="the shop's order id: a reference is redeemed once"
    )

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: Decimal) -> Decimal:
        if amount <= 0:
            raise ValueError("must be more than 0")
        return amount

    @field_validator("reference")
    @classmethod
    def _text(cls, reference: str) -> str:
        if "\x00" in reference:
            raise ValueError("must not contain NUL characters")
        if not reference.strip():
            raise ValueError("must not be blank")
        return reference


class RedemptionAnswer(BaseModel):
    redemption_id: int
    customer_id: str
    reference: str
    amount: Money
    balance: Money = Field(description="the balance after the redemption")
    currency: Literal["EUR"]
    at: datetime


problems.INVALID_PREFIX["redeem"] = "invalid Redemption"


def _no_nul(customer_id: str) -> None:
    if "\x00" in customer_id:
        raise invalid("invalid request: customer_id: must not contain NUL characters")


def _unavailable(e: Exception) -> Problem:
    return Problem(503, f"the store credit ledger is unavailable: {type(e).__name__}")


@router.get(
    "/{customer_id}/balance",
    name="balance",
    summary="A customer's store credit: the balance and its grants and redemptions (webshop, ops)",
    response_model=Balance,
    responses=problems.responses(401, 403, 422, 503),
)
async def balance(
    request: Request,
    customer_id: CustomerId,
    principal: Annotated[Principal, Depends(SHOP)],
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 50,
) -> JSONResponse:
    """A customer the service granted nothing has a balance of 0.00 and no entries."""
    _no_nul(customer_id)
    pool: asyncpg.Pool = request.app.state.pool
    try:
        amount = await ledger.balance_of(pool, customer_id)
        found = await ledger.entries(pool, customer_id, limit)
    except (OSError, asyncpg.PostgresConnectionError) as e:
        raise _unavailable(e) from None
    out = Balance(
        customer_id=customer_id,
        balance=amount,
        currency=CURRENCY,
        entries=[
            BalanceEntry(
                type=e.type, amount=e.amount, at=e.at, return_id=e.return_id, key=e.key, reference=e.reference
            )
            for e in found
        ],
    )
    return JSONResponse(out.model_dump(mode="json"))


@router.post(
    "/{customer_id}/balance/redemptions",
    name="redeem",
    summary="Redeem store credit for an order of the shop's (webshop, ops)",
    response_model=RedemptionAnswer,
    status_code=201,
    responses={
        200: {"model": RedemptionAnswer, "description": "the reference was redeemed before: that redemption"},
        **problems.responses(401, 403, 409, 413, 422, 503),
    },
)
async def redeem(
    request: Request,
    customer_id: CustomerId,
    body: RedemptionBody,
    principal: Annotated[Principal, Depends(SHOP)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """201 with the balance after it. A reference is redeemed once: the same reference and
    amount again answers 200 with that redemption and changes nothing, with another amount it is
    a 409. More than the balance: 409 naming the balance, nothing changed."""
    _no_nul(customer_id)
    pool: asyncpg.Pool = request.app.state.pool

    async def call(_: str | None) -> tuple[int, Any]:
        try:
            done = await ledger.redeem(pool, customer_id, body.amount, body.reference, idempotency_key)
        except ledger.InsufficientBalance as e:
            raise Problem(
                409, f"redeem refused for customer {customer_id}: {e}", balance=fmt(e.balance)
            ) from None
        except ledger.ReferenceRedeemed as e:
            raise Problem(
                409, f"redeem refused for customer {customer_id}: {e}", redeemed_amount=fmt(e.amount)
            ) from None
        except (OSError, asyncpg.PostgresConnectionError) as e:
            raise _unavailable(e) from None
        answer = RedemptionAnswer(
            redemption_id=done.redemption_id,
            customer_id=customer_id,
            reference=done.reference,
            amount=done.amount,
            balance=done.balance,
            currency=CURRENCY,
            at=done.at,
        )
        return (201 if done.created else 200), answer.model_dump(mode="json")

    return await idempotency.run(request, principal, idempotency_key, call)
