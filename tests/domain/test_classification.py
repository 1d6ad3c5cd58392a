"""Section 2.1 (classification) and 2.4 (allowed resolutions)."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from domain.assessment import add_months, assess, classify
from domain.request import parse_request
from policies import load_policy
from tests.domain.helpers import item, line, policy, request

FAULTS = ["defective", "damaged_on_arrival", "wrong_item_sent", "not_as_described"]
PREFERENCES = ["changed_mind", "does_not_fit", "ordered_by_mistake"]
DELIVERED = "2026-10-02T12:00:00+02:00"  # day 0 in Amsterdam: 2026-10-02


def assessed(data: dict[str, Any], pol: Any = None) -> Any:
    return assess(parse_request(data), pol or load_policy())


def one(
    *,
    reason: str = "changed_mind",
    condition: str = "unopened",
    requested_at: str = "2026-10-20T09:00:00+02:00",
    delivered_at: str = DELIVERED,
    pol: Any = None,
    **line_kw: Any,
) -> tuple[str, str]:
    a = assessed(
        request(
            lines=[line("L1", **line_kw)],
            items=[item("L1", reason=reason, condition=condition)],
            requested_at=requested_at,
            delivered_at=delivered_at,
        ),
        pol,
    )
    return a.items[0].kind, a.items[0].rule


def spec_rule(
    fault: bool, digital: bool, condition: str, in_window: bool, in_guarantee: bool
) -> tuple[str, str]:
    """The table of 2.1 as written, first match wins."""
    table = [
        (digital and not fault, "rejected", "digital-no-withdrawal"),
        (fault and condition == "unopened" and in_window, "return", "fault-unopened-in-window"),
        (fault and in_guarantee, "warranty", "fault-in-guarantee"),
        (fault, "rejected", "fault-out-of-guarantee"),
        (not fault and condition == "used", "rejected", "preference-used"),
        (not fault and in_window, "return", "preference-in-window"),
        (not fault, "rejected", "preference-late"),
    ]
    return next((kind, rule) for when, kind, rule in table if when)


@pytest.mark.parametrize(
    "fault,digital,condition,in_window,in_guarantee",
    list(
        itertools.product(
            [True, False], [True, False], ["unopened", "opened", "used"], [True, False], [True, False]
        )
    ),
)
def test_classify_first_match_wins(
    fault: bool, digital: bool, condition: str, in_window: bool, in_guarantee: bool
) -> None:
    got = classify(
        fault=fault, digital=digital, condition=condition, in_window=in_window, in_guarantee=in_guarantee
    )
    assert got == spec_rule(fault, digital, condition, in_window, in_guarantee)


# --- every rule id, end to end through assess ---
@pytest.mark.parametrize("reason", PREFERENCES)
@pytest.mark.parametrize("condition", ["unopened", "opened", "used"])
def test_digital_no_withdrawal(reason: str, condition: str) -> None:
    assert one(kind="digital", reason=reason, condition=condition) == ("rejected", "digital-no-withdrawal")


def test_digital_fault_is_not_digital_no_withdrawal() -> None:
    assert one(kind="digital", reason="defective", condition="used") == ("warranty", "fault-in-guarantee")
    assert one(kind="digital", reason="defective", condition="unopened") == (
        "return",
        "fault-unopened-in-window",
    )


@pytest.mark.parametrize("reason", FAULTS)
def test_fault_unopened_in_window(reason: str) -> None:
    assert one(reason=reason, condition="unopened") == ("return", "fault-unopened-in-window")


@pytest.mark.parametrize("reason", FAULTS)
@pytest.mark.parametrize("condition", ["opened", "used"])
def test_fault_in_guarantee(reason: str, condition: str) -> None:
    assert one(reason=reason, condition=condition) == ("warranty", "fault-in-guarantee")


def test_fault_unopened_out_of_window_is_warranty() -> None:
    assert one(reason="defective", condition="unopened", requested_at="2026-12-20T10:00:00+01:00") == (
        "warranty",
        "fault-in-guarantee",
    )


@pytest.mark.parametrize("condition", ["unopened", "opened", "used"])
def test_fault_out_of_guarantee(condition: str) -> None:
    got = one(reason="defective", condition=condition, requested_at="2028-10-03T10:00:00+02:00")
    assert got == ("rejected", "fault-out-of-guarantee")


@pytest.mark.parametrize("reason", PREFERENCES)
def test_preference_used(reason: str) -> None:
    assert one(reason=reason, condition="used") == ("rejected", "preference-used")


@pytest.mark.parametrize("reason", PREFERENCES)
@pytest.mark.parametrize("condition", ["unopened", "opened"])
def test_preference_in_window(reason: str, condition: str) -> None:
    assert one(reason=reason, condition=condition) == ("return", "preference-in-window")


@pytest.mark.parametrize("reason", PREFERENCES)
def test_preference_late(reason: str) -> None:
    assert one(reason=reason, requested_at="2026-11-20T10:00:00+01:00") == ("rejected", "preference-late")


def test_preference_used_wins_over_late() -> None:
    assert one(condition="used", requested_at="2026-11-20T10:00:00+01:00") == ("rejected", "preference-used")


# --- window edges, in Europe/Amsterdam calendar days ---
@pytest.mark.parametrize(
    "requested_at,expected",
    [
        ("2026-11-01T00:00:00+01:00", "preference-in-window"),  # day 30, start of the day
        ("2026-11-01T23:59:59+01:00", "preference-in-window"),  # day 30, end of the day
        ("2026-11-02T00:00:00+01:00", "preference-late"),  # day 31
        ("2026-10-02T13:00:00+02:00", "preference-in-window"),  # day 0
    ],
)
def test_return_window_edges(requested_at: str, expected: str) -> None:
    assert one(requested_at=requested_at)[1] == expected


def test_window_counts_amsterdam_days_delivery_late_in_utc_evening() -> None:
    # Delivered 2026-10-01 23:30 UTC = 2026-10-02 01:30 in Amsterdam: day 0 is 2 October.
    # Requested 2026-11-01 12:00 (Amsterdam): day 30, in window (in UTC dates it would be day 31).
    got = one(delivered_at="2026-10-01T23:30:00+00:00", requested_at="2026-11-01T12:00:00+01:00")
    assert got == ("return", "preference-in-window")


def test_window_counts_amsterdam_days_request_late_in_utc_evening() -> None:
    # Delivered 2 October (both zones); requested 2026-11-01 23:30 UTC = 2 November 00:30 in
    # Amsterdam: day 31, late (in UTC dates it would be day 30).
    got = one(delivered_at="2026-10-02T10:00:00+00:00", requested_at="2026-11-01T23:30:00+00:00")
    assert got == ("rejected", "preference-late")


def test_window_from_policy() -> None:
    pol = policy(return_window_days=14)
    assert one(requested_at="2026-10-16T12:00:00+02:00", pol=pol)[1] == "preference-in-window"
    assert one(requested_at="2026-10-17T12:00:00+02:00", pol=pol)[1] == "preference-late"


def test_fault_unopened_window_edge() -> None:
    in_ = one(reason="defective", requested_at="2026-11-01T20:00:00+01:00")
    out = one(reason="defective", requested_at="2026-11-02T08:00:00+01:00")
    assert in_ == ("return", "fault-unopened-in-window")
    assert out == ("warranty", "fault-in-guarantee")


# --- guarantee edges ---
def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2026, 8, 31), 1) == date(2026, 9, 30)
    assert add_months(date(2026, 10, 2), 24) == date(2028, 10, 2)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 5, 5), 0) == date(2026, 5, 5)


@pytest.mark.parametrize(
    "requested_at,rule",
    [
        ("2028-10-02T23:00:00+02:00", "fault-in-guarantee"),
        ("2028-10-03T00:30:00+02:00", "fault-out-of-guarantee"),
    ],
)
def test_guarantee_edge_warranty_months(requested_at: str, rule: str) -> None:
    assert one(reason="defective", condition="used", warranty_months=24, requested_at=requested_at)[1] == rule


@pytest.mark.parametrize(
    "requested_at,rule",
    [
        ("2024-02-29T12:00:00+01:00", "fault-in-guarantee"),
        ("2024-03-01T12:00:00+01:00", "fault-out-of-guarantee"),
    ],
)
def test_guarantee_edge_month_end_clamping(requested_at: str, rule: str) -> None:
    got = one(
        reason="defective",
        condition="used",
        warranty_months=1,
        delivered_at="2024-01-31T12:00:00+01:00",
        requested_at=requested_at,
    )
    assert got[1] == rule


@pytest.mark.parametrize(
    "requested_at,rule",
    [
        ("2024-02-29T12:00:00+01:00", "fault-in-guarantee"),
        ("2024-03-01T12:00:00+01:00", "fault-out-of-guarantee"),
    ],
)
def test_guarantee_defaults_to_policy_guarantee_months(requested_at: str, rule: str) -> None:
    got = one(
        reason="defective",
        condition="used",
        delivered_at="2024-01-31T12:00:00+01:00",
        requested_at=requested_at,
        pol=policy(guarantee_months=1),
    )
    assert got[1] == rule


def test_line_warranty_months_beats_policy() -> None:
    got = one(
        reason="defective",
        condition="used",
        warranty_months=36,
        requested_at="2029-06-01T12:00:00+02:00",
        pol=policy(guarantee_months=24),
    )
    assert got == ("warranty", "fault-in-guarantee")
    got = one(
        reason="defective",
        condition="used",
        warranty_months=6,
        requested_at="2027-06-01T12:00:00+02:00",
        pol=policy(guarantee_months=24),
    )
    assert got == ("rejected", "fault-out-of-guarantee")


def test_guarantee_counts_amsterdam_dates() -> None:
    # Delivered 2024-01-31 23:30 UTC = 1 February in Amsterdam; +1 month = 1 March.
    got = one(
        reason="defective",
        condition="used",
        warranty_months=1,
        delivered_at="2024-01-31T23:30:00+00:00",
        requested_at="2024-03-01T12:00:00+01:00",
    )
    assert got == ("warranty", "fault-in-guarantee")


# --- gifts follow their parent ---
def gift_case(
    parent_reason: str, parent_condition: str, gift_reason: str, gift_condition: str, **kw: Any
) -> Any:
    return assessed(
        request(
            lines=[
                line("L1", category="printer_supplies", unit_price="39.95"),
                line("L2", unit_price="0.00", list_price="4.95", gift_for="L1"),
            ],
            items=[
                item("L1", reason=parent_reason, condition=parent_condition),
                item("L2", reason=gift_reason, condition=gift_condition),
            ],
            **kw,
        )
    )


def test_gift_with_warranty_parent_takes_its_kind_and_rule() -> None:
    a = gift_case("defective", "used", "changed_mind", "unopened")
    assert [(i.line_id, i.kind, i.rule) for i in a.items] == [
        ("L1", "warranty", "fault-in-guarantee"),
        ("L2", "warranty", "fault-in-guarantee"),
    ]
    assert a.kind == "warranty"


def test_gift_with_return_parent_takes_its_kind_and_rule() -> None:
    a = gift_case("changed_mind", "opened", "defective", "used")
    assert [(i.kind, i.rule) for i in a.items] == [("return", "preference-in-window")] * 2
    assert a.kind == "return"


def test_gift_with_rejected_parent_is_rejected_with_it() -> None:
    a = gift_case("changed_mind", "used", "changed_mind", "unopened")
    assert [(i.kind, i.rule) for i in a.items] == [("rejected", "preference-used")] * 2
    assert a.kind == "rejected"


def test_digital_gift_listed_with_parent_follows_parent() -> None:
    a = assessed(
        request(
            lines=[
                line("L1", unit_price="899.00"),
                line("L2", kind="digital", unit_price="0.00", gift_for="L1"),
            ],
            items=[item("L1"), item("L2")],
        )
    )
    assert [(i.kind, i.rule) for i in a.items] == [("return", "preference-in-window")] * 2


def test_gift_listed_without_parent_is_classified_on_its_own() -> None:
    a = assessed(
        request(
            lines=[line("L1"), line("L2", kind="digital", unit_price="0.00", gift_for="L1")],
            items=[item("L2")],
        )
    )
    assert (a.items[0].kind, a.items[0].rule) == ("rejected", "digital-no-withdrawal")


# --- case kind and allowed resolutions (2.4) ---
def case_of(*specs: tuple[str, str]) -> Any:
    """Items given as (reason, condition) on lines L1, L2, ... outside the photo categories."""
    lines = [line(f"L{n}") for n in range(1, len(specs) + 1)]
    items = [item(f"L{n}", reason=r, condition=c) for n, (r, c) in enumerate(specs, 1)]
    return assessed(request(lines=lines, items=items))


RETURN = ("changed_mind", "opened")
WARRANTY = ("defective", "used")
REJECTED = ("changed_mind", "used")


@pytest.mark.parametrize(
    "specs,kind,allowed",
    [
        ([RETURN], "return", ["refund", "store_credit"]),
        ([RETURN, RETURN], "return", ["refund", "store_credit"]),
        ([WARRANTY], "warranty", ["replacement", "refund", "store_credit"]),
        ([WARRANTY, REJECTED], "warranty", ["replacement", "refund", "store_credit"]),
        ([RETURN, WARRANTY], "mixed", ["refund", "store_credit"]),
        ([WARRANTY, REJECTED, RETURN], "mixed", ["refund", "store_credit"]),
        ([REJECTED], "rejected", []),
        ([REJECTED, REJECTED], "rejected", []),
    ],
)
def test_case_kind_and_allowed_resolutions(
    specs: list[tuple[str, str]], kind: str, allowed: list[str]
) -> None:
    a = case_of(*specs)
    assert a.kind == kind
    assert sorted(a.allowed_resolutions) == sorted(allowed)


def test_rejected_items_of_an_accepted_case_keep_their_rule() -> None:
    a = case_of(RETURN, REJECTED)
    assert [(i.line_id, i.kind, i.rule) for i in a.items] == [
        ("L1", "return", "preference-in-window"),
        ("L2", "rejected", "preference-used"),
    ]


# --- shipment (2.3) ---
@pytest.mark.parametrize(
    "kind,reason,condition,price,shipped",
    [
        ("physical", "changed_mind", "opened", "10.00", True),  # return: always shipped
        ("physical", "defective", "used", "49.99", False),  # warranty below returnless_below
        ("physical", "defective", "used", "50.00", True),  # warranty from returnless_below
        ("digital", "defective", "used", "500.00", False),  # digital never shipped
        ("digital", "defective", "unopened", "20.00", False),
        ("physical", "changed_mind", "used", "80.00", False),  # rejected
    ],
)
def test_needs_shipment(kind: str, reason: str, condition: str, price: str, shipped: bool) -> None:
    a = assessed(
        request(
            lines=[line("L1", kind=kind, unit_price=price)],
            items=[item("L1", reason=reason, condition=condition)],
        )
    )
    assert a.items[0].needs_shipment is shipped
