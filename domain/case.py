"""ReturnCase: the state of one return, nothing but the fold of its events (`evolve`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain import events as ev
from domain import messages
from domain.assessment import AssessedItem, Assessment, Quote, guarantee_until, quote
from domain.effect_registry import Done
from domain.effects import (
    CustomerMessage,
    Effect,
    LicenceRevocation,
    Refund,
    RepairOrder,
    Replacement,
    StoreCredit,
)
from domain.events import Event, Need
from domain.messages import Template
from domain.money import ZERO
from domain.policy import Policy
from domain.request import Resolution, ReturnRequest

Outcome = Literal["resolved", "rejected", "cancelled", "expired"]
NEED_ORDER: tuple[Need, ...] = ("photos", "choice", "parcel", "inspection", "repair")


class OverrideRecord(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: str
    actor: str
    reason: str
    at: datetime


class FailedMessage(BaseModel):
    """A customer message the mail server refused for good (a late fact)."""

    model_config = ConfigDict(frozen=True)
    key: str
    template: str
    reason: str
    at: datetime


# The contract's statuses (section 3): awaiting_<need> while a need is open, then an outcome.
Status = Literal[
    "awaiting_photos",
    "awaiting_choice",
    "awaiting_parcel",
    "awaiting_inspection",
    "awaiting_repair",
    "resolved",
    "rejected",
    "cancelled",
    "expired",
]


class ReturnCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    return_id: str
    version: int
    request: ReturnRequest
    policy: Policy
    assessment: Assessment
    resolution: Resolution | None
    opened_at: datetime
    # Photo, choice and parcel deadlines count from here: the start, or an ops accept that
    # reopened a rejected case (the customer only learns of the needs then).
    needs_since: datetime
    photos: dict[str, tuple[str, ...]] = {}
    photos_waived: bool = False
    deductions_waived: bool = False
    parcel_received_at: datetime | None = None
    inspection: Literal["passed", "failed"] | None = None
    # Contract 7.1: the repair order (placed, then its ledger row), overdue, completed.
    repair_ordered_at: datetime | None = None
    repair_ordered: tuple[str, ...] = ()
    repair_overdue: bool = False
    repaired_at: datetime | None = None
    repair_note: str = ""
    reminded: tuple[Need, ...] = ()
    outcome: Outcome | None = None
    rejected_at: datetime | None = None
    closed_at: datetime | None = None
    resolved: ev.CaseResolved | None = None
    refunded: Decimal = ZERO
    store_credit: Decimal = ZERO
    replaced: tuple[str, ...] = ()
    revoked_gifts: tuple[str, ...] = ()
    customer_messages: tuple[str, ...] = ()
    overrides: tuple[OverrideRecord, ...] = ()
    # Late facts, recorded even after the case closed.
    failed_messages: tuple[FailedMessage, ...] = ()
    replacement_order_id: str | None = None
    pending_effects: tuple[Effect, ...] = ()

    # --- needs, derived, never stored ---------------------------------------------------------
    def photos_missing(self, item: AssessedItem) -> int:
        if self.photos_waived or not item.accepted:
            return 0
        return max(0, len(item.photo_requirements) - len(self.photos.get(item.line_id, ())))

    @property
    def needs(self) -> list[Need]:
        """Open needs in contract order; a case that has an outcome needs nothing."""
        accepted = self.assessment.accepted
        if self.outcome is not None or not accepted:
            return []
        found: list[Need] = []
        if any(self.photos_missing(i) for i in accepted):
            found.append("photos")
        if self.resolution is None:
            found.append("choice")
        if any(i.needs_shipment for i in accepted):
            if self.parcel_received_at is None:
                found.append("parcel")
            elif any(i.needs_inspection for i in accepted) and self.inspection is None:
                found.append("inspection")
        # From the repair order on, while repair is still the resolution (ops may set another).
        if self.resolution == "repair" and self.repair_ordered_at is not None and self.repaired_at is None:
            found.append("repair")
        return found

    @property
    def status(self) -> str:
        if self.outcome is not None:
            return self.outcome
        needs = self.needs
        return f"awaiting_{needs[0]}" if needs else "resolved"

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def quote(self) -> Quote:
        return quote(self.assessment, self.resolution, self.deductions_waived)

    def due(self, need: Need) -> datetime | None:
        """When a need falls due (contract 3, Deadlines): photos, choice and parcel count from the
        start (or the accept that reopened the case), inspection from the parcel, repair from
        the repair order; None while that starting point has not come."""
        p = self.policy
        if need in ("photos", "choice", "parcel"):
            days = {"photos": p.photos_due_days, "choice": p.choice_due_days, "parcel": p.parcel_due_days}
            return self.needs_since + timedelta(days=days[need])
        since = self.parcel_received_at if need == "inspection" else self.repair_ordered_at
        days_after = p.inspection_due_days if need == "inspection" else p.repair_due_days
        return since + timedelta(days=days_after) if since is not None else None

    def item(self, line_id: str) -> AssessedItem | None:
        return next((i for i in self.assessment.items if i.line_id == line_id), None)

    def guarantee_until(self, item: AssessedItem) -> date | None:
        """7.1: warranty items only; a completed repair adds the extension decided at intake."""
        if item.kind != "warranty":
            return None
        repaired = self.repaired_at is not None and self.resolution == "repair"
        extra = self.assessment.repair_extension_months if repaired else 0
        return guarantee_until(self.request, self.policy, item.line_id, extra)


def _key(case: ReturnCase, what: str) -> str:
    """Idempotency key: the case and the stream version of the event that called for the effect."""
    return f"{case.case_id}:{case.version}:{what}"


def _message(
    case: ReturnCase, template: Template, data: Callable[[], dict[str, Any]], done: Collection[str]
) -> CustomerMessage:
    """The message effect; its data (most of a fold's work) only when it may be seen pending:
    not when its key is in `done` (see `fold`)."""
    customer = case.request.order.customer
    key = _key(case, f"message:{template}")
    return CustomerMessage(
        key=key,
        return_id=case.return_id,
        customer_id=customer.id,
        email=customer.email,
        template=template,
        data={} if key in done else {**messages.common(case), **data()},
    )


def _resolution_effects(case: ReturnCase, e: ev.CaseResolved, done: Collection[str]) -> list[Effect]:
    order = case.request.order
    out: list[Effect] = []
    if e.resolution == "refund":
        out.append(
            Refund(
                key=_key(case, "refund"),
                return_id=case.return_id,
                amount=e.refund,
                payment_method=order.payment.method,
                payment_reference=order.payment.reference,
            )
        )
    elif e.resolution == "store_credit":
        out.append(
            StoreCredit(
                key=_key(case, "store_credit"),
                return_id=case.return_id,
                customer_id=order.customer.id,
                amount=e.store_credit,
            )
        )
    elif e.resolution == "replacement":
        out.append(
            Replacement(
                key=_key(case, "replacement"),
                return_id=case.return_id,
                order_id=order.order_id,
                line_ids=e.replace,
            )
        )
    for line_id in e.revoke:
        out.append(
            LicenceRevocation(
                key=_key(case, f"revocation:{line_id}"),
                return_id=case.return_id,
                order_id=order.order_id,
                line_id=line_id,
                sku=order.line(line_id).sku,
            )
        )
    # The repair order went out when it was placed; a repair resolves with nothing to pay.
    messages_before = case.customer_messages or [x for x in case.pending_effects if x.effect == "message"]
    first = not messages_before
    out.append(_message(case, "case_resolved", lambda: messages.resolved(case, e, first=first), done))
    return out


def _calls_for(case: ReturnCase, e: Event, done: Collection[str]) -> list[Effect]:
    """The effects an event calls for, derived from the state right after it."""
    if isinstance(e, ev.CaseAssessed | ev.CaseReassessed) and case.outcome is None and case.needs:
        return [_message(case, "case_opened", lambda: messages.opened(case), done)]
    if isinstance(e, ev.CaseRejected):
        return [_message(case, "case_rejected", lambda: messages.rejected(case), done)]
    if isinstance(e, ev.ReminderDue):
        return [_message(case, "reminder", lambda: messages.reminder(case, e.needs), done)]
    if isinstance(e, ev.CaseExpired):
        return [_message(case, "case_expired", lambda: messages.expired(case, e.need), done)]
    if isinstance(e, ev.InspectionFailed):
        return [_message(case, "inspection_failed", lambda: messages.inspection_failed(case, e.note), done)]
    if isinstance(e, ev.CaseResolved):
        return _resolution_effects(case, e, done)
    if isinstance(e, ev.RepairOrderPlaced):
        order = case.request.order
        return [
            RepairOrder(
                key=_key(case, "repair_order"),
                return_id=case.return_id,
                order_id=order.order_id,
                line_ids=e.line_ids,
            )
        ]
    return []


def _done(case: ReturnCase, key: str, **update: Any) -> ReturnCase:
    remaining = tuple(x for x in case.pending_effects if x.key != key)
    return case.model_copy(update={"pending_effects": remaining, **update})


def _apply(case: ReturnCase, e: Event) -> ReturnCase:
    """The case after `e`, at the next version: one copy of the case per event (a rebuild folds
    every stored event; a copy for the version and another for the change was 8 % of it)."""
    next_version = case.version + 1

    def u(*, update: dict[str, Any]) -> ReturnCase:
        return case.model_copy(update={**update, "version": next_version})

    match e:
        case ev.CaseReassessed():
            return u(update={"assessment": e.assessment, "resolution": e.resolution})
        case ev.CaseRejected():
            return u(update={"outcome": "rejected", "rejected_at": e.at})
        case ev.PhotosSubmitted():
            photos = {**case.photos, e.line_id: case.photos.get(e.line_id, ()) + e.photos}
            return u(update={"photos": photos})
        case ev.ResolutionChosen() | ev.ResolutionDefaulted():
            return u(update={"resolution": e.resolution})
        case ev.ParcelReceived():
            return u(update={"parcel_received_at": e.at})
        case ev.InspectionPassed():
            return u(update={"inspection": "passed"})
        case ev.InspectionFailed():
            return u(update={"inspection": "failed", "outcome": "rejected", "rejected_at": e.at})
        case ev.ReminderDue():
            return u(update={"reminded": case.reminded + e.needs})
        case ev.CaseExpired():
            return u(update={"outcome": "expired", "closed_at": e.at})
        case ev.CaseCancelled():
            return u(update={"outcome": "cancelled", "closed_at": e.at})
        case ev.OverrideApplied():
            record = OverrideRecord(type=e.override, actor=e.actor, reason=e.reason, at=e.at)
            update: dict[str, Any] = {"overrides": (*case.overrides, record)}
            if e.override == "accept":
                # Reopens a rejected case; after a failed inspection it also approves the inspection.
                update |= {"outcome": None, "rejected_at": None, "needs_since": e.at, "reminded": ()}
                if case.inspection == "failed":
                    update["inspection"] = "passed"
            elif e.override == "waive_photos":
                update["photos_waived"] = True
            elif e.override == "waive_deduction":
                update["deductions_waived"] = True
            elif e.override == "set_resolution":
                update["resolution"] = e.resolution
            elif e.override == "approve_inspection":
                update["inspection"] = "passed"
            return u(update=update)
        case ev.CaseResolved():
            return u(update={"outcome": "resolved", "closed_at": e.at, "resolved": e})
        case ev.RepairOrderPlaced():
            return u(update={"repair_ordered_at": e.at})
        case ev.RepairOverdue():
            return u(update={"repair_overdue": True})
        case ev.RepairCompleted():
            return u(update={"repaired_at": e.at, "repair_note": e.note})
        case ev.AppealWindowClosed():
            return u(update={"closed_at": e.at})
        case ev.RefundIssued():
            return _done(case, e.key, version=next_version, refunded=case.refunded + e.amount)
        case ev.StoreCreditIssued():
            return _done(case, e.key, version=next_version, store_credit=case.store_credit + e.amount)
        case ev.ReplacementOrdered():
            return _done(case, e.key, version=next_version, replaced=case.replaced + e.line_ids)
        case ev.RepairOrdered():
            return _done(case, e.key, version=next_version, repair_ordered=case.repair_ordered + e.line_ids)
        case ev.LicenceRevoked():
            return _done(case, e.key, version=next_version, revoked_gifts=(*case.revoked_gifts, e.line_id))
        case ev.MessageSent():
            return _done(
                case, e.key, version=next_version, customer_messages=(*case.customer_messages, e.template)
            )
        case ev.MessageFailed():
            failed = FailedMessage(key=e.key, template=e.template, reason=e.reason, at=e.at)
            return u(update={"failed_messages": (*case.failed_messages, failed)})
        case ev.ReplacementOrderConfirmed():
            return u(update={"replacement_order_id": e.order_id})
    raise AssertionError(f"unhandled event {e.type}")


def evolve(case: ReturnCase | None, e: Event, done: Collection[str] = frozenset()) -> ReturnCase:
    """Apply one event; the effects it calls for join the pending ones, in order. `done`: keys
    of effects that events still to come record done (`fold`); such a message joins without its
    data, which nothing reads before its done event takes it out again."""
    if isinstance(e, ev.CaseAssessed):
        if case is not None:
            raise ValueError("case_assessed must be the first event of a case")
        case = ReturnCase(
            case_id=e.case_id,
            return_id=e.return_id,
            version=1,
            request=e.request,
            policy=e.policy,
            assessment=e.assessment,
            resolution=e.resolution,
            opened_at=e.at,
            needs_since=e.at,
            # Photos uploaded with the form count towards the photo rules.
            photos={i.line_id: tuple(i.photos) for i in e.request.items if i.photos},
        )
    else:
        if case is None:
            raise ValueError(f"{e.type} before case_assessed")
        case = _apply(case, e)
    effects = _calls_for(case, e, done)
    if effects:
        case = case.model_copy(update={"pending_effects": case.pending_effects + tuple(effects)})
    return case


def fold(events: Iterable[Event], case: ReturnCase | None = None) -> ReturnCase | None:
    """The case after `events`: the same as evolving them one by one. A message that a later
    event of `events` records sent (a stored stream has them all sent) is never seen pending
    by the caller, so its data is not built (it was most of a rebuild's folding; issue 15)."""
    events = list(events)
    done = {e.key for e in events if isinstance(e, Done)}
    for e in events:
        case = evolve(case, e, done)
    return case
