"""Customer messages (contract section 3): the only six, and the data each one carries.

The data is everything the renderer (mail/render.py) shows, so it looks nothing up: the
language, the customer's name, the order, each need with its due date, the photo instructions,
whether a return label goes with it, the quote with every explanation, the payment method, and
for a replacement what is replaced (never an amount). Dates are ISO-8601 with a zone; the
renderer shows them in Europe/Amsterdam. Pure: the case is read, nothing else.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from domain.assessment import AMSTERDAM, store_credit_amount
from domain.money import fmt

if TYPE_CHECKING:
    from domain import events as ev
    from domain.case import ReturnCase

Template = Literal[
    "case_opened", "reminder", "case_resolved", "case_rejected", "case_expired", "inspection_failed"
]
TEMPLATES: tuple[Template, ...] = (
    "case_opened",
    "reminder",
    "case_resolved",
    "case_rejected",
    "case_expired",
    "inspection_failed",
)


def common(case: ReturnCase) -> dict[str, Any]:
    """What every message says: to whom, in which language, about which return and order."""
    order = case.request.order
    return {
        "return_id": case.return_id,
        "locale": case.request.locale,
        "customer_name": order.customer.name,
        "order_id": order.order_id,
        "kind": case.assessment.kind,
    }


def _due(case: ReturnCase) -> dict[str, str]:
    """The due date of each open need the customer acts on (photos, choice, parcel)."""
    due: dict[str, str] = {}
    for need in case.needs:
        at = case.due(need)
        if at is not None and need in ("photos", "choice", "parcel"):
            due[need] = at.isoformat()
    return due


def _photos(case: ReturnCase) -> list[dict[str, Any]]:
    """Each photo still missing: the item and the rule's instruction (contract 2.2)."""
    return [
        {"line_id": i.line_id, "name": i.name, "rule": r.rule, "instruction": r.instruction}
        for i in case.assessment.accepted
        if case.photos_missing(i)
        for r in i.photo_requirements[len(case.photos.get(i.line_id, ())) :]
    ]


def _parcel(case: ReturnCase) -> dict[str, Any]:
    """What goes into the parcel and whether it is inspected; the label goes with a parcel only."""
    shipped = [i for i in case.assessment.accepted if i.needs_shipment]
    return {
        "label": "parcel" in case.needs,
        "parcel_items": [{"line_id": i.line_id, "name": i.name, "quantity": i.quantity} for i in shipped],
        "inspection": any(i.needs_inspection for i in shipped),
        "inspection_days": case.policy.inspection_due_days,
    }


def withdrawal(case: ReturnCase) -> dict[str, Any] | None:
    """7.2: the acknowledgment of a withdrawal: the items withdrawn, and when it was received
    (requested_at, which the case set to its start when the request had none), to the minute,
    written as Amsterdam time."""
    withdrawn = case.assessment.withdrawn
    if not withdrawn:
        return None
    received = case.request.requested_at or case.opened_at
    return {
        "items": [{"line_id": i.line_id, "name": i.name, "quantity": i.quantity} for i in withdrawn],
        "received_at": received.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M"),
    }


def opened(case: ReturnCase) -> dict[str, Any]:
    """case_opened: the kind, every need with how and by when, label or returnless, the quote."""
    accepted = case.assessment.accepted
    data: dict[str, Any] = {
        "needs": case.needs,
        "due": _due(case),
        "photos": _photos(case),
        "choose_from": list(case.assessment.allowed_resolutions) if case.resolution is None else [],
        "resolution": case.resolution,
        **_parcel(case),
        "returnless": [i.name for i in accepted if not i.needs_shipment and i.line_kind == "physical"],
        "items": [{"line_id": i.line_id, "name": i.name, "quantity": i.quantity} for i in accepted],
        "quote": case.quote.model_dump(mode="json"),
        # What the total is worth as store credit (the policy's bonus included).
        "store_credit_amount": fmt(store_credit_amount(case.quote.total, case.policy)),
        "line_names": {line.line_id: line.name for line in case.request.order.lines},
        "payment_method": case.request.order.payment.method,
    }
    # Contract 7, only where it applies: 7.1 repair or replacement is the customer's choice, and
    # what a repair adds; 7.2 the acknowledgment of a withdrawal.
    if "repair" in case.assessment.allowed_resolutions:
        data["repair"] = {"extension_months": case.assessment.repair_extension_months}
    w = withdrawal(case)
    if w is not None:
        data["withdrawal"] = w
    return data


def reminder(case: ReturnCase, needs: tuple[str, ...]) -> dict[str, Any]:
    """reminder: the needs still open, each with how and by when (the label again for a parcel)."""
    parcel = _parcel(case)
    parcel["label"] = parcel["label"] and "parcel" in needs
    return {
        "needs": list(needs),
        "due": {n: d for n, d in _due(case).items() if n in needs},
        "photos": _photos(case) if "photos" in needs else [],
        "choose_from": list(case.assessment.allowed_resolutions) if "choice" in needs else [],
        **parcel,
        "payment_method": case.request.order.payment.method,
    }


def resolved(case: ReturnCase, e: ev.CaseResolved, first: bool) -> dict[str, Any]:
    """case_resolved: what was carried out. A refund or store credit says its amount; a
    replacement names what is replaced and never an amount; a repair the new guarantee."""
    order = case.request.order
    data: dict[str, Any] = {
        "resolution": e.resolution,
        "payment_method": order.payment.method,
        "replace": list(e.replace),
        "revoke": list(e.revoke),
        "revoked_items": [order.line(line_id).name for line_id in e.revoke],
    }
    if e.resolution == "refund":
        data["refund"] = fmt(e.refund)
    elif e.resolution == "store_credit":
        data["store_credit"] = fmt(e.store_credit)
    elif e.resolution == "replacement":
        items = {i.line_id: i for i in case.assessment.accepted}
        data["replaced_items"] = [
            {"line_id": line_id, "name": items[line_id].name, "quantity": items[line_id].quantity}
            for line_id in e.replace
            if line_id in items
        ]
    elif e.resolution == "repair":
        data["guarantee_until"] = [
            {"line_id": i.line_id, "name": i.name, "until": str(until)}
            for i in case.assessment.accepted
            if (until := case.guarantee_until(i)) is not None
        ]
    w = withdrawal(case) if first else None
    if w is not None:  # resolved at intake: also a withdrawal's acknowledgment (7.2)
        data["withdrawal"] = w
    return data


def _appeal(case: ReturnCase) -> dict[str, Any]:
    days = case.policy.appeal_days
    until = case.rejected_at + timedelta(days=days) if case.rejected_at is not None else None
    return {"appeal_days": days, "appeal_until": until.isoformat() if until is not None else None}


def rejected(case: ReturnCase) -> dict[str, Any]:
    """case_rejected: each rejected item with its rule, and until when ops may still accept it."""
    refused = [i for i in case.assessment.items if not i.accepted]
    items = [{"line_id": i.line_id, "name": i.name, "rule": i.rule} for i in refused]
    return {"items": items, **_appeal(case)}


def expired(case: ReturnCase, need: str) -> dict[str, Any]:
    """case_expired: the need that did not come in time."""
    return {"need": need, "parcel_items": _parcel(case)["parcel_items"]}


def inspection_failed(case: ReturnCase, note: str) -> dict[str, Any]:
    """inspection_failed: the warehouse's note and the appeal window."""
    return {"note": note, **_appeal(case)}
