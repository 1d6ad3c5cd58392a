"""The read-model row of a case ("my returns" page, KPIs), a pure function of the ReturnCase."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from domain.case import ReturnCase
from domain.details import attention_reasons


class CaseSummary(BaseModel):
    """A row of the read model (return_cases): a shop's "my returns" page, ops' list, KPIs."""

    return_id: str
    order_id: str
    customer_id: str
    kind: str
    status: str
    resolution: str | None
    gross: Decimal
    total: Decimal
    refunded: Decimal
    store_credit: Decimal
    customer_messages: tuple[str, ...]
    # Ops' list (GET /v1/returns?needs_attention=true): domain.details.attention_reasons of the
    # case alone. Failing effects are not in the events, so they never set it here; ops see
    # them in the case's details.
    needs_attention: bool = False
    # The ops overview (ops/overview.py): why it needs attention (the same reasons, without a
    # refused message's answer, which may be personal), and whether
    # intake asked for photos (a policy rule asked at least one of an accepted item).
    attention: tuple[str, ...] = ()
    photos_asked: bool = False
    opened_at: datetime
    closed_at: datetime | None
    stream_version: int


def summarize(case: ReturnCase) -> CaseSummary:
    q = case.quote
    reasons = tuple(attention_reasons(case, (), personal=False))
    return CaseSummary(
        return_id=case.return_id,
        order_id=case.request.order.order_id,
        customer_id=case.request.order.customer.id,
        kind=case.assessment.kind,
        status=case.status,
        resolution=case.resolution,
        gross=q.gross,
        total=q.total,
        refunded=case.refunded,
        store_credit=case.store_credit,
        customer_messages=case.customer_messages,
        needs_attention=bool(reasons),
        attention=reasons,
        photos_asked=any(item.photo_requirements for item in case.assessment.accepted),
        opened_at=case.opened_at,
        closed_at=case.closed_at,
        stream_version=case.version,
    )
