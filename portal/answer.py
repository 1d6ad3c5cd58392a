"""What the case page shows, from the case folded out of the event store (PostgreSQL, never
Temporal): each item's kind in plain words, every open need with its instruction and due date,
the label or the returnless note, the quote with every line explained, the open choice, the
outcome, the withdrawal's acknowledgment and the timeline. The needs, quote and acknowledgment
are the mail's own blocks (domain/messages.py's data through mail/render.py's context), so the
page says what the e-mail says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import messages
from domain.case import ReturnCase
from mail import formatting as fm
from mail.render import context
from mail.shop import ShopSettings
from portal.catalogue import text
from store.event_store import StoredEvent

FINAL = ("resolved", "rejected", "cancelled", "expired")


@dataclass(frozen=True)
class Sentence:
    key: str
    args: dict[str, Any]


def _t(locale: str, key: str, **args: Any) -> str:
    return text(locale, key).format(**args)


def item_rows(case: ReturnCase, locale: str) -> list[dict[str, str]]:
    rows = []
    for item in case.assessment.items:
        if item.kind == "rejected":
            key = f"rule_{item.rule}"
            try:
                reason = _t(locale, key)
            except KeyError:
                reason = _t(locale, "rule_other", rule=item.rule)
            kind = _t(locale, "kind_rejected", reason=reason)
        else:
            kind = _t(locale, f"kind_{item.kind}")
        rows.append({"item": _t(locale, "item_line", quantity=item.quantity, name=item.name), "kind": kind})
    return rows


def licence_notes(case: ReturnCase, locale: str) -> list[str]:
    """Contract 2.5: a digital gift of a returned item is revoked, never deducted; say so."""
    order = case.request.order
    returned = {i.line_id for i in case.assessment.accepted if i.kind == "return"}
    listed = {i.line_id for i in case.request.items}
    notes = []
    for line in order.lines:
        if line.kind != "digital" or line.gift_for not in returned or line.line_id in listed:
            continue
        if line.line_id in case.revoked_gifts:
            notes.append(_t(locale, "licence_revoked", name=line.name))
        elif case.outcome is None and case.resolution not in ("replacement", "repair"):
            notes.append(_t(locale, "licence_revoke", name=line.name))
    return notes


def timeline(events: list[StoredEvent], locale: str) -> list[dict[str, str]]:
    rows = []
    for e in events:
        try:
            what = _t(locale, f"event_{e.type}")
        except KeyError:
            continue
        rows.append({"at": fm.moment(e.recorded_at, locale), "iso": e.recorded_at.isoformat(), "what": what})
    return rows


def answer(case: ReturnCase, events: list[StoredEvent], locale: str, shop: ShopSettings) -> dict[str, Any]:
    """The case page's content, formatted for `locale`."""
    data = {**messages.common(case), **messages.opened(case), "locale": locale}
    ctx = context("case_opened", data, shop, label_attached=bool(data.get("label")))
    status = case.status
    final = status in FINAL
    repair_placed = case.repair_ordered_at is not None
    method = fm.payment_method(case.request.order.payment.method, locale)
    choice_open = (
        not final
        and not repair_placed
        and case.parcel_received_at is None
        and len(case.assessment.allowed_resolutions) > 0
    )
    outcome = []
    if case.refunded > 0:
        outcome.append(_t(locale, "outcome_refunded", amount=fm.money(case.refunded, locale), method=method))
    if case.store_credit > 0:
        outcome.append(_t(locale, "outcome_store_credit", amount=fm.money(case.store_credit, locale)))
    acknowledgment = messages.withdrawal(case)
    ack = None
    if acknowledgment is not None:
        ack = _t(
            locale,
            "ack_text",
            received=fm.amsterdam_moment(acknowledgment["received_at"], locale),
            items=", ".join(f"{i['quantity']}x {i['name']}" for i in acknowledgment["items"]),
        )
    return {
        "return_id": case.return_id,
        "status": status,
        "status_text": _t(locale, f"status_{status}"),
        "final": final,
        "kind": case.assessment.kind,
        "items": item_rows(case, locale),
        "ctx": ctx,  # photos, choice, parcel, returnless, quote, next: the mail's blocks
        "open_photos": [
            {"line_id": i.line_id, "name": i.name}
            for i in case.assessment.accepted
            if case.photos_missing(i) and not final
        ],
        "label": bool(data.get("label")) and not final,
        "choice_open": choice_open,
        "allowed": list(case.assessment.allowed_resolutions),
        "resolution": case.resolution,
        "method": method,
        "licences": licence_notes(case, locale),
        "outcome": outcome,
        "acknowledgment": ack,
        "cancellable": not final and not repair_placed and case.parcel_received_at is None,
        "timeline": timeline(events, locale),
        "opened_at": case.opened_at,
    }


def due_text(at: datetime | None, locale: str) -> str | None:
    return fm.moment(at, locale) if at is not None else None
