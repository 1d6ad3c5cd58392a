"""The routes of /v1/returns: the contract's request and actions over HTTP.

Each route maps to one ReturnsClient call and answers the case view; errors are problems:
invalid input 422 (the CLI's text), a refused action 409 (the refusal and the current status),
an unknown case 404, keys 401/403, payload keys or Temporal unavailable 503.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api import idempotency, problems
from api.auth import Principal, require
from api.problems import Problem, invalid
from domain import commands as cmd
from domain.assessment import AcceptKind
from domain.case import Status
from domain.events import OverrideType
from domain.request import InvalidRequest, Resolution, describe, parse_request
from domain.view import CaseView, case_view
from returns_client import CaseNotFound, PayloadKeyError, Refused, ReturnsClient
from returns_client.late import record_fact, stored_case
from store import read_model
from store.read_model import CaseRow

router = APIRouter(prefix="/v1/returns", tags=["returns"])


# The example of the document (and /docs): the toner of examples/toner.json, under its own id.
EXAMPLE_ID = "R-API-EXAMPLE"
SUBMIT_EXAMPLE: dict[str, Any] = {
    "return_id": EXAMPLE_ID,
    "order": {
        "order_id": "O-7001",
        "customer": {"id": "C-100", "email": "inkoop@example.nl", "name": "Kantoor B.V."},
        "placed_at": "2026-09-07T10:00:00+02:00",
        "delivered_at": "2026-09-08T14:00:00+02:00",
        "payment": {"method": "ideal", "reference": "tr_toner"},
        "currency": "EUR",
        "lines": [
            {
                "line_id": "L1",
                "sku": "HB-410X",
                "name": "Toner 410X (huismerk)",
                "category": "printer_supplies",
                "kind": "physical",
                "unit_price": "39.95",
                "quantity": 1,
            }
        ],
    },
    "items": [
        {
            "line_id": "L1",
            "quantity": 1,
            "reason": "defective",
            "condition": "used",
            "note": "Printer meldt: toner niet herkend",
            "photos": [],
        }
    ],
    "preferred_resolution": "refund",
}

ReturnId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="the request's return_id",
        examples=[EXAMPLE_ID],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        min_length=1,
        max_length=idempotency.MAX_LENGTH,
        pattern=r"^[!-~]+$",
        description="visible ASCII, e.g. a UUID: a retry with the same key answers the first answer "
        "and applies once",
    ),
]

WEBSHOP = require("webshop")
WAREHOUSE = require("warehouse")
OPS = require("ops")
ANY_ROLE = require("webshop", "warehouse", "ops")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhotosBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"line_id": "L1", "photos": ["toner.jpg"]}]})

    line_id: str = Field(min_length=1, max_length=100)
    photos: list[str] = Field(min_length=1, max_length=20)


class ChoiceBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"resolution": "store_credit"}]})

    resolution: Resolution


class EmptyBody(_Body):
    pass


class InspectionBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"passed": True, "note": "seal intact"}]})

    passed: StrictBool
    note: str = Field("", max_length=2000)


class RepairBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "feed rollers replaced"}]})

    note: str = Field("", max_length=2000)


class OverrideBody(_Body):
    """The actor is the ops key's, never the body's."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"type": "waive_deduction", "reason": "goodwill"}]}
    )

    type: OverrideType
    reason: str = Field(max_length=2000)
    kind: AcceptKind | None = None
    resolution: Resolution | None = None


class ReplacementOrderBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"order_id": "SHOP-9001"}]})

    order_id: str = Field(min_length=1, max_length=100, description="the shop's order for the replacement")


class CasePage(BaseModel):
    items: list[CaseRow]  # the read model's row (domain.summary.CaseSummary)
    next_cursor: str | None


