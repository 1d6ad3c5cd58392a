"""decide(state, command, now) -> events: every rule of the contract about what happens next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from domain import commands as cmd
from domain import events as ev
from domain.assessment import assess, store_credit_amount
from domain.case import ReturnCase, evolve, fold
from domain.effect_registry import route
from domain.events import Event, Need
from domain.money import ZERO


class Refused(Exception):
    """An action not allowed now; the message names the reason and the current status."""


@dataclass(frozen=True)
class Timer:
    at: datetime
    action: Literal["remind", "expire", "default_choice", "auto_inspection", "close_appeal", "repair_overdue"]
    need: Need | None = None

    def summary(self, now: datetime) -> str:
        """For the timer in the UI: "Photos reminder in 7 days (2026-12-02 10:00 UTC)"."""
        what = {
            "remind": f"{self.need} reminder",
            "expire": f"expiry for missing {self.need}",
            "default_choice": "refund default for a missing choice",
            "auto_inspection": "inspection auto-approval",
            "close_appeal": "end of the appeal window",
            "repair_overdue": "ops attention for an overdue repair",
        }[self.action]
        left = self.at - now
        days, hours = left.days, left.seconds // 3600
        when = f"{days} day{'s' * (days != 1)}" if days else f"{hours} hour{'s' * (hours != 1)}"
        return f"{what.capitalize()} in {when} ({self.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def timers(case: ReturnCase) -> list[Timer]:
    """Every deadline still ahead of the case, in time order. Photo, choice and parcel
    deadlines count from the start of the case (or the ops accept that reopened it), inspection
    from the parcel, appeal from rejection."""
    p, start, out = case.policy, case.needs_since, []
    if case.outcome == "rejected" and not case.closed and case.rejected_at is not None:
        out.append(Timer(case.rejected_at + timedelta(days=p.appeal_days), "close_appeal"))
    needs = case.needs
    for need, remind, due, at_due in (
        ("photos", p.photos_reminder_days, p.photos_due_days, "expire"),
        ("choice", p.choice_reminder_days, p.choice_due_days, "default_choice"),
        ("parcel", p.parcel_reminder_days, p.parcel_due_days, "expire"),
    ):
        if need in needs:
            if need not in case.reminded and remind < due:
                out.append(Timer(start + timedelta(days=remind), "remind", need))
            out.append(Timer(start + timedelta(days=due), at_due, need))  # type: ignore[arg-type]
    if "inspection" in needs and case.parcel_received_at is not None:
        at = case.parcel_received_at + timedelta(days=p.inspection_due_days)
        out.append(Timer(at, "auto_inspection", "inspection"))
    if "repair" in needs and not case.repair_overdue and case.repair_ordered_at is not None:
        at = case.repair_ordered_at + timedelta(days=p.repair_due_days)
        out.append(Timer(at, "repair_overdue", "repair"))
    return sorted(out, key=lambda t: t.at)


def _refuse(case: ReturnCase, action: str, reason: str) -> Refused:
    return Refused(f"{action} refused for {case.return_id} (status {case.status}): {reason}")


def _open(c: cmd.OpenCase, now: datetime) -> list[Event]:
    try:
        request = c.request.at(now)
    except ValueError as e:  # delivered after the moment the case starts
        raise Refused(f"submit refused for {c.request.return_id}: {e}") from None
    assessment = assess(request, c.policy)
    preferred = request.preferred_resolution
    resolution = preferred if preferred in assessment.allowed_resolutions else None
    opened: list[Event] = [
        ev.CaseAssessed(
            at=now,
            case_id=c.case_id,
            return_id=request.return_id,
            request=request,
            policy=c.policy,
            assessment=assessment,
            resolution=resolution,
        )
    ]
    if assessment.kind == "rejected":
        opened.append(ev.CaseRejected(at=now))
    return opened


def _action(case: ReturnCase, c: cmd.Action, now: datetime) -> list[Event]:
    if case.closed:
        raise _refuse(case, c.action, "the case is closed")
    needs = case.needs
    match c:
        case cmd.SubmitPhotos():
            item = case.item(c.line_id)
            if item is None:
                raise _refuse(case, c.action, f"line {c.line_id} is not an item of this return")
            if not case.photos_missing(item):
                raise _refuse(case, c.action, f"item {c.line_id} needs no photos")
            return [ev.PhotosSubmitted(at=now, line_id=c.line_id, photos=c.photos)]
        case cmd.ChooseResolution():
            if case.outcome is not None:
                raise _refuse(case, c.action, "the case is no longer open")
            if case.repair_ordered_at is not None:
                raise _refuse(case, c.action, "the repair order has been placed")
            allowed = case.assessment.allowed_resolutions
            if c.resolution not in allowed:
                raise _refuse(case, c.action, f"{c.resolution} is not allowed; allowed: {', '.join(allowed)}")
            return [ev.ResolutionChosen(at=now, resolution=c.resolution)]
        case cmd.ReceiveParcel():
            if "parcel" not in needs:
                raise _refuse(case, c.action, "the case is not awaiting a parcel")
            return [ev.ParcelReceived(at=now)]
        case cmd.ReportInspection():
            if "inspection" not in needs:
                raise _refuse(case, c.action, "the case is not awaiting inspection")
            if c.passed:
                return [ev.InspectionPassed(at=now, note=c.note)]
            return [ev.InspectionFailed(at=now, note=c.note)]
        case cmd.CompleteRepair():
            if "repair" not in needs:
                raise _refuse(case, c.action, "the case is not awaiting repair")
            return [ev.RepairCompleted(at=now, note=c.note)]
        case cmd.CancelCase():
            if case.outcome is not None:
                raise _refuse(case, c.action, "the case is no longer open")
            if case.repair_ordered_at is not None:
                raise _refuse(case, c.action, "the repair order has been placed")
            if case.parcel_received_at is not None:
                raise _refuse(case, c.action, "the parcel has already been received")
            return [ev.CaseCancelled(at=now, by="customer")]
        case cmd.ApplyOverride():
            return _override(case, c, now)
    raise AssertionError(c)


def _override(case: ReturnCase, c: cmd.ApplyOverride, now: datetime) -> list[Event]:
    applied = ev.OverrideApplied(
        at=now,
        override=c.type,
        actor=c.actor,
        reason=c.reason,
        kind=c.kind,
        resolution=c.resolution,
    )
    refuse = f"override {c.type}"
    if c.type == "accept":
        if case.outcome != "rejected":
            raise _refuse(case, refuse, "only a rejected case can be accepted")
        assert c.kind is not None
        reassessed = assess(case.request, case.policy, accept_as=c.kind)
        if reassessed == case.assessment:
            return [applied]
        preferred = case.request.preferred_resolution
        keep = case.resolution or (preferred if preferred in reassessed.allowed_resolutions else None)
        resolution = keep if keep in reassessed.allowed_resolutions else None
        return [applied, ev.CaseReassessed(at=now, assessment=reassessed, resolution=resolution)]
    if c.type == "waive_photos" and "photos" not in case.needs:
        raise _refuse(case, refuse, "the case is not awaiting photos")
    if c.type == "approve_inspection" and "inspection" not in case.needs:
        raise _refuse(case, refuse, "the case is not awaiting inspection")
    if c.type in ("waive_deduction", "set_resolution") and case.outcome not in (None, "rejected"):
        raise _refuse(case, refuse, "the case is no longer open")
    if c.type == "set_resolution" and c.resolution == "repair":
        # Ops may set any other resolution; a repair needs what 7.1 checks, and is ordered once.
        allowed = case.assessment.allowed_resolutions
        if "repair" not in allowed:
            raise _refuse(case, refuse, f"repair is not allowed; allowed: {', '.join(allowed)}")
        if case.repair_ordered_at is not None:
            raise _refuse(case, refuse, "the repair order has already been placed")
    if c.type == "cancel":
        if case.outcome not in (None, "rejected"):
            raise _refuse(case, refuse, "the case is no longer open")
        return [applied, ev.CaseCancelled(at=now, by="ops")]
    return [applied]


def _tick(case: ReturnCase, now: datetime) -> list[Event]:
    due = [t for t in timers(case) if t.at <= now]
    expiry = next((t for t in due if t.action == "expire"), None)
    if expiry is not None:
        assert expiry.need is not None
        return [ev.CaseExpired(at=now, need=expiry.need)]
    out: list[Event] = []
    # Reminders due together go out as one message: few messages.
    reminders = tuple(t.need for t in due if t.action == "remind" and t.need is not None)
    if reminders:
        out.append(ev.ReminderDue(at=now, needs=reminders))
    for t in due:
        if t.action == "default_choice":
            out.append(ev.ResolutionDefaulted(at=now))
        elif t.action == "auto_inspection":
            days = case.policy.inspection_due_days
            out.append(ev.InspectionPassed(at=now, note=f"not reported within {days} days", automatic=True))
        elif t.action == "close_appeal":
            out.append(ev.AppealWindowClosed(at=now))
        elif t.action == "repair_overdue":
            out.append(ev.RepairOverdue(at=now))
    return out


def _effect_done(case: ReturnCase, c: cmd.EffectDone, now: datetime) -> list[Event]:
    effect = next((x for x in case.pending_effects if x.key == c.key), None)
    if effect is None:
        return []  # already recorded: a retried report changes nothing
    return [route(effect).done(now)]


def _late(case: ReturnCase, c: cmd.LateFact, now: datetime) -> list[Event]:
    """Late facts are accepted on a closed case too; each is recorded once (the same fact again
    changes nothing, so a relay or a shop may repeat it)."""
    match c:
        case cmd.MessageFailed():
            if any(f.key == c.key for f in case.failed_messages):
                return []
            return [ev.MessageFailed(at=now, key=c.key, template=c.template, reason=c.reason)]
        case cmd.ConfirmReplacementOrder():
            what = "replacement_order"
            if case.resolved is None or case.resolved.resolution != "replacement":
                raise _refuse(case, what, "the case was not resolved with a replacement")
            if case.replacement_order_id == c.order_id:
                return []
            if case.replacement_order_id is not None:
                raise _refuse(
                    case, what, f"the replacement order is already confirmed as {case.replacement_order_id}"
                )
            return [ev.ReplacementOrderConfirmed(at=now, order_id=c.order_id)]
    raise AssertionError(c)


def _resolve_when_ready(case: ReturnCase, now: datetime) -> list[Event]:
    """When every need is met the resolution is executed at once, paying exactly the quote."""
    if case.outcome is not None or case.needs or not case.assessment.accepted:
        return []
    resolution = case.resolution
    assert resolution is not None
    if resolution == "repair" and case.repair_ordered_at is None:
        # 7.1: the shipped items go to repair; the case resolves when the repair is reported.
        repaired = tuple(i.line_id for i in case.assessment.accepted if i.needs_shipment)
        return [ev.RepairOrderPlaced(at=now, line_ids=repaired)]
    total = case.quote.total
    return [
        ev.CaseResolved(
            at=now,
            resolution=resolution,
            refund=total if resolution == "refund" else ZERO,
            store_credit=store_credit_amount(total, case.policy) if resolution == "store_credit" else ZERO,
            replace=tuple(i.line_id for i in case.assessment.accepted) if resolution == "replacement" else (),
            revoke=case.assessment.revocable_gifts if resolution in ("refund", "store_credit") else (),
        )
    ]


def decide(case: ReturnCase | None, c: cmd.Command, now: datetime) -> list[Event]:
    """The events a command causes; raises Refused (changing nothing) when it is not allowed."""
    if isinstance(c, cmd.OpenCase):
        if case is not None:
            return []  # the same return_id again: the existing case answers
        events = _open(c, now)
    else:
        if case is None:
            raise Refused(f"{type(c).__name__} refused: the case has not been opened")
        if isinstance(c, cmd.Tick):
            events = _tick(case, now)
        elif isinstance(c, cmd.EffectDone):
            return _effect_done(case, c, now)
        elif isinstance(c, cmd.MessageFailed | cmd.ConfirmReplacementOrder):
            return _late(case, c, now)
        else:
            events = _action(case, c, now)
    after = fold(events, case)
    assert after is not None
    return events + _resolve_when_ready(after, now)


def next_timer(case: ReturnCase) -> Timer | None:
    pending = timers(case)
    return pending[0] if pending else None


__all__ = ["Refused", "Timer", "decide", "evolve", "fold", "next_timer", "timers"]
