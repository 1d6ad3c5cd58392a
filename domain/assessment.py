"""Intake: classification (2.1), photos (2.2), shipment (2.3), allowed resolutions (2.4), quote (2.5).

Everything the first answer says is computed here, once, from the request and the policy.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from domain.money import ZERO, Money, fmt, round_cents
from domain.policy import Policy
from domain.request import FAULT_REASONS, PREFERENCE_REASONS, LineKind, Reason, Resolution, ReturnRequest

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ItemKind = Literal["return", "warranty", "rejected"]
CaseKind = Literal["return", "warranty", "mixed", "rejected"]
AcceptKind = Literal["return", "warranty"]

ALLOWED: dict[str, tuple[Resolution, ...]] = {
    "return": ("refund", "store_credit"),
    "warranty": ("replacement", "refund", "store_credit"),
}
# Repair, where contract 7.1 allows it, is listed first.
RESOLUTION_ORDER: tuple[Resolution, ...] = ("repair", "replacement", "refund", "store_credit")

PHOTO_INSTRUCTIONS = {
    "photo-fault-electronics": "A photo of the error message or of the defect",
    "photo-damage": "A photo of the damage and of the outer packaging",
    "photo-high-value": "A photo of the defect and of the serial-number label",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PhotoRequirement(_Frozen):
    rule: str
    instruction: str


class AssessedItem(_Frozen):
    line_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Money
    line_kind: LineKind
    reason: Reason
    kind: ItemKind
    rule: str
    photo_requirements: tuple[PhotoRequirement, ...] = ()
    needs_shipment: bool = False
    needs_inspection: bool = False

    @property
    def accepted(self) -> bool:
        return self.kind != "rejected"


class Deduction(_Frozen):
    line_id: str | None  # None: the return fee, which is of the case, not of a line
    rule: str
    amount: Money
    explanation: str


class Addition(_Frozen):
    """Paid out on top of the items' value (contract 7.3)."""

    rule: str
    amount: Money
    explanation: str


class Quote(_Frozen):
    gross: Money
    additions: tuple[Addition, ...]
    deductions: tuple[Deduction, ...]
    total: Money


class Assessment(_Frozen):
    kind: CaseKind
    items: tuple[AssessedItem, ...]
    allowed_resolutions: tuple[Resolution, ...]
    gift_deductions: tuple[Deduction, ...] = ()
    revocable_gifts: tuple[str, ...] = ()
    # Contract 7, decided at intake; an assessment recorded before it has none of them.
    fee_deductions: tuple[Deduction, ...] = ()
    additions: tuple[Addition, ...] = ()
    repair_extension_months: int = 0  # what a repair adds to the guarantee

    @property
    def accepted(self) -> tuple[AssessedItem, ...]:
        return tuple(i for i in self.items if i.accepted)

    @property
    def withdrawn(self) -> tuple[AssessedItem, ...]:
        """The items of a withdrawal (7.2): accepted as return for a preference reason."""
        return tuple(i for i in self.accepted if i.kind == "return" and i.reason in PREFERENCE_REASONS)

    @property
    def gross(self) -> Decimal:
        return sum((i.unit_price * i.quantity for i in self.accepted), ZERO)


def _local_date(request: ReturnRequest, which: Literal["delivered", "requested"]) -> date:
    at = request.order.delivered_at if which == "delivered" else request.requested_at
    assert at is not None, "requested_at is set when the case starts"
    return at.astimezone(AMSTERDAM).date()


