"""Section 3: the life of a case, through the pure decider with an explicit clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain import commands as cmd
from domain.case import fold
from domain.decider import Refused, decide, next_timer
from domain.effects import CustomerMessage, Refund, StoreCredit
from domain.view import case_view
from tests.domain.helpers import T0, Driver, item, line, policy, request, text

MESSAGES = {"case_opened", "reminder", "case_resolved", "case_rejected", "case_expired", "inspection_failed"}
SECOND = timedelta(seconds=1)


# --- cases ---
def return_case(preferred: str | None = "refund", price: str = "20.00") -> dict[str, Any]:
    """A return: shipped with a label, no photos, no inspection."""
    return request(
        lines=[line("L1", unit_price=price)], items=[item("L1", condition="opened")], preferred=preferred
    )


def photo_case(preferred: str | None = "refund") -> dict[str, Any]:
    """A returnless warranty (39.95 < 50.00) that needs one photo (printer_supplies)."""
    return request(
        lines=[line("L1", category="printer_supplies", unit_price="39.95")],
        items=[item("L1", reason="defective", condition="used")],
        preferred=preferred,
    )


def inspected_case(preferred: str | None = "refund", category: str = "home") -> dict[str, Any]:
    """A warranty of 80.00: shipped and inspected; photos only in a photo category."""
    return request(
        lines=[line("L1", category=category, unit_price="80.00")],
        items=[item("L1", reason="defective", condition="used")],
        preferred=preferred,
    )


def all_needs_case() -> dict[str, Any]:
    return inspected_case(preferred=None, category="printers")


def intake_case(preferred: str | None = "refund") -> dict[str, Any]:
    """A returnless warranty without photo rules: nothing to wait for when the choice is made."""
    return request(
        lines=[line("L1", unit_price="30.00")],
        items=[item("L1", reason="defective", condition="used")],
        preferred=preferred,
    )


def rejected_case(category: str = "home", price: str = "30.00") -> dict[str, Any]:
    """Fault out of guarantee."""
    return request(
        lines=[line("L1", category=category, unit_price=price, warranty_months=1)],
        items=[item("L1", reason="defective", condition="used")],
        delivered_at="2026-08-01T12:00:00+02:00",
    )


def refused(d: Driver, command: Any, status: str) -> str:
    """The action is refused, names the current status, and changes nothing."""
    before_case, before_events, before_effects = d.case, list(d.events), list(d.effects)
    with pytest.raises(Refused) as info:
        d.apply(command)
    msg = str(info.value)
    assert status in msg
    assert d.case is before_case and d.events == before_events and d.effects == before_effects
    assert d.status == status
    return msg


def ovr(type_: str, **kw: Any) -> cmd.ApplyOverride:
    return cmd.ApplyOverride(
        type=type_, actor=kw.pop("actor", "ops:anna"), reason=kw.pop("reason", "r"), **kw
    )


# --- statuses and pending ---
def test_pending_lists_needs_in_contract_order() -> None:
    d = Driver(all_needs_case())
    v = d.view()
    assert v["kind"] == "warranty"
    assert (v["status"], v["pending"]) == ("awaiting_photos", ["photos", "choice", "parcel"])
    assert v["customer_messages"] == ["case_opened"]
    d.photos("L1")
    assert (d.status, d.view()["pending"]) == ("awaiting_choice", ["choice", "parcel"])
    d.choose("replacement")
    assert (d.status, d.view()["pending"]) == ("awaiting_parcel", ["parcel"])
    d.parcel()
    assert (d.status, d.view()["pending"]) == ("awaiting_inspection", ["inspection"])
    d.inspect(True)
    v = d.view()
    assert (v["status"], v["pending"]) == ("resolved", [])
    assert v["replaced"] == ["L1"]
    assert v["refunded"] == "0.00" and v["store_credit"] == "0.00"
    assert v["customer_messages"] == ["case_opened", "case_resolved"]
    assert v["closed_at"] is not None


def test_needs_are_met_in_any_order() -> None:
    d = Driver(all_needs_case())
    d.parcel()
    assert d.view()["pending"] == ["photos", "choice", "inspection"]
    d.inspect(True)
    assert d.view()["pending"] == ["photos", "choice"]
    d.choose("store_credit")
    assert d.view()["pending"] == ["photos"]
    d.photos("L1")
    v = d.view()
    assert v["status"] == "resolved"
    assert v["store_credit"] == "80.00" and v["refunded"] == "0.00"


def test_resolvable_at_intake_gets_only_case_resolved() -> None:
    d = Driver(intake_case())
    v = d.view()
    assert v["status"] == "resolved"
    assert v["pending"] == []
    assert v["customer_messages"] == ["case_resolved"]
    assert v["refunded"] == "30.00" == v["quote"]["total"]
    assert v["closed_at"] == v["opened_at"]
    assert d.sent("case_opened") == []


def test_case_opened_only_when_waiting_and_says_everything() -> None:
    d = Driver(all_needs_case())
    (opened,) = d.sent("case_opened")
    assert opened.data["kind"] == "warranty"
    assert opened.data["needs"] == ["photos", "choice", "parcel"]
    assert [p["instruction"] for p in opened.data["photos"]] == [
        "A photo of the error message or of the defect"
    ]
    assert opened.data["choose_from"] == ["repair", "replacement", "refund", "store_credit"]
    assert opened.data["label"] is True
    assert opened.data["quote"] == {"gross": "80.00", "additions": [], "deductions": [], "total": "80.00"}
    assert opened.data["photos"][0]["instruction"] == "A photo of the error message or of the defect"
    assert "een foto van de foutmelding of van het defect" in text(opened)
    assert "80,00" in text(opened)
    assert opened.email == "klant@example.nl"


def test_returnless_note_in_case_opened() -> None:
    d = Driver(photo_case())
    (opened,) = d.sent("case_opened")
    assert opened.data["label"] is False
    assert opened.data["returnless"] == ["Product L1"]


@pytest.mark.parametrize(
    "data,preferred,resolution,status",
    [
        (return_case, "refund", "refund", "awaiting_parcel"),
        (return_case, "store_credit", "store_credit", "awaiting_parcel"),
        (return_case, "replacement", None, "awaiting_choice"),
        (return_case, None, None, "awaiting_choice"),
        (inspected_case, "replacement", "replacement", "awaiting_parcel"),
        (inspected_case, None, None, "awaiting_choice"),
    ],
)
def test_preferred_resolution_is_used_when_allowed(
    data: Any, preferred: Any, resolution: Any, status: str
) -> None:
    d = Driver(data(preferred))
    v = d.view()
    assert v["resolution"] == resolution
    assert v["status"] == status
    assert ("choice" in v["pending"]) is (resolution is None)


def test_mixed_case_with_preferred_replacement_waits_for_a_choice() -> None:
    d = Driver(
        request(
            lines=[line("L1"), line("L2")],
            items=[item("L1"), item("L2", reason="defective", condition="used")],
            preferred="replacement",
        )
    )
    v = d.view()
    assert v["kind"] == "mixed"
    assert v["resolution"] is None
    assert v["status"] == "awaiting_choice"
    refused(d, cmd.ChooseResolution(resolution="replacement"), "awaiting_choice")
    d.choose("refund")
    d.parcel()
    assert d.view()["refunded"] == "40.00"


# --- rejected cases and the appeal window ---
def test_rejected_case_gets_case_rejected_and_closes_after_appeal_days() -> None:
    d = Driver(rejected_case())
    v = d.view()
    assert (v["status"], v["kind"], v["pending"]) == ("rejected", "rejected", [])
    assert v["customer_messages"] == ["case_rejected"]
    assert v["closed_at"] is None
    assert d.event_types[:2] == ["case_assessed", "case_rejected"]
    d.advance(to=T0 + timedelta(days=14) - SECOND)
    assert d.view()["closed_at"] is None
    d.advance(to=T0 + timedelta(days=14))
    v = d.view()
    assert v["status"] == "rejected"
    assert v["closed_at"] == "2026-11-03T07:00:00Z"
    assert "appeal_window_closed" in d.event_types
    assert v["customer_messages"] == ["case_rejected"]
    refused(d, ovr("accept", kind="warranty"), "rejected")


def test_appeal_days_come_from_the_policy() -> None:
    d = Driver(rejected_case(), policy(appeal_days=3))
    d.at_day(3)
    assert d.view()["closed_at"] == "2026-10-23T07:00:00Z"


def test_accept_as_warranty_of_a_rejected_case() -> None:
    d = Driver(rejected_case(category="printer_supplies", price="39.95"))
    d.at_day(2)
    d.override("accept", kind="warranty", actor="ops:piet", reason="goodwill")
    v = d.view()
    assert v["kind"] == "warranty"
    assert [(i["kind"], i["rule"]) for i in v["items"]] == [("warranty", "ops-accept")]
    assert v["status"] == "awaiting_photos"
    assert v["items"][0]["photo_instructions"] == ["A photo of the error message or of the defect"]
    assert v["overrides"][0]["type"] == "accept"
    assert v["overrides"][0]["actor"] == "ops:piet" and v["overrides"][0]["reason"] == "goodwill"
    assert v["customer_messages"] == ["case_rejected", "case_opened"]
    d.photos("L1")
    v = d.view()
    assert v["status"] == "resolved"
    assert v["refunded"] == "39.95"
    assert v["customer_messages"] == ["case_rejected", "case_opened", "case_resolved"]


def test_late_accept_gives_the_customer_full_deadlines_from_the_accept() -> None:
    """Needs the customer only learns of at the accept count from then, not from the start."""
    d = Driver(rejected_case(category="printer_supplies", price="39.95"))
    d.at_day(10)
    d.override("accept", kind="warranty")
    d.at_day(16.9)
    assert d.messages == ["case_rejected", "case_opened"]
    d.at_day(17.1)
    assert d.messages == ["case_rejected", "case_opened", "reminder"]
    d.at_day(23.9)
    assert d.status == "awaiting_photos"
    d.at_day(24.1)
    assert d.status == "expired"


def test_accept_as_return_of_a_rejected_case() -> None:
    d = Driver(request(lines=[line("L1", unit_price="25.00")], items=[item("L1", condition="used")]))
    assert d.status == "rejected"
    d.override("accept", kind="return")
    v = d.view()
    assert [(i["kind"], i["rule"]) for i in v["items"]] == [("return", "ops-accept")]
    assert v["status"] == "awaiting_parcel"
    assert v["allowed_resolutions"] == ["refund", "store_credit"]
    assert v["resolution"] == "refund"
    d.parcel()
    assert d.view()["refunded"] == "25.00"


def test_accept_that_needs_nothing_resolves_at_once() -> None:
    d = Driver(rejected_case())
    d.override("accept", kind="warranty")
    v = d.view()
    assert v["status"] == "resolved"
    assert v["customer_messages"] == ["case_rejected", "case_resolved"]
    assert v["refunded"] == "30.00"


def test_inspection_failed_then_accept_approves_the_inspection() -> None:
    d = Driver(inspected_case())
    d.at_day(3)
    d.parcel()
    d.inspect(False, note="waterschade")
    v = d.view()
    assert v["status"] == "rejected"
    assert v["customer_messages"] == ["case_opened", "inspection_failed"]
    assert "waterschade" in text(d.sent("inspection_failed")[0])
    assert "inspection_failed" in d.event_types
    d.at_day(10)
    d.override("accept", kind="warranty")
    v = d.view()
    assert v["status"] == "resolved"
    assert v["refunded"] == "80.00"
    assert v["customer_messages"] == ["case_opened", "inspection_failed", "case_resolved"]


def test_inspection_failed_appeal_window_counts_from_the_failure() -> None:
    d = Driver(inspected_case())
    d.at_day(3)
    d.parcel()
    d.at_day(4)
    d.inspect(False)
    d.advance(to=T0 + timedelta(days=18) - SECOND)
    assert d.view()["closed_at"] is None
    d.at_day(18)
    assert d.view()["closed_at"] == "2026-11-07T07:00:00Z"
    assert d.status == "rejected"


# --- timers ---
def test_photo_reminder_then_expiry() -> None:
    d = Driver(photo_case())
    d.advance(to=T0 + timedelta(days=7) - SECOND)
    assert d.messages == ["case_opened"]
    d.at_day(7)
    assert d.messages == ["case_opened", "reminder"]
    assert d.sent("reminder")[0].data["needs"] == ["photos"]
    d.advance(to=T0 + timedelta(days=14) - SECOND)
    assert d.status == "awaiting_photos"
    assert d.messages == ["case_opened", "reminder"]
    d.at_day(14)
    v = d.view()
    assert v["status"] == "expired"
    assert v["customer_messages"] == ["case_opened", "reminder", "case_expired"]
    assert v["closed_at"] == "2026-11-03T07:00:00Z"
    assert d.sent("case_expired")[0].data["need"] == "photos"
    assert v["refunded"] == "0.00"
    d.at_day(60)
    assert d.messages == ["case_opened", "reminder", "case_expired"]


def test_parcel_reminder_then_expiry() -> None:
    d = Driver(return_case())
    d.advance(to=T0 + timedelta(days=14) - SECOND)
    assert d.messages == ["case_opened"]
    d.at_day(14)
    assert d.messages == ["case_opened", "reminder"]
    assert d.sent("reminder")[0].data["needs"] == ["parcel"]
    d.advance(to=T0 + timedelta(days=30) - SECOND)
    assert d.status == "awaiting_parcel"
    d.at_day(30)
    assert d.status == "expired"
    assert d.messages == ["case_opened", "reminder", "case_expired"]
    assert d.sent("case_expired")[0].data["need"] == "parcel"


def test_parcel_on_time_cancels_the_timers() -> None:
    d = Driver(return_case())
    d.at_day(29)
    d.parcel()
    assert d.status == "resolved"
    d.at_day(90)
    assert d.messages == ["case_opened", "reminder", "case_resolved"]


def test_choice_reminder_then_refund_default() -> None:
    d = Driver(return_case(preferred=None))
    d.at_day(1)
    d.parcel()
    assert d.status == "awaiting_choice"
    d.at_day(7)
    assert d.messages == ["case_opened", "reminder"]
    assert d.sent("reminder")[0].data["needs"] == ["choice"]
    d.advance(to=T0 + timedelta(days=14) - SECOND)
    assert d.status == "awaiting_choice"
    d.at_day(14)
    v = d.view()
    assert v["status"] == "resolved"
    assert v["resolution"] == "refund"
    assert v["refunded"] == "20.00"
    assert "resolution_defaulted" in d.event_types
    assert d.event_types.index("resolution_defaulted") < d.event_types.index("case_resolved")
    assert v["customer_messages"] == ["case_opened", "reminder", "case_resolved"]


def test_refund_default_waits_for_the_other_needs() -> None:
    d = Driver(return_case(preferred=None))
    d.at_day(14)
    v = d.view()
    assert "resolution_defaulted" in d.event_types
    assert v["resolution"] == "refund"
    assert v["status"] == "awaiting_parcel"
    assert v["pending"] == ["parcel"]
    d.at_day(20)
    d.parcel()
    v = d.view()
    assert v["status"] == "resolved"
    assert v["refunded"] == "20.00"


def test_refund_default_for_a_warranty_case() -> None:
    d = Driver(intake_case(preferred=None))
    assert d.status == "awaiting_choice"
    d.at_day(14)
    v = d.view()
    assert v["status"] == "resolved"
    assert v["resolution"] == "refund" and v["refunded"] == "30.00"
    assert v["replaced"] == [] and v["store_credit"] == "0.00"


def test_choice_made_in_time_is_binding() -> None:
    d = Driver(intake_case(preferred=None))
    d.at_day(10)
    d.choose("store_credit")
    v = d.view()
    assert v["status"] == "resolved"
    assert v["store_credit"] == "30.00" and v["refunded"] == "0.00"
    assert "resolution_defaulted" not in d.event_types
    assert not any(isinstance(e, Refund) for e in d.effects)


def test_inspection_auto_approved_after_inspection_due_days() -> None:
    d = Driver(inspected_case())
    d.at_day(3)
    d.parcel()
    d.advance(to=T0 + timedelta(days=8) - SECOND)
    assert d.status == "awaiting_inspection"
    d.at_day(8)
    v = d.view()
    assert v["status"] == "resolved"
    assert v["refunded"] == "80.00"
    assert "inspection_passed" in d.event_types
    assert v["customer_messages"] == ["case_opened", "case_resolved"]


def test_reminders_due_together_are_one_message() -> None:
    d = Driver(photo_case(preferred=None))
    assert d.view()["pending"] == ["photos", "choice"]
    d.at_day(7)
    assert d.messages == ["case_opened", "reminder"]
    assert d.event_types.count("reminder_due") == 1
    assert d.sent("reminder")[0].data["needs"] == ["photos", "choice"]
    d.at_day(13)
    assert d.messages == ["case_opened", "reminder"]


def test_parcel_and_choice_reminders_combine_with_equal_settings() -> None:
    d = Driver(return_case(preferred=None), policy(parcel_reminder_days=7))
    d.at_day(7)
    assert d.messages == ["case_opened", "reminder"]
    assert d.sent("reminder")[0].data["needs"] == ["choice", "parcel"]


def test_reminders_at_different_moments_are_separate() -> None:
    d = Driver(return_case(preferred=None))
    d.at_day(13)
    assert d.messages == ["case_opened", "reminder"]
    d.at_day(14)
    assert d.messages == ["case_opened", "reminder", "reminder"]
    assert [m.data["needs"] for m in d.sent("reminder")] == [["choice"], ["parcel"]]


def test_no_reminder_for_a_need_already_met() -> None:
    d = Driver(photo_case(preferred=None))
    d.at_day(2)
    d.photos("L1")
    d.at_day(7)
    assert d.sent("reminder")[0].data["needs"] == ["choice"]


def test_timer_settings_come_from_the_policy() -> None:
    d = Driver(photo_case(), policy(photos_reminder_days=2, photos_due_days=5))
    d.at_day(2)
    assert d.messages == ["case_opened", "reminder"]
    d.at_day(5)
    assert d.status == "expired"


def test_next_timer_and_tick_with_nothing_due() -> None:
    d = Driver(photo_case())
    assert d.case is not None
    t = next_timer(d.case)
    assert t is not None and t.at == T0 + timedelta(days=7) and t.action == "remind"
    assert decide(d.case, cmd.Tick(), T0 + timedelta(days=1)) == []
    resolved = Driver(intake_case())
    assert resolved.case is not None and next_timer(resolved.case) is None


# --- actions allowed and refused ---
def test_submit_photos_refused_when_not_needed() -> None:
    d = Driver(photo_case())
    refused(d, cmd.SubmitPhotos(line_id="L9", photos=("x.jpg",)), "awaiting_photos")
    d.photos("L1", "a.jpg")
    assert d.status == "resolved"
    refused(d, cmd.SubmitPhotos(line_id="L1", photos=("b.jpg",)), "resolved")
    r = Driver(return_case())
    refused(r, cmd.SubmitPhotos(line_id="L1", photos=("x.jpg",)), "awaiting_parcel")


def test_submit_photos_refused_once_the_item_has_them() -> None:
    d = Driver(photo_case(preferred=None))
    d.photos("L1")
    assert d.status == "awaiting_choice"
    refused(d, cmd.SubmitPhotos(line_id="L1", photos=("again.jpg",)), "awaiting_choice")


def test_submit_photos_command_validation() -> None:
    with pytest.raises(ValidationError):
        cmd.SubmitPhotos(line_id="L1", photos=())
    with pytest.raises(ValidationError):
        cmd.SubmitPhotos(line_id="L1", photos=("  ",))


def test_choose_resolution_refused_when_not_allowed_or_resolved() -> None:
    d = Driver(return_case(preferred=None))
    msg = refused(d, cmd.ChooseResolution(resolution="replacement"), "awaiting_choice")
    assert "replacement" in msg
    d.choose("store_credit")
    d.choose("refund")  # still open: the customer may change their mind
    assert d.view()["resolution"] == "refund"
    d.parcel()
    refused(d, cmd.ChooseResolution(resolution="store_credit"), "resolved")
    assert d.view()["refunded"] == "20.00" and d.view()["store_credit"] == "0.00"


def test_choose_resolution_refused_for_rejected_case() -> None:
    refused(Driver(rejected_case()), cmd.ChooseResolution(resolution="refund"), "rejected")


def test_parcel_received_refused_when_not_awaiting_parcel() -> None:
    d = Driver(photo_case())  # returnless
    refused(d, cmd.ReceiveParcel(), "awaiting_photos")
    i = Driver(inspected_case())
    i.parcel()
    refused(i, cmd.ReceiveParcel(), "awaiting_inspection")
    refused(Driver(rejected_case()), cmd.ReceiveParcel(), "rejected")


def test_parcel_received_while_awaiting_photos_first() -> None:
    d = Driver(all_needs_case())
    assert d.status == "awaiting_photos"
    d.parcel()
    assert "parcel" not in d.view()["pending"]


def test_inspection_result_refused_unless_awaiting_inspection() -> None:
    d = Driver(inspected_case())
    refused(d, cmd.ReportInspection(passed=True), "awaiting_parcel")
    r = Driver(return_case(preferred=None))
    r.parcel()  # a return is never inspected
    refused(r, cmd.ReportInspection(passed=True), "awaiting_choice")
    d.parcel()
    d.inspect(True)
    refused(d, cmd.ReportInspection(passed=False), "resolved")


@pytest.mark.parametrize(
    "factory,status", [(photo_case, "awaiting_photos"), (intake_case, None), (return_case, "awaiting_parcel")]
)
def test_cancel_before_parcel(factory: Any, status: str | None) -> None:
    d = Driver(factory(None) if status is None else factory())
    d.at_day(3)
    d.cancel()
    v = d.view()
    assert v["status"] == "cancelled"
    assert v["closed_at"] == "2026-10-23T07:00:00Z"
    assert v["refunded"] == "0.00"
    assert set(v["customer_messages"]) <= {"case_opened"}
    d.at_day(60)
    assert d.view()["customer_messages"] == v["customer_messages"]
    refused(d, cmd.CancelCase(), "cancelled")
    refused(d, cmd.ChooseResolution(resolution="refund"), "cancelled")


def test_cancel_after_parcel_received_is_refused() -> None:
    d = Driver(return_case(preferred=None))
    d.parcel()
    msg = refused(d, cmd.CancelCase(), "awaiting_choice")
    assert "parcel" in msg
    i = Driver(inspected_case())
    i.parcel()
    refused(i, cmd.CancelCase(), "awaiting_inspection")


def test_cancel_after_resolved_is_refused() -> None:
    refused(Driver(intake_case()), cmd.CancelCase(), "resolved")


def test_actions_on_an_expired_case_are_refused() -> None:
    d = Driver(photo_case())
    d.at_day(14)
    for c in (
        cmd.SubmitPhotos(line_id="L1", photos=("late.jpg",)),
        cmd.ChooseResolution(resolution="refund"),
        cmd.CancelCase(),
        ovr("waive_photos"),
        ovr("cancel"),
    ):
        refused(d, c, "expired")


# --- overrides ---
def test_override_requires_actor_and_reason() -> None:
    for kw in (
        {"actor": "", "reason": "r"},
        {"actor": "  ", "reason": "r"},
        {"actor": "ops:anna", "reason": ""},
        {"actor": "ops:anna", "reason": " \t"},
        {"reason": "r"},
        {"actor": "ops:anna"},
    ):
        with pytest.raises(ValidationError) as info:
            cmd.ApplyOverride(type="waive_photos", **kw)
        assert ("actor" if kw.get("actor", "").strip() == "" else "reason") in str(info.value)


def test_override_arguments() -> None:
    with pytest.raises(ValidationError, match="kind"):
        cmd.ApplyOverride(type="accept", actor="a", reason="r")
    with pytest.raises(ValidationError):
        cmd.ApplyOverride(type="accept", actor="a", reason="r", kind="rejected")
    with pytest.raises(ValidationError, match="resolution"):
        cmd.ApplyOverride(type="set_resolution", actor="a", reason="r")
    with pytest.raises(ValidationError):
        cmd.ApplyOverride(type="refund_twice", actor="a", reason="r")


def test_override_is_audited() -> None:
    d = Driver(photo_case())
    d.at_day(1)
    d.override("waive_photos", actor="ops:anna", reason="klant belde")
    v = d.view()
    assert v["overrides"] == [
        {"type": "waive_photos", "actor": "ops:anna", "reason": "klant belde", "at": "2026-10-21T07:00:00Z"}
    ]
    assert v["status"] == "resolved"
    assert v["refunded"] == "39.95"
    assert v["customer_messages"] == ["case_opened", "case_resolved"]


def test_accept_refused_unless_rejected() -> None:
    refused(Driver(photo_case()), ovr("accept", kind="warranty"), "awaiting_photos")
    refused(Driver(intake_case()), ovr("accept", kind="return"), "resolved")


def test_waive_photos_refused_unless_awaiting_photos() -> None:
    refused(Driver(return_case()), ovr("waive_photos"), "awaiting_parcel")
    refused(Driver(intake_case()), ovr("waive_photos"), "resolved")


def test_waive_deduction_before_resolved_only() -> None:
    d = Driver(return_case())
    d.override("waive_deduction")
    assert d.view()["overrides"][0]["type"] == "waive_deduction"
    refused(Driver(intake_case()), ovr("waive_deduction"), "resolved")


def test_set_resolution_before_resolved_only() -> None:
    d = Driver(return_case(preferred=None))
    d.override("set_resolution", resolution="store_credit")
    assert d.view()["resolution"] == "store_credit"
    assert d.status == "awaiting_parcel"
    d.parcel()
    assert d.view()["store_credit"] == "20.00"
    refused(d, ovr("set_resolution", resolution="refund"), "resolved")


def test_approve_inspection_while_awaiting_inspection_only() -> None:
    d = Driver(inspected_case())
    refused(d, ovr("approve_inspection"), "awaiting_parcel")
    d.parcel()
    d.override("approve_inspection")
    v = d.view()
    assert v["status"] == "resolved"
    assert v["refunded"] == "80.00"
    refused(d, ovr("approve_inspection"), "resolved")


def test_ops_cancel_before_resolved_even_after_parcel() -> None:
    d = Driver(inspected_case())
    d.parcel()
    d.override("cancel")
    assert d.status == "cancelled"
    assert d.view()["refunded"] == "0.00"
    refused(Driver(intake_case()), ovr("cancel"), "resolved")


def test_ops_cancel_of_a_rejected_case() -> None:
    d = Driver(rejected_case())
    d.override("cancel")
    assert d.status == "cancelled"
    assert d.view()["closed_at"] is not None


# --- effects: exactly once, and exactly the quote ---
def test_each_effect_is_pending_once_and_recorded_once() -> None:
    d = Driver(return_case())
    case = d.case
    assert case is not None
    events = decide(case, cmd.ReceiveParcel(), T0 + timedelta(days=1))
    after = fold(events, case)
    assert after is not None
    keys = [e.key for e in after.pending_effects]
    assert len(keys) == len(set(keys))
    assert [type(e) for e in after.pending_effects] == [Refund, CustomerMessage]
    refund = after.pending_effects[0]
    assert isinstance(refund, Refund)
    first = decide(after, cmd.EffectDone(key=refund.key), T0 + timedelta(days=1))
    assert [e.type for e in first] == ["refund_issued"]
    done = fold(first, after)
    assert done is not None
    assert decide(done, cmd.EffectDone(key=refund.key), T0 + timedelta(days=1)) == []
    assert case_view(done).refunded == refund.amount
    # A retried report, folded anyway, would not have been decided: the ledger shows one refund.
    assert decide(done, cmd.EffectDone(key="unknown"), T0 + timedelta(days=1)) == []


def test_every_effect_key_is_unique_over_a_case() -> None:
    d = Driver(all_needs_case())
    d.at_day(7)
    d.photos("L1")
    d.choose("refund")
    d.parcel()
    d.inspect(True)
    keys = [e.key for e in d.effects]
    assert len(keys) == len(set(keys))
    assert d.case is not None and d.case.pending_effects == ()
    assert [e.template for e in d.effects if isinstance(e, CustomerMessage)] == d.messages


def test_open_again_returns_the_existing_case() -> None:
    d = Driver(return_case())
    assert d.case is not None
    again = cmd.OpenCase(case_id="return-test", request=d.case.request, policy=d.policy)
    assert decide(d.case, again, T0 + timedelta(hours=1)) == []


def test_requested_at_defaults_to_the_start_of_the_case() -> None:
    late = request(lines=[line("L1")], items=[item("L1")], requested_at="none")
    # Delivered 2026-10-02 (Amsterdam); started on day 31 -> late; on day 30 -> in window.
    d = Driver(late, at=T0.replace(month=11, day=2, hour=8))
    assert d.view()["items"][0]["rule"] == "preference-late"
    assert d.status == "rejected"
    d = Driver(late, at=T0.replace(month=11, day=1, hour=22))  # 23:00 in Amsterdam, still 1 November
    assert d.view()["items"][0]["rule"] == "preference-in-window"


def test_commands_before_open_are_refused() -> None:
    with pytest.raises(Refused):
        decide(None, cmd.CancelCase(), T0)


@pytest.mark.parametrize("resolution", ["refund", "store_credit"])
def test_paid_out_equals_quote_and_never_converts(resolution: str) -> None:
    data = request(
        lines=[
            line("L1", unit_price="119.99", quantity=2),
            line("L2", unit_price="0.00", list_price="9.99", gift_for="L1"),
        ],
        items=[item("L1", quantity=2)],
        preferred=resolution,
    )
    d = Driver(data)
    first = d.view()["quote"]
    assert first["total"] == "229.99"
    d.parcel()
    v = d.view()
    paid = v["refunded"] if resolution == "refund" else v["store_credit"]
    other = v["store_credit"] if resolution == "refund" else v["refunded"]
    assert paid == first["total"]
    assert other == "0.00"
    kinds = {type(e) for e in d.effects}
    assert (Refund in kinds) is (resolution == "refund")
    assert (StoreCredit in kinds) is (resolution == "store_credit")
    assert d.sent("case_resolved")[0].data["resolution"] == resolution


def test_case_resolved_message_carries_the_amount() -> None:
    d = Driver(intake_case())
    (resolved,) = d.sent("case_resolved")
    assert resolved.data["refund"] == "30.00"
    assert resolved.data["payment_method"] == "ideal"
    assert "30,00" in text(resolved)


# --- messages are only the six of section 3 ---
def scenarios() -> list[Driver]:
    out = []
    d = Driver(all_needs_case())
    d.at_day(7)
    d.photos("L1")
    d.at_day(14)
    d.parcel()
    d.at_day(16)
    d.inspect(False)
    d.override("accept", kind="warranty")
    out.append(d)
    for data in (photo_case(), return_case(), rejected_case(), intake_case(None)):
        d = Driver(data)
        d.at_day(90)
        out.append(d)
    return out


def test_only_the_six_messages_are_ever_sent() -> None:
    for d in scenarios():
        assert set(d.messages) <= MESSAGES
        assert d.messages.count("case_opened") <= 1
        assert d.messages.count("case_resolved") + d.messages.count("case_expired") <= 1
    first = scenarios()[0]
    # Day 7: one reminder for photos and choice; day 14: the parcel reminder (choice defaulted silently).
    assert first.messages == ["case_opened", "reminder", "reminder", "inspection_failed", "case_resolved"]
    assert [m.data["needs"] for m in first.sent("reminder")] == [["photos", "choice"], ["parcel"]]
    assert first.view()["refunded"] == "80.00"


def test_fold_of_all_events_equals_the_drivers_state() -> None:
    for d in scenarios():
        folded = fold(d.events)
        assert folded is not None and d.case is not None
        assert case_view(folded) == case_view(d.case)
        assert folded == d.case


def test_events_survive_a_json_round_trip() -> None:
    from domain.events import event_from_json

    for d in scenarios():
        again = [event_from_json(e.model_dump(mode="json")) for e in d.events]
        folded = fold(again)
        assert folded is not None and d.case is not None
        assert case_view(folded) == case_view(d.case)


def test_a_request_delivered_after_the_case_starts_is_refused_not_stuck() -> None:
    """requested_at defaults to the start; a delivery after it is refused, never a crash."""
    from domain.request import parse_request
    from policies import load_policy

    data = request()
    data.pop("requested_at", None)
    data["order"]["delivered_at"] = (T0 + timedelta(days=2)).isoformat()
    open_case = cmd.OpenCase(case_id="c", request=parse_request(data), policy=load_policy())
    with pytest.raises(Refused, match="delivered_at"):
        decide(None, open_case, T0)


def test_timer_summary_says_what_and_when_for_the_ui() -> None:
    from datetime import UTC, datetime, timedelta

    from domain.decider import Timer

    at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert Timer(at, "remind", "photos").summary(at - timedelta(days=7)) == (
        "Photos reminder in 7 days (2026-12-02 10:00 UTC)"
    )
    assert Timer(at, "close_appeal").summary(at - timedelta(hours=5)) == (
        "End of the appeal window in 5 hours (2026-12-02 10:00 UTC)"
    )
