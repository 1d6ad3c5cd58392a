"""Section 2.5: the quote, free gifts and store credit; the amount paid out equals the quote."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.assessment import assess, quote, store_credit_amount
from domain.request import parse_request
from policies import load_policy
from tests.domain.helpers import Driver, item, line, policy, request, text


def laptop_with_gift(
    gift_kind: str,
    listed: bool,
    *,
    reason: str = "changed_mind",
    condition: str = "opened",
    gift_qty: int = 1,
    parent_price: str = "899.00",
    preferred: str | None = "refund",
) -> Any:
    items = [item("L1", reason=reason, condition=condition)]
    if listed:
        items.append(item("L2", quantity=gift_qty))
    return request(
        lines=[
            line("L1", name="Laptop", category="home", unit_price=parent_price),
            line(
                "L2",
                name="Gratis software" if gift_kind == "digital" else "Gratis tas",
                kind=gift_kind,
                unit_price="0.00",
                list_price="79.00",
                quantity=gift_qty,
                gift_for="L1",
            ),
        ],
        items=items,
        preferred=preferred,
    )


def test_gross_is_unit_price_times_returned_quantity() -> None:
    d = Driver(
        request(
            lines=[line("L1", unit_price="19.99", quantity=3), line("L2", unit_price="5.00")],
            items=[item("L1", quantity=2), item("L2")],
        )
    )
    assert d.view()["quote"] == {"gross": "44.98", "additions": [], "deductions": [], "total": "44.98"}
    d.parcel()
    assert d.view()["refunded"] == "44.98"


def test_rejected_items_are_left_out_of_the_quote() -> None:
    d = Driver(
        request(
            lines=[line("L1", unit_price="30.00"), line("L2", unit_price="70.00", kind="digital")],
            items=[item("L1"), item("L2")],
        )
    )
    v = d.view()
    assert v["kind"] == "return"
    assert [i["kind"] for i in v["items"]] == ["return", "rejected"]
    assert v["quote"] == {"gross": "30.00", "additions": [], "deductions": [], "total": "30.00"}
    d.parcel()
    assert d.view()["refunded"] == "30.00"


def test_rejected_case_quotes_nothing() -> None:
    d = Driver(request(lines=[line("L1", unit_price="30.00")], items=[item("L1", condition="used")]))
    assert d.view()["quote"] == {"gross": "0.00", "additions": [], "deductions": [], "total": "0.00"}


@pytest.mark.parametrize("listed", [False, True])
def test_digital_gift_is_revoked_never_deducted(listed: bool) -> None:
    d = Driver(laptop_with_gift("digital", listed=listed))
    v = d.view()
    assert v["quote"] == {"gross": "899.00", "additions": [], "deductions": [], "total": "899.00"}
    d.parcel()
    v = d.view()
    assert v["status"] == "resolved"
    assert v["refunded"] == "899.00"
    assert v["revoked_gifts"] == ["L2"]


def test_physical_gift_listed_comes_back_without_deduction() -> None:
    d = Driver(laptop_with_gift("physical", listed=True))
    assert d.view()["quote"] == {"gross": "899.00", "additions": [], "deductions": [], "total": "899.00"}
    d.parcel()
    assert d.view()["refunded"] == "899.00"
    assert d.view()["revoked_gifts"] == []


@pytest.mark.parametrize("preferred", ["refund", "store_credit", None])
def test_physical_gift_not_listed_is_deducted_in_the_first_answer(preferred: str | None) -> None:
    d = Driver(laptop_with_gift("physical", listed=False, preferred=preferred))
    v = d.view()
    assert v["customer_messages"] == ["case_opened"]
    q = v["quote"]
    assert q["gross"] == "899.00"
    assert len(q["deductions"]) == 1
    ded = q["deductions"][0]
    assert ded["line_id"] == "L2"
    assert ded["rule"] == "gift-not-returned"
    assert ded["amount"] == "79.00"
    assert ded["explanation"].strip()
    assert q["total"] == "820.00"
    # ... and the first message says so, with the amount.
    opened = d.sent("case_opened")[0]
    assert opened.data["quote"]["deductions"][0]["rule"] == "gift-not-returned"
    assert "79,00" in text(opened) and "820,00" in text(opened)


def test_refund_pays_the_quote_with_the_deduction() -> None:
    d = Driver(laptop_with_gift("physical", listed=False))
    first = d.view()["quote"]
    d.parcel()
    v = d.view()
    assert v["quote"] == first
    assert v["refunded"] == first["total"] == "820.00"


def test_gift_deduction_is_list_price_times_quantity() -> None:
    d = Driver(laptop_with_gift("physical", listed=False, gift_qty=2))
    q = d.view()["quote"]
    assert q["deductions"][0]["amount"] == "158.00"
    assert q["total"] == "741.00"


def test_gift_deduction_defaults_to_unit_price_when_no_list_price() -> None:
    data = laptop_with_gift("physical", listed=False)
    del data["order"]["lines"][1]["list_price"]
    data["order"]["lines"][1]["unit_price"] = "2.50"
    q = Driver(data).view()["quote"]
    assert [d["amount"] for d in q["deductions"]] == ["2.50"]


@pytest.mark.parametrize("gift_kind", ["physical", "digital"])
def test_warranty_items_leave_gifts_alone(gift_kind: str) -> None:
    d = Driver(laptop_with_gift(gift_kind, listed=False, reason="defective", condition="used"))
    v = d.view()
    assert v["kind"] == "warranty"
    assert v["quote"] == {"gross": "899.00", "additions": [], "deductions": [], "total": "899.00"}
    d.photos("L1", "defect.jpg")  # photo-high-value
    d.parcel()
    d.inspect(True)
    v = d.view()
    assert v["status"] == "resolved"
    assert v["refunded"] == "899.00"
    assert v["revoked_gifts"] == []


def test_replacement_leaves_gifts_alone() -> None:
    for gift_kind in ("physical", "digital"):
        data = laptop_with_gift(gift_kind, listed=False)
        a = assess(parse_request(data), load_policy())
        assert quote(a, "replacement", False).deductions == ()
        assert quote(a, "replacement", False).total == Decimal("899.00")
    d = Driver(laptop_with_gift("digital", listed=False, preferred=None))
    d.override("set_resolution", resolution="replacement")
    d.parcel()
    v = d.view()
    assert v["status"] == "resolved"
    assert v["replaced"] == ["L1"]
    assert v["revoked_gifts"] == []
    assert v["refunded"] == "0.00"


def test_mixed_case_deducts_only_for_gifts_of_return_items() -> None:
    d = Driver(
        request(
            lines=[
                line("L1", unit_price="40.00"),
                line("L2", unit_price="0.00", list_price="5.00", gift_for="L1"),
                line("L3", unit_price="30.00"),
                line("L4", unit_price="0.00", list_price="7.00", gift_for="L3"),
            ],
            items=[item("L1"), item("L3", reason="defective", condition="used")],
        )
    )
    v = d.view()
    assert v["kind"] == "mixed"
    assert [(x["line_id"], x["amount"]) for x in v["quote"]["deductions"]] == [("L2", "5.00")]
    assert v["quote"]["total"] == "65.00"


def test_total_never_below_zero() -> None:
    d = Driver(laptop_with_gift("physical", listed=False, parent_price="30.00"))
    q = d.view()["quote"]
    assert q["gross"] == "30.00"
    assert q["deductions"][0]["amount"] == "79.00"
    assert q["total"] == "0.00"
    d.parcel()
    assert d.view()["refunded"] == "0.00"


def test_waive_deduction_removes_it_and_the_refund_follows() -> None:
    d = Driver(laptop_with_gift("physical", listed=False))
    d.override("waive_deduction", actor="ops:anna", reason="promo")
    v = d.view()
    assert v["quote"] == {"gross": "899.00", "additions": [], "deductions": [], "total": "899.00"}
    assert [(o["type"], o["actor"], o["reason"]) for o in v["overrides"]] == [
        ("waive_deduction", "ops:anna", "promo")
    ]
    d.parcel()
    assert d.view()["refunded"] == "899.00"


@pytest.mark.parametrize(
    "total,pct,expected",
    [
        ("9.40", "7.5", "10.11"),  # 10.105 -> half-up 10.11 (half-even would give 10.10)
        ("0.60", "7.5", "0.65"),  # 0.645
        ("1.40", "7.5", "1.51"),  # 1.505
        ("10.00", "7.5", "10.75"),
        ("10.00", "0", "10.00"),
        ("0.00", "7.5", "0.00"),
        ("33.33", "10", "36.66"),  # 36.663
        ("0.05", "10", "0.06"),  # 0.055
    ],
)
def test_store_credit_bonus_rounds_half_up(total: str, pct: str, expected: str) -> None:
    assert store_credit_amount(Decimal(total), policy(store_credit_bonus_pct=pct)) == Decimal(expected)


def test_store_credit_resolution_pays_total_with_bonus_never_a_refund() -> None:
    d = Driver(
        request(lines=[line("L1", unit_price="9.40")], items=[item("L1")], preferred="store_credit"),
        policy(store_credit_bonus_pct="7.5"),
    )
    assert d.view()["quote"]["total"] == "9.40"
    d.parcel()
    v = d.view()
    assert v["resolution"] == "store_credit"
    assert v["store_credit"] == "10.11"
    assert v["refunded"] == "0.00"
    assert [e.effect for e in d.effects if e.effect != "message"] == ["store_credit"]


def test_refund_never_gets_the_bonus_nor_becomes_store_credit() -> None:
    d = Driver(
        request(lines=[line("L1", unit_price="9.40")], items=[item("L1")], preferred="refund"),
        policy(store_credit_bonus_pct="7.5"),
    )
    d.parcel()
    v = d.view()
    assert v["refunded"] == "9.40"
    assert v["store_credit"] == "0.00"
    refunds = [e for e in d.effects if e.effect == "refund"]
    assert len(refunds) == 1
    assert (refunds[0].payment_method, refunds[0].payment_reference) == ("ideal", "tr_8Hx2")
    assert [e.effect for e in d.effects if e.effect != "message"] == ["refund"]


def test_quote_function() -> None:
    data = laptop_with_gift("physical", listed=False)
    a = assess(parse_request(data), load_policy())
    assert quote(a, "refund", False).total == Decimal("820.00")
    assert quote(a, "store_credit", False).total == Decimal("820.00")
    assert quote(a, None, False).total == Decimal("820.00")
    assert quote(a, "refund", True).total == Decimal("899.00")
    assert quote(a, "refund", True).deductions == ()
