"""Webhook events: which domain events a shop hears of, under which type, with which payload.

Pure (no I/O, no clock): the relay hands in a case's stored stream and gets the payloads of the
events it asks for. Each payload carries the case view AT that event: the fold of the stream up
to and including it, so a shop that applies events in order sees the case as it was then.

Mapping (domain event -> webhook type):

- case_assessed -> return.opened (the first answer: kind, needs, quote), except when the intake
  rejected the return: then the shop gets return.rejected only (from the case_rejected that
  follows in the same batch). Every case starts with exactly one of the two.
- case_rejected, inspection_failed (the case is rejected then too) -> return.rejected
- reminder_due -> return.action_required; case_resolved -> return.resolved;
  case_expired -> return.expired; case_cancelled -> return.cancelled
- refund_issued -> refund.issued; store_credit_issued -> store_credit.granted (the amount, the
  customer, and the grant's key for a shop that books it on its own gift cards);
  replacement_ordered -> replacement.requested (the lines and quantities to send, and the key);
  repair_ordered -> repair.ordered (contract 7.1);
  licence_revoked -> licence.revoked; override_applied -> override.applied;
  message_failed -> message.failed (the mail server refused a customer message for good: the
  shop can reach the customer another way)
- every other event (photos_submitted, message_sent...) -> nothing: its effect shows in the
  view of the next event a shop hears of.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from domain import events as ev
from domain.assessment import Quote
from domain.case import ReturnCase, evolve
from domain.effects import Refund
from domain.events import Event, Need, OverrideType, event_from_json
from domain.money import Money
from domain.request import Resolution
from domain.view import CaseView, case_view

EventType = Literal[
    "return.opened",
    "return.action_required",
    "return.resolved",
    "return.rejected",
    "return.expired",
    "return.cancelled",
    "refund.issued",
    "store_credit.granted",
    "replacement.requested",
    "repair.ordered",
    "licence.revoked",
    "override.applied",
    "message.failed",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)


# --- what each type says of its event (beside the case view) ----------------------------------
class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReturnOpened(_Data):
    kind: str
    needs: list[Need]
    quote: Quote


class ActionRequired(_Data):
    needs: list[Need]


class ReturnResolved(_Data):
    resolution: Resolution
    refund: Money
    store_credit: Money
    replace: list[str]
    revoke: list[str]


class RejectedItem(_Data):
    line_id: str
    rule: str


class ReturnRejected(_Data):
    by: Literal["intake", "inspection"]
    items: list[RejectedItem]  # intake: the items refused, with their rule ids
    note: str  # inspection: the warehouse's note


class ReturnExpired(_Data):
    need: Need


class ReturnCancelled(_Data):
    by: Literal["customer", "ops"]


class RefundIssued(_Data):
    amount: Money
    payment_method: str
    payment_reference: str


class StoreCreditGranted(_Data):
    """For a shop with gift cards of its own: grant `amount` to the customer, once per `key`."""

    amount: Money
    customer_id: str
    return_id: str
    key: str  # the grant's idempotency key: the shop's reference, the same on every redelivery


class ReplacementLine(_Data):
    line_id: str
    sku: str
    name: str
    quantity: int  # the quantity returned, to send again


class LinesOrdered(_Data):
    """replacement.requested and repair.ordered: the order lines sent out again or to repair."""

    order_id: str
    line_ids: list[str]


class ReplacementRequested(LinesOrdered):
    """For the shop to send the replacement: the lines and quantities, once per `key`. It may
    answer with its own order id (POST /v1/returns/{return_id}/replacement-order)."""

    lines: list[ReplacementLine]
    return_id: str
    key: str  # the replacement's idempotency key: the same on every redelivery


class LicenceRevokedData(_Data):
    line_id: str
    sku: str


class OverrideAppliedData(_Data):
    override: OverrideType
    actor: str
    reason: str
    kind: str | None
    resolution: Resolution | None


class MessageFailedData(_Data):
    message: str  # the contract's message name (case_opened, case_resolved, ...)
    reason: str  # the mail server's reply, addresses cut out


EventData = (
    ReturnOpened
    | ActionRequired
    | ReturnResolved
    | ReturnRejected
    | ReturnExpired
    | ReturnCancelled
    | RefundIssued
    | StoreCreditGranted
    | ReplacementRequested
    | LinesOrdered
    | LicenceRevokedData
    | OverrideAppliedData
    | MessageFailedData
)


class WebhookData(BaseModel):
    model_config = ConfigDict(frozen=True)
    return_id: str
    event_id: str  # the domain event's id: one per event, the same for every endpoint
    sequence: int  # its place in the case's stream (1, 2, ...): the order per case
    event: EventData
    case: CaseView  # the case view right after this event


class WebhookPayload(BaseModel):
    """The body of every webhook (the Standard Webhooks shape: type, timestamp, data)."""

    model_config = ConfigDict(frozen=True)
    type: EventType
    timestamp: datetime  # when the event was recorded
    data: WebhookData


# --- the mapping --------------------------------------------------------------------------------
def _described(before: ReturnCase | None, after: ReturnCase, e: Event) -> tuple[EventType, EventData] | None:
    order = after.request.order
    match e:
        case ev.CaseAssessed():
            if after.assessment.kind == "rejected":
                return None  # the case_rejected of the same batch answers
            return "return.opened", ReturnOpened(
                kind=after.assessment.kind, needs=list(after.needs), quote=after.quote
            )
        case ev.CaseRejected():
            items = [
                RejectedItem(line_id=i.line_id, rule=i.rule) for i in after.assessment.items if not i.accepted
            ]
            return "return.rejected", ReturnRejected(by="intake", items=items, note="")
        case ev.InspectionFailed():
            return "return.rejected", ReturnRejected(by="inspection", items=[], note=e.note)
        case ev.ReminderDue():
            return "return.action_required", ActionRequired(needs=list(e.needs))
        case ev.CaseResolved():
            return "return.resolved", ReturnResolved(
                resolution=e.resolution,
                refund=e.refund,
                store_credit=e.store_credit,
                replace=list(e.replace),
                revoke=list(e.revoke),
            )
        case ev.CaseExpired():
            return "return.expired", ReturnExpired(need=e.need)
        case ev.CaseCancelled():
            return "return.cancelled", ReturnCancelled(by=e.by)
        case ev.RefundIssued():
            effect = next((x for x in (before.pending_effects if before else ()) if x.key == e.key), None)
            method, reference = order.payment.method, order.payment.reference
            if isinstance(effect, Refund):
                method, reference = effect.payment_method, effect.payment_reference
            return "refund.issued", RefundIssued(
                amount=e.amount, payment_method=method, payment_reference=reference
            )
        case ev.StoreCreditIssued():
            return "store_credit.granted", StoreCreditGranted(
                amount=e.amount, customer_id=order.customer.id, return_id=after.return_id, key=e.key
            )
        case ev.ReplacementOrdered():
            returned = {i.line_id: i.quantity for i in after.request.items}
            lines = [
                ReplacementLine(
                    line_id=line_id,
                    sku=order.line(line_id).sku,
                    name=order.line(line_id).name,
                    quantity=returned.get(line_id, order.line(line_id).quantity),
                )
                for line_id in e.line_ids
            ]
            return "replacement.requested", ReplacementRequested(
                order_id=order.order_id,
                line_ids=list(e.line_ids),
                lines=lines,
                return_id=after.return_id,
                key=e.key,
            )
        case ev.RepairOrdered():
            return "repair.ordered", LinesOrdered(order_id=order.order_id, line_ids=list(e.line_ids))
        case ev.LicenceRevoked():
            return "licence.revoked", LicenceRevokedData(line_id=e.line_id, sku=order.line(e.line_id).sku)
        case ev.OverrideApplied():
            return "override.applied", OverrideAppliedData(
                override=e.override, actor=e.actor, reason=e.reason, kind=e.kind, resolution=e.resolution
            )
        case ev.MessageFailed():
            return "message.failed", MessageFailedData(message=e.template, reason=e.reason)
    return None


@dataclass(frozen=True)
class Recorded:
    """A stored event as the relay reads it (store-agnostic, so this module stays pure)."""

    event_id: str
    stream_version: int
    recorded_at: datetime
    data: Mapping[str, Any]  # as stored; read through event_from_json (upcasts)


def payloads(stream: Sequence[Recorded], wanted: Container[str]) -> list[tuple[Recorded, WebhookPayload]]:
    """The webhook payloads of the `wanted` events (by event id) of one case's stream.

    `stream` is the case's stream from its first event, in stream order, up to at least the last
    wanted event. Events that map to no webhook type give nothing."""
    out: list[tuple[Recorded, WebhookPayload]] = []
    case: ReturnCase | None = None
    for recorded in stream:
        event = event_from_json(recorded.data)
        before, case = case, evolve(case, event)
        if recorded.event_id not in wanted:
            continue
        described = _described(before, case, event)
        if described is None:
            continue
        event_type, data = described
        payload = WebhookPayload(
            type=event_type,
            timestamp=recorded.recorded_at,
            data=WebhookData(
                return_id=case.return_id,
                event_id=recorded.event_id,
                sequence=recorded.stream_version,
                event=data,
                case=case_view(case),
            ),
        )
        out.append((recorded, payload))
    return out


def payload_json(payload: WebhookPayload) -> dict[str, Any]:
    return payload.model_dump(mode="json")


__all__ = ["EVENT_TYPES", "EventType", "Recorded", "WebhookPayload", "payload_json", "payloads"]
