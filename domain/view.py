"""The case view of contract section 4, a pure function of the ReturnCase."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from domain.assessment import Quote
from domain.case import OverrideRecord, ReturnCase
from domain.money import Money
from domain.request import Resolution


class ItemView(BaseModel):
    line_id: str
    kind: str
    rule: str
    photos_required: int
    photos_received: int
    photo_instructions: list[str]
    needs_shipment: bool
    guarantee_until: date | None  # contract 7.1: warranty items only


class FailedMessageView(BaseModel):
    key: str
    template: str
    reason: str
    at: datetime


class CaseView(BaseModel):
    return_id: str
    status: str
    kind: str
    pending: list[str]
    items: list[ItemView]
    allowed_resolutions: list[Resolution]
    resolution: Resolution | None
    quote: Quote
    refunded: Money
    store_credit: Money
    replaced: list[str]
    revoked_gifts: list[str]
    customer_messages: list[str]
    overrides: list[OverrideRecord]
    policy_version: str
    opened_at: datetime
    closed_at: datetime | None
    # Late facts (defaults: a view from a worker before them reads the same).
    replacement_order_id: str | None = None  # the shop's order for a replacement
    failed_messages: list[FailedMessageView] = []  # refused for good by the mail server


def case_view(case: ReturnCase) -> CaseView:
    items = [
        ItemView(
            line_id=i.line_id,
            kind=i.kind,
            rule=i.rule,
            photos_required=len(i.photo_requirements),
            photos_received=len(case.photos.get(i.line_id, ())),
            photo_instructions=[r.instruction for r in i.photo_requirements],
            needs_shipment=i.needs_shipment,
            guarantee_until=case.guarantee_until(i),
        )
        for i in case.assessment.items
    ]
    return CaseView(
        return_id=case.return_id,
        status=case.status,
        kind=case.assessment.kind,
        pending=list(case.needs),
        items=items,
        allowed_resolutions=list(case.assessment.allowed_resolutions),
        resolution=case.resolution,
        quote=case.quote,
        refunded=case.refunded,
        store_credit=case.store_credit,
        replaced=list(case.replaced),
        revoked_gifts=list(case.revoked_gifts),
        customer_messages=list(case.customer_messages),
        overrides=list(case.overrides),
        policy_version=case.policy.version,
        opened_at=case.opened_at,
        closed_at=case.closed_at,
        replacement_order_id=case.replacement_order_id,
        failed_messages=[
            FailedMessageView(key=f.key, template=f.template, reason=f.reason, at=f.at)
            for f in case.failed_messages
        ],
    )


__all__ = ["CaseView", "FailedMessageView", "ItemView", "case_view"]
