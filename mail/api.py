"""GET /v1/returns/{id}/messages: a case's customer messages and how their delivery went (webshop,
ops). No personal data: the key, template, state and the mail server's last answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import problems
from api.auth import Principal, require
from api.case_rows import rows_of_case
from api.returns import ReturnId
from store.outbox import deliveries

router = APIRouter(prefix="/v1/returns", tags=["messages"])
WEBSHOP_OR_OPS = require("webshop", "ops")


class MessageRow(BaseModel):
    """One customer message of the case. `state`: queued (waiting, or retried after a temporary
    failure), sent (the mail server accepted it), failed (refused for good: `last_error` has the
    server's reply, and the case needs attention), erased (the customer was erased before it went
    out). `message_id` is the Message-ID it was sent with."""

    key: str
    template: str
    state: Literal["queued", "sent", "failed", "erased"]
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None


class Messages(BaseModel):
    return_id: str
    messages: list[MessageRow]


@router.get(
    "/{return_id}/messages",
    name="messages",
    summary="The case's customer messages and their delivery (webshop, ops)",
    response_model=Messages,
    responses=problems.responses(401, 403, 404, 422, 503),
)
async def messages(
    request: Request, return_id: ReturnId, principal: Annotated[Principal, Depends(WEBSHOP_OR_OPS)]
) -> JSONResponse:
    rows = await rows_of_case(request, return_id, deliveries, "the outbox")
    out = Messages(return_id=return_id, messages=[MessageRow.model_validate(vars(r)) for r in rows])
    return JSONResponse(out.model_dump(mode="json"))