# A body that fails its model names the command, as the CLI does ("invalid ChooseResolution: ...").
problems.INVALID_PREFIX.update(
    {
        "photos": "invalid SubmitPhotos",
        "choice": "invalid ChooseResolution",
        "parcel": "invalid ReceiveParcel",
        "inspection": "invalid ReportInspection",
        "repair": "invalid CompleteRepair",
        "cancel": "invalid CancelCase",
        "overrides": "invalid ApplyOverride",
        "replacement_order": "invalid ConfirmReplacementOrder",
    }
)

_AUTH = (401, 403)
_ACTION = problems.responses(*_AUTH, 404, 409, 413, 422, 503)


def _view(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": CaseView, "description": description}}


def _client(request: Request) -> ReturnsClient:
    rc: ReturnsClient = request.app.state.returns
    return rc


async def _current_status(rc: ReturnsClient, return_id: str) -> str | None:
    try:
        return (await rc.status(return_id)).status
    except Exception:  # the refusal stands without it
        return None


async def _answer(rc: ReturnsClient, return_id: str, call: Awaitable[CaseView]) -> tuple[int, Any]:
    """The client's answer as (status, body); its errors as problems."""
    try:
        view = await call
    except InvalidRequest as e:
        raise invalid(str(e)) from None
    except Refused as e:
        message = str(e)
        if message.startswith("invalid "):  # arguments of the wrong shape: the CLI's text
            raise invalid(message) from None
        raise Problem(409, message, current_status=await _current_status(rc, return_id)) from None
    except CaseNotFound as e:
        raise Problem(404, str(e)) from None
    except PayloadKeyError as e:
        raise Problem(503, f"{e}; the API needs the worker's payload keys (RETURNS_CODEC_KEYS)") from None
    except RPCError as e:
        raise Problem(503, f"Temporal refused the call: {e.message}") from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        # The client retried for RETRY_FOR seconds and the case never answered: a backlog, not a
        # refusal. The update may still be applied; a retry with the same key gets its answer.
        raise Problem(
            503,
            "the case did not answer in time (the service is busy); retry with the same Idempotency-Key",
            headers={"Retry-After": "5"},
        ) from None
    return 200, view.model_dump(mode="json")


async def _act(
    request: Request,
    principal: Principal,
    key: str | None,
    return_id: str,
    action: Callable[[str | None], Awaitable[CaseView]],
) -> JSONResponse:
    rc = _client(request)
    return await idempotency.run(
        request, principal, key, lambda update_id: _answer(rc, return_id, action(update_id))
    )


@router.post(
    "",
    name="submit",
    summary="Start a return case (or answer the existing one for its return_id)",
    response_model=CaseView,
    status_code=201,
    responses={
        **_view(200, "the case existed already: its current view"),
        **problems.responses(*_AUTH, 413, 422, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/ReturnRequest"},
                    "example": SUBMIT_EXAMPLE,
                }
            },
        }
    },
)
async def submit(
    request: Request,
    principal: Annotated[Principal, Depends(WEBSHOP)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The body is the contract's request (section 2). 201 with the classified view when the case
    is new, 200 with the existing view for a known return_id."""
    body = await request.body()
    try:
        req = parse_request(body)  # the CLI's own validation, so the same texts
    except InvalidRequest as e:
        raise invalid(str(e)) from None
    rc = _client(request)

    async def call(update_id: str | None) -> tuple[int, Any]:
        started = False

        async def view() -> CaseView:
            nonlocal started
            v, started = await rc.submit_case(req, update_id)
            return v

        _, answer = await _answer(rc, req.return_id, view())
        return (201 if started else 200), answer

    return await idempotency.run(request, principal, idempotency_key, call)


@router.get(
    "/{return_id}",
    name="status",
    summary="The case view",
    response_model=CaseView,
    responses=problems.responses(*_AUTH, 404, 422, 503),
)
async def status(
    request: Request, return_id: ReturnId, principal: Annotated[Principal, Depends(ANY_ROLE)]
) -> JSONResponse:
    rc = _client(request)
    code, body = await _answer(rc, return_id, _status(request, rc, return_id))
    return JSONResponse(body, status_code=code)


async def _status(request: Request, rc: ReturnsClient, return_id: str) -> CaseView:
    """A closed case is its stored stream: late facts (returns_client.late) are appended there
    after its workflow completed, and a query of the completed workflow would not show them.
    An open case (or an erased customer's) asks its workflow."""
    pool: asyncpg.Pool = request.app.state.pool
    try:
        row = await read_model.get_case(pool, return_id)
        if row is not None and row.closed_at is not None:
            case = await stored_case(pool, rc.case_id(return_id))
            # An erased customer's row carries their pseudonym: their cases are not served from
            # the store (nor, their executions deleted, from Temporal).
            if case is not None and case.request.order.customer.id == row.customer_id:
                return case_view(case)
    except (OSError, asyncpg.PostgresConnectionError):
        pass  # the database is away: the workflow still answers (without later facts)
    return await rc.status(return_id)


@router.post(
    "/{return_id}/photos",
    name="photos",
    summary="submit_photos (webshop)",
    response_model=CaseView,
    responses=_ACTION,
)
async def photos(
    request: Request,
    return_id: ReturnId,
    body: PhotosBody,
    principal: Annotated[Principal, Depends(WEBSHOP)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    rc = _client(request)
    return await _act(
        request,
        principal,
        idempotency_key,
        return_id,
        lambda uid: rc.submit_photos(return_id, body.line_id, body.photos, update_id=uid),
    )


@router.post(
    "/{return_id}/choice",
    name="choice",
    summary="choose_resolution (webshop)",
    response_model=CaseView,
    responses=_ACTION,
)
async def choice(
    request: Request,
    return_id: ReturnId,
    body: ChoiceBody,
    principal: Annotated[Principal, Depends(WEBSHOP)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    rc = _client(request)
    return await _act(
        request,
        principal,
        idempotency_key,
        return_id,
        lambda uid: rc.choose_resolution(return_id, body.resolution, update_id=uid),
    )


@router.post(
    "/{return_id}/parcel",
    name="parcel",
    summary="parcel_received (warehouse)",
    response_model=CaseView,
    responses=_ACTION,
)
async def parcel(
    request: Request,
    return_id: ReturnId,
    principal: Annotated[Principal, Depends(WAREHOUSE)],
    body: EmptyBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    rc = _client(request)
    return await _act(
        request,
        principal,
        idempotency_key,
        return_id,
        lambda uid: rc.parcel_received(return_id, update_id=uid),
    )


@router.post(
    "/{return_id}/inspection",
    name="inspection",
    summary="inspection_result (warehouse)",
    response_model=CaseView,
    responses=_ACTION,
)
async def inspection(
    request: Request,
    return_id: ReturnId,
    body: InspectionBody,
    principal: Annotated[Principal, Depends(WAREHOUSE)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    rc = _client(request)
    return await _act(
        request,
        principal,
        idempotency_key,
        return_id,
        lambda uid: rc.inspection_result(return_id, body.passed, body.note, update_id=uid),
    )


@router.post(
    "/{return_id}/repair",
    name="repair",
    summary="repair_completed (warehouse, contract 7.1)",
    response_model=CaseView,
    responses=_ACTION,
)
async def repair(
    request: Request,
    return_id: ReturnId,
    principal: Annotated[Principal, Depends(WAREHOUSE)],
    body: RepairBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    rc = _client(request)
    note = body.note if body is not None else ""
    return await _act(
        request,
        principal,
        idempotency_key,
        return_id,
        lambda uid: rc.repair_completed(return_id, note, update_id=uid),
    )


@router.post(
    "/{return_id}/cancel",
    name="cancel",
    summary="cancel (webshop)",
    response_model=CaseView,
    responses=_ACTION,
)
async def cancel(
    request: Request,
    return_id: ReturnId,
    principal: Annotated[Principal, Depends(WEBSHOP)],
    body: EmptyBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    rc = _client(request)
    return await _act(
        request, principal, idempotency_key, return_id, lambda uid: rc.cancel(return_id, update_id=uid)
    )


@router.post(
    "/{return_id}/overrides",
    name="overrides",
    summary="override (ops; the actor is the ops key's)",
    response_model=CaseView,
    responses=_ACTION,
)
async def overrides(
    request: Request,
    return_id: ReturnId,
    body: OverrideBody,
    principal: Annotated[Principal, Depends(OPS)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    rc = _client(request)
    actor = principal.actor or f"api-key:{principal.key_id}"
    return await _act(
        request,
        principal,
        idempotency_key,
        return_id,
        lambda uid: rc.override(
            return_id,
            body.type,
            actor=actor,
            reason=body.reason,
            kind=body.kind,
            resolution=body.resolution,
            update_id=uid,
        ),
    )


@router.post(
    "/{return_id}/replacement-order",
    name="replacement_order",
    summary="The shop's order id for a replacement (webshop; its answer to replacement.requested)",
    response_model=CaseView,
    responses=_ACTION,
)
async def replacement_order(
    request: Request,
    return_id: ReturnId,
    body: ReplacementOrderBody,
    principal: Annotated[Principal, Depends(WEBSHOP)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Only on a case resolved with a replacement (else 409); the same id again answers the same
    view, another id is a 409. Taken on a closed case too (returns_client.late): the case view
    then shows `replacement_order_id`."""
    try:
        fact = cmd.ConfirmReplacementOrder(order_id=body.order_id)
    except ValidationError as e:
        raise invalid(describe(e).replace("invalid request", "invalid ConfirmReplacementOrder")) from None
    rc = _client(request)
    pool: asyncpg.Pool = request.app.state.pool

    async def tell() -> CaseView:
        try:
            return await record_fact(rc.client, pool, return_id, fact, id_prefix=rc.id_prefix)
        except (OSError, asyncpg.PostgresConnectionError) as e:
            raise Problem(503, f"the event store is unavailable: {type(e).__name__}") from None

    return await idempotency.run(
        request, principal, idempotency_key, lambda _: _answer(rc, return_id, tell())
    )


# --- the list, from the read model ----------------------------------------------------------
MAX_LIMIT = 200


def _encode_cursor(opened_at: datetime, return_id: str) -> str:
    raw = json.dumps([opened_at.isoformat(), return_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        opened, return_id = json.loads(raw)
        when = datetime.fromisoformat(opened)
        if not isinstance(return_id, str) or when.tzinfo is None:
            raise ValueError
        return when, return_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("invalid request: cursor: not a cursor this API gave out") from None


@router.get(
    "",
    name="list",
    summary="Cases from the read model, oldest first, with cursor paging",
    response_model=CasePage,
    responses=problems.responses(*_AUTH, 422, 503),
)
async def list_cases(
    request: Request,
    principal: Annotated[Principal, Depends(ANY_ROLE)],
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
    order_id: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[Status | None, Query()] = None,
    needs_attention: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> JSONResponse:
    for name, value in (("customer_id", customer_id), ("order_id", order_id)):
        if value is not None and "\x00" in value:
            raise invalid(f"invalid request: {name}: must not contain NUL characters")
    try:
        rows = await read_model.find_cases(
            request.app.state.pool,
            customer_id=customer_id,
            order_id=order_id,
            status=status,
            needs_attention=needs_attention,
            after=None if cursor is None else _decode_cursor(cursor),
            limit=limit + 1,  # one more says whether a next page exists
        )
    except (OSError, asyncpg.PostgresConnectionError) as e:
        raise Problem(503, f"the read model is unavailable: {type(e).__name__}") from None
    page = rows[:limit]
    last = page[-1] if len(rows) > limit else None
    out = CasePage(items=page, next_cursor=_encode_cursor(last.opened_at, last.return_id) if last else None)
    return JSONResponse(out.model_dump(mode="json"))