def add_months(day: date, months: int) -> date:
    """Calendar months; the 31st plus one month is the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def guarantee_until(request: ReturnRequest, policy: Policy, line_id: str, extra_months: int = 0) -> date:
    """The delivery date plus the line's warranty months (plus a repair's extension, as one
    calendar-month sum): the last day "in guarantee" of 2.1."""
    line = request.order.line(line_id)
    months = line.warranty_months if line.warranty_months is not None else policy.guarantee_months
    return add_months(_local_date(request, "delivered"), months + extra_months)


def repair_extension(request: ReturnRequest, policy: Policy) -> int:
    """7.1: the extension applies to orders placed (Amsterdam date) on or after repair_law_from."""
    placed = request.order.placed_at.astimezone(AMSTERDAM).date()
    return policy.repair_extension_months if placed >= policy.repair_law_from else 0


def classify(
    *, fault: bool, digital: bool, condition: str, in_window: bool, in_guarantee: bool
) -> tuple[ItemKind, str]:
    """Section 2.1: the first matching rule wins."""
    if digital and not fault:
        return "rejected", "digital-no-withdrawal"
    if fault and condition == "unopened" and in_window:
        return "return", "fault-unopened-in-window"
    if fault and in_guarantee:
        return "warranty", "fault-in-guarantee"
    if fault:
        return "rejected", "fault-out-of-guarantee"
    if condition == "used":
        return "rejected", "preference-used"
    if in_window:
        return "return", "preference-in-window"
    return "rejected", "preference-late"


def photo_rules(
    kind: ItemKind, category: str, reason: str, unit_price: Decimal, policy: Policy
) -> tuple[PhotoRequirement, ...]:
    """Section 2.2: each matching rule asks one photo; nothing else ever asks for one."""
    if kind == "rejected":
        return ()
    rules = []
    if kind == "warranty" and category in policy.photo_categories:
        rules.append("photo-fault-electronics")
    if reason == "damaged_on_arrival":
        rules.append("photo-damage")
    if kind == "warranty" and unit_price >= policy.high_value_from:
        rules.append("photo-high-value")
    return tuple(PhotoRequirement(rule=r, instruction=PHOTO_INSTRUCTIONS[r]) for r in rules)


def assess(request: ReturnRequest, policy: Policy, accept_as: AcceptKind | None = None) -> Assessment:
    """Classify every item; `accept_as` is the ops `accept` override for rejected items."""
    delivered, requested = _local_date(request, "delivered"), _local_date(request, "requested")
    in_window = (requested - delivered).days <= policy.return_window_days
    listed = {item.line_id for item in request.items}
    verdicts: dict[str, tuple[ItemKind, str]] = {}
    for item in request.items:
        line = request.order.line(item.line_id)
        verdicts[item.line_id] = classify(
            fault=item.reason in FAULT_REASONS,
            digital=line.kind == "digital",
            condition=item.condition,
            in_window=in_window,
            in_guarantee=requested <= guarantee_until(request, policy, item.line_id),
        )
    # A gift returned together with its parent follows the parent.
    gifts_with_parent = {
        item.line_id for item in request.items if request.order.line(item.line_id).gift_for in listed
    }
    for line_id in gifts_with_parent:
        parent = request.order.line(line_id).gift_for
        assert parent is not None
        verdicts[line_id] = verdicts[parent]
    if accept_as is not None:
        verdicts = {
            k: (accept_as, "ops-accept") if kind == "rejected" else (kind, rule)
            for k, (kind, rule) in verdicts.items()
        }

    items = []
    for item in request.items:
        line = request.order.line(item.line_id)
        kind, rule = verdicts[item.line_id]
        shipped = (
            kind != "rejected"
            and line.kind == "physical"
            and (kind == "return" or line.unit_price >= policy.returnless_below)
        )
        items.append(
            AssessedItem(
                line_id=line.line_id,
                sku=line.sku,
                name=line.name,
                quantity=item.quantity,
                unit_price=line.unit_price,
                line_kind=line.kind,
                reason=item.reason,
                kind=kind,
                rule=rule,
                photo_requirements=photo_rules(kind, line.category, item.reason, line.unit_price, policy),
                needs_shipment=shipped,
                needs_inspection=shipped and kind == "warranty",
            )
        )

    accepted_kinds = sorted({i.kind for i in items if i.accepted})
    case_kind: CaseKind = (
        "rejected" if not accepted_kinds else "mixed" if len(accepted_kinds) > 1 else accepted_kinds[0]
    )
    # 7.1: repair when every accepted item (a gift with its parent aside) is shipped and of a
    # repair category; a warranty case only, so a mixed case never allows it.
    repairable = case_kind == "warranty" and all(
        i.needs_shipment and request.order.line(i.line_id).category in policy.repair_categories
        for i in items
        if i.accepted and i.line_id not in gifts_with_parent
    )
    # A mixed case allows what all its accepted items allow.
    allowed = tuple(
        r
        for r in RESOLUTION_ORDER
        if (r == "repair" and repairable) or (accepted_kinds and all(r in ALLOWED[k] for k in accepted_kinds))
    )
    deductions, revocable = _gift_rules(request, items)
    return Assessment(
        kind=case_kind,
        items=tuple(items),
        allowed_resolutions=allowed,
        gift_deductions=deductions,
        revocable_gifts=revocable,
        fee_deductions=_return_fee(items, policy),
        additions=_delivery_refund(request, items),
        repair_extension_months=repair_extension(request, policy),
    )


def _return_fee(items: list[AssessedItem], policy: Policy) -> tuple[Deduction, ...]:
    """7.4: one fee per case with an accepted return item of a preference reason; never for a fault."""
    fee = policy.return_fee
    if fee <= 0 or not any(i.kind == "return" and i.reason in PREFERENCE_REASONS for i in items):
        return ()
    explanation = (
        f"Return fee of €{fmt(fee)} for returning without a fault, as the shop's conditions state; "
        "a faulty product is returned free of charge."
    )
    return (Deduction(line_id=None, rule="return-fee", amount=fee, explanation=explanation),)


def _delivery_refund(request: ReturnRequest, items: list[AssessedItem]) -> tuple[Addition, ...]:
    """7.3: a whole order withdrawn (every paid line, its full quantity, every item a return for a
    preference reason) gets its standard delivery costs back."""
    order = request.order
    price = order.delivery_price
    returned = {i.line_id: i.quantity for i in items}
    paid = [line for line in order.lines if line.unit_price > 0]
    whole_order = all(returned.get(line.line_id) == line.quantity for line in paid)
    withdrawn = all(i.kind == "return" and i.reason in PREFERENCE_REASONS for i in items)
    if price <= 0 or not whole_order or not withdrawn:
        return ()
    explanation = f"The standard delivery costs of €{fmt(price)} are paid back: the whole order is withdrawn."
    return (Addition(rule="withdrawal-delivery-refund", amount=price, explanation=explanation),)


def _gift_rules(
    request: ReturnRequest, items: list[AssessedItem]
) -> tuple[tuple[Deduction, ...], tuple[str, ...]]:
    """Section 2.5: a digital gift is revoked, never deducted; an unreturned physical gift
    costs its list price."""
    listed = {i.line_id for i in items}
    deductions: list[Deduction] = []
    revocable: list[str] = []
    for parent in (i for i in items if i.kind == "return"):
        for gift in (g for g in request.order.lines if g.gift_for == parent.line_id):
            if gift.kind == "digital":
                revocable.append(gift.line_id)
            elif gift.line_id not in listed:
                list_price = gift.list_price if gift.list_price is not None else gift.unit_price
                amount = round_cents(list_price * gift.quantity)
                deductions.append(
                    Deduction(
                        line_id=gift.line_id,
                        rule="gift-not-returned",
                        amount=amount,
                        explanation=(
                            f"Free gift '{gift.name}' came with '{parent.name}' and is not being "
                            f"returned: its list price of €{amount} is deducted. Send it back with "
                            "the parcel and nothing is deducted."
                        ),
                    )
                )
    return tuple(deductions), tuple(revocable)


def quote(assessment: Assessment, resolution: Resolution | None, deductions_waived: bool) -> Quote:
    """Gift deductions apply to refund and store credit; before a choice the quote shows them too,
    since every resolution a case with a returned item allows is a refund or store credit. The
    return fee applies whatever the resolution; waive_deduction waives every deduction. Additions
    are paid whatever the resolution."""
    gross = round_cents(assessment.gross)
    gifts = () if resolution in ("replacement", "repair") else assessment.gift_deductions
    applied = () if deductions_waived else gifts + assessment.fee_deductions
    added = sum((a.amount for a in assessment.additions), ZERO)
    total = max(ZERO, gross + added - sum((d.amount for d in applied), ZERO))
    return Quote(gross=gross, additions=assessment.additions, deductions=applied, total=total)


def store_credit_amount(total: Decimal, policy: Policy) -> Decimal:
    return round_cents(total * (1 + policy.store_credit_bonus_pct / 100))
