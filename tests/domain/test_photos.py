"""Section 2.2: photos are asked only when a rule requires them, with the rule's instruction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.assessment import assess, photo_rules
from domain.request import parse_request
from policies import load_policy
from tests.domain.helpers import Driver, item, line, policy, request, text

FAULT = "A photo of the error message or of the defect"
DAMAGE = "A photo of the damage and of the outer packaging"
HIGH = "A photo of the defect and of the serial-number label"


def rules_of(data: dict[str, Any], pol: Any = None) -> list[list[str]]:
    a = assess(parse_request(data), pol or load_policy())
    return [[r.rule for r in i.photo_requirements] for i in a.items]


def single(
    category: str = "home", price: str = "20.00", reason: str = "defective", condition: str = "used"
) -> Any:
    return request(
        lines=[line("L1", category=category, unit_price=price)],
        items=[item("L1", reason=reason, condition=condition)],
    )


@pytest.mark.parametrize("category", ["printer_supplies", "printers", "electronics", "computers"])
def test_photo_fault_electronics(category: str) -> None:
    assert rules_of(single(category)) == [["photo-fault-electronics"]]


def test_no_fault_photo_outside_photo_categories() -> None:
    assert rules_of(single("home")) == [[]]


def test_photo_categories_come_from_the_policy() -> None:
    pol = policy(photo_categories=("home",))
    assert rules_of(single("home"), pol) == [["photo-fault-electronics"]]
    assert rules_of(single("printers"), pol) == [[]]


def test_fault_photo_only_for_warranty_items() -> None:
    # A faulty unopened item in the window is a return: no fault photo even in a photo category.
    assert rules_of(single("electronics", reason="defective", condition="unopened")) == [[]]


@pytest.mark.parametrize("condition,kind", [("unopened", "return"), ("used", "warranty")])
def test_photo_damage_for_any_accepted_kind(condition: str, kind: str) -> None:
    data = single("home", reason="damaged_on_arrival", condition=condition)
    a = assess(parse_request(data), load_policy())
    assert a.items[0].kind == kind
    assert rules_of(data) == [["photo-damage"]]


@pytest.mark.parametrize(
    "price,expected",
    [("249.99", []), ("250.00", ["photo-high-value"]), ("1200.00", ["photo-high-value"])],
)
def test_photo_high_value_threshold(price: str, expected: list[str]) -> None:
    assert rules_of(single("home", price)) == [expected]


def test_high_value_threshold_from_policy() -> None:
    pol = policy(high_value_from="100.00")
    assert rules_of(single("home", "100.00"), pol) == [["photo-high-value"]]
    assert rules_of(single("home", "99.99"), pol) == [[]]


def test_high_value_return_needs_no_photo() -> None:
    assert rules_of(single("home", "900.00", reason="changed_mind", condition="opened")) == [[]]


def test_several_rules_on_one_item_ask_several_photos() -> None:
    d = Driver(single("computers", "999.00", reason="damaged_on_arrival", condition="used"))
    v = d.view()
    it = v["items"][0]
    assert it["kind"] == "warranty"
    assert it["photos_required"] == 3
    assert it["photo_instructions"] == [FAULT, DAMAGE, HIGH]
    assert v["pending"][0] == "photos"
    # The first answer carries every instruction.
    opened = d.sent("case_opened")[0]
    assert [p["instruction"] for p in opened.data["photos"]] == [FAULT, DAMAGE, HIGH]
    for dutch in ("foutmelding", "buitenverpakking", "serienummerlabel"):
        assert dutch in text(opened)


def test_one_photo_of_three_keeps_the_case_waiting() -> None:
    d = Driver(single("computers", "999.00", reason="damaged_on_arrival", condition="used"))
    d.photos("L1", "a.jpg")
    assert d.view()["items"][0]["photos_received"] == 1
    assert d.status == "awaiting_photos"
    d.photos("L1", "b.jpg", "c.jpg")
    assert d.view()["items"][0]["photos_received"] == 3
    assert "photos" not in d.view()["pending"]


def test_photo_rules_function() -> None:
    pol = load_policy()
    assert photo_rules("rejected", "computers", "damaged_on_arrival", Decimal("999"), pol) == ()
    got = photo_rules("warranty", "computers", "damaged_on_arrival", Decimal("999"), pol)
    assert [(r.rule, r.instruction) for r in got] == [
        ("photo-fault-electronics", FAULT),
        ("photo-damage", DAMAGE),
        ("photo-high-value", HIGH),
    ]
    assert [r.rule for r in photo_rules("return", "computers", "defective", Decimal("999"), pol)] == []


def test_no_photos_for_a_return_of_a_non_damaged_item() -> None:
    for reason in ("changed_mind", "does_not_fit", "ordered_by_mistake", "defective", "wrong_item_sent"):
        d = Driver(single("computers", "999.00", reason=reason, condition="unopened"))
        v = d.view()
        assert v["kind"] == "return"
        assert v["items"][0]["photos_required"] == 0
        assert v["items"][0]["photo_instructions"] == []
        assert "photos" not in v["pending"]


def test_no_photos_for_rejected_items() -> None:
    d = Driver(
        request(
            lines=[line("L1", category="computers", unit_price="999.00"), line("L2", category="home")],
            items=[
                item("L1", reason="damaged_on_arrival", condition="used"),
                item("L2", reason="changed_mind", condition="opened"),
            ],
            requested_at="2029-01-10T10:00:00+01:00",  # out of guarantee and out of window
        )
    )
    v = d.view()
    assert v["kind"] == "rejected"
    assert [i["rule"] for i in v["items"]] == ["fault-out-of-guarantee", "preference-late"]
    assert [i["photos_required"] for i in v["items"]] == [0, 0]
    assert v["pending"] == []


def test_rejected_item_of_an_accepted_case_needs_no_photo() -> None:
    d = Driver(
        request(
            lines=[line("L1", category="computers", unit_price="999.00", kind="digital"), line("L2")],
            items=[item("L1", reason="changed_mind"), item("L2", reason="changed_mind")],
        )
    )
    v = d.view()
    assert [i["photos_required"] for i in v["items"]] == [0, 0]
    assert "photos" not in v["pending"]
    from domain import commands as cmd
    from domain.decider import Refused

    with pytest.raises(Refused):
        d.apply(cmd.SubmitPhotos(line_id="L1", photos=("x.jpg",)))


def test_photos_given_in_the_request_count() -> None:
    data = single("printers")
    data["items"][0]["photos"] = ["error.jpg"]
    d = Driver(data)
    v = d.view()
    assert v["items"][0]["photos_required"] == 1
    assert v["items"][0]["photos_received"] == 1
    assert "photos" not in v["pending"]


def test_photos_given_in_the_request_count_partially() -> None:
    data = single("computers", "999.00", reason="damaged_on_arrival", condition="used")
    data["items"][0]["photos"] = ["a.jpg", "b.jpg"]
    d = Driver(data)
    v = d.view()
    assert v["items"][0]["photos_received"] == 2
    assert v["pending"][0] == "photos"
    d.photos("L1", "c.jpg")
    assert "photos" not in d.view()["pending"]


def test_request_with_all_photos_is_resolved_at_intake() -> None:
    # Warranty, returnless (below 50.00), preferred refund, photo given with the form: nothing to wait for.
    data = single("printer_supplies", "39.95")
    data["items"][0]["photos"] = ["error.jpg"]
    d = Driver(data)
    assert d.status == "resolved"
    assert d.messages == ["case_resolved"]
    assert d.view()["refunded"] == "39.95"
