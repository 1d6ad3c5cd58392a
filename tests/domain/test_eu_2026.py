"""Contract section 7, the EU rules in force since 2026, through the pure decider: repair and the
guarantee it extends (7.1), withdrawal acknowledged (7.2), delivery costs back on a full
withdrawal (7.3), a return fee only when shown first (7.4)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from domain import commands as cmd
from domain.assessment import assess
from domain.case import ReturnCase
from domain.details import PAD, attention_reasons, case_details
from domain.effects import CustomerMessage, Refund, RepairOrder, StoreCredit
from domain.request import parse_request
from domain.upcasting import POLICY_BEFORE_2026
from policies import load_policy
from tests.domain.helpers import T0, Driver, item, line, policy, request, text
from tests.domain.test_lifecycle import refused

ALL = ["repair", "replacement", "refund", "store_credit"]
WARRANTY = ["replacement", "refund", "store_credit"]
SET_REPAIR = cmd.ApplyOverride(type="set_resolution", actor="ops:a", reason="r", resolution="repair")


def printer(preferred: str | None = "repair", placed_at: str | None = None, **line_kw: Any) -> dict[str, Any]:
    """A printer of 80.00 under guarantee: shipped and inspected, one photo (photo category)."""
    fields: dict[str, Any] = {"category": "printers", "unit_price": "80.00", "warranty_months": 24, **line_kw}
    data = request(
        lines=[line("L1", **fields)],
        items=[item("L1", reason="defective", condition="used", photos=["error.jpg"])],
        preferred=preferred,
    )
    if placed_at is not None:
        data["order"]["placed_at"] = placed_at
    return data


def awaiting_repair(data: dict[str, Any] | None = None, **policy_kw: Any) -> Driver:
    d = Driver(data or printer(), policy(**policy_kw) if policy_kw else None)
    d.parcel()
    d.inspect(passed=True)
    return d


def state(d: Driver) -> ReturnCase:
    assert d.case is not None
    return d.case


def allowed(data: dict[str, Any], **policy_kw: Any) -> list[str]:
    return list(Driver(data, policy(**policy_kw) if policy_kw else None).view()["allowed_resolutions"])


# --- 7.1 settings ---------------------------------------------------------------------------------
def test_a_policy_file_without_the_settings_takes_the_defaults() -> None:
    p = load_policy()  # policies/default.json sets none of them
    assert p.repair_categories == ("printers", "electronics", "computers")
    assert (p.repair_extension_months, p.repair_law_from, p.repair_due_days) == (12, date(2026, 7, 31), 30)
    assert str(p.return_fee) == "0.00"
    assert {*POLICY_BEFORE_2026} <= set(type(p).model_fields)  # the upcaster covers only real settings


# --- 7.1 allowance and order ---------------------------------------------------------------------
def test_repair_is_allowed_for_a_shipped_warranty_item_of_a_repair_category_and_listed_first() -> None:
    assert allowed(printer(preferred=None)) == ALL


@pytest.mark.parametrize(
    ("case", "why"),
    [
        (lambda: printer(preferred=None, category="home"), "category outside repair_categories"),
        (lambda: printer(preferred=None, unit_price="39.95"), "returnless: not shipped"),
        (lambda: printer(preferred=None, kind="digital"), "digital: never shipped"),
    ],
)
def test_repair_is_not_allowed_unless_every_accepted_item_qualifies(case: Any, why: str) -> None:
    assert "repair" not in allowed(case()), why


def test_a_return_or_a_mixed_case_never_allows_repair() -> None:
    ret = request(lines=[line("L1", category="printers", unit_price="80.00")], items=[item("L1")])
    assert allowed(ret) == ["refund", "store_credit"]
    mixed = request(
        lines=[line("L1", category="printers", unit_price="80.00"), line("L2", category="printers")],
        items=[item("L1", reason="defective", condition="used", photos=["x.jpg"]), item("L2")],
    )
    d = Driver(mixed)
    assert d.view()["kind"] == "mixed" and d.view()["allowed_resolutions"] == ["refund", "store_credit"]


def test_a_second_item_outside_the_repair_categories_takes_repair_away() -> None:
    data = printer(preferred=None)
    data["order"]["lines"].append(line("L2", category="home", unit_price="60.00"))
    data["items"].append(item("L2", reason="defective", condition="used"))
    assert allowed(data) == WARRANTY


def test_a_gift_listed_with_its_parent_follows_the_parent_and_is_not_checked() -> None:
    data = printer(preferred=None)
    data["order"]["lines"].append(line("L2", category="home", unit_price="0.00", gift_for="L1"))
    data["items"].append(item("L2", reason="defective", condition="used"))
    d = Driver(data)
    assert [i["needs_shipment"] for i in d.view()["items"]] == [True, False]  # the gift is returnless
    assert d.view()["allowed_resolutions"] == ALL


def test_repair_is_offered_whatever_the_order_date_and_not_under_a_policy_recorded_before() -> None:
    assert allowed(printer(preferred=None, placed_at="2026-01-05T10:00:00+01:00")) == ALL
    assert allowed(printer(preferred=None), repair_categories=()) == WARRANTY


def test_preferred_repair_is_used_when_allowed_else_the_case_waits_for_a_choice() -> None:
    assert Driver(printer()).view()["resolution"] == "repair"
    d = Driver(printer(category="home"))
    assert d.view()["resolution"] is None and d.view()["pending"][0] == "choice"


# --- 7.1 extension and guarantee_until ------------------------------------------------------------
@pytest.mark.parametrize(
    ("placed_at", "months"),
    [
        ("2026-07-31T00:30:00+02:00", 12),  # the first day of the law, Amsterdam date
        ("2026-07-30T22:30:00+00:00", 12),  # 00:30 on 31 July in Amsterdam
        ("2026-07-30T21:30:00+00:00", 0),  # 23:30 on 30 July in Amsterdam
        ("2026-03-01T10:00:00+01:00", 0),
    ],
)
def test_the_extension_depends_on_the_amsterdam_date_of_the_order(placed_at: str, months: int) -> None:
    req = parse_request(printer(placed_at=placed_at)).at(T0)
    assert assess(req, policy()).repair_extension_months == months


def test_guarantee_until_is_the_delivery_date_plus_warranty_months_for_warranty_items_only() -> None:
    data = printer(preferred=None)
    data["order"]["lines"].append(line("L2", category="home", unit_price="20.00"))
    data["items"].append(item("L2"))
    v = Driver(data).view()
    # delivered 2026-10-02 (Amsterdam) + 24 months; the return item shows null
    got = [(i["kind"], i["guarantee_until"]) for i in v["items"]]
    assert got == [("warranty", "2028-10-02"), ("return", None)]


def test_guarantee_until_counts_the_amsterdam_delivery_date_and_the_policy_default() -> None:
    data = printer(preferred=None, warranty_months=None)  # the policy's guarantee_months: 24
    data["order"]["delivered_at"] = "2026-09-30T22:30:00+00:00"  # 1 October in Amsterdam
    assert Driver(data).view()["items"][0]["guarantee_until"] == "2028-10-01"


# --- 7.1 the repair path ---------------------------------------------------------------------------
def test_the_first_answer_offers_repair_or_replacement_and_what_a_repair_adds() -> None:
    (opened,) = Driver(printer(preferred=None)).sent("case_opened")
    assert opened.data["repair"] == {"extension_months": 12}
    assert opened.data["choose_from"] == ALL
    assert "kiezen tussen reparatie en vervanging" in text(opened)
    assert "verlengt je garantie eenmalig met 12 maanden" in text(opened)
    (before_law,) = Driver(printer(preferred=None, placed_at="2026-03-01T10:00:00+01:00")).sent("case_opened")
    assert before_law.data["repair"] == {"extension_months": 0}
    assert "verlengt je garantie niet" in text(before_law)
    (no_repair,) = Driver(printer(preferred=None, category="home")).sent("case_opened")
    assert "repair" not in no_repair.data and "reparatie" not in text(no_repair)


def test_repair_is_ordered_once_every_need_is_met_and_the_case_awaits_repair() -> None:
    d = Driver(printer())
    assert d.view()["pending"] == ["parcel"]  # repair is pending only from the repair order on
    d.parcel()
    assert d.view()["pending"] == ["inspection"]
    d.inspect(passed=True)
    v = d.view()
    assert (v["status"], v["pending"]) == ("awaiting_repair", ["repair"])
    assert d.event_types[-2:] == ["repair_order_placed", "repair_ordered"]
    (order,) = [e for e in d.effects if isinstance(e, RepairOrder)]
    assert order.line_ids == ("L1",) and order.order_id == "O-5001"
    assert order.key == f"{state(d).case_id}:{d.event_types.index('repair_order_placed') + 1}:repair_order"
    assert v["customer_messages"] == ["case_opened"]  # no message for the order itself
    # Time passing and every other report leave the order alone: exactly once.
    d.advance(days=10)
    assert [e for e in d.effects if isinstance(e, RepairOrder)] == [order]


def test_repair_completed_resolves_with_nothing_paid_and_extends_the_guarantee() -> None:
    d = awaiting_repair()
    d.advance(days=3)
    d.repaired("new fuser")
    v = d.view()
    assert (v["status"], v["resolution"], v["pending"]) == ("resolved", "repair", [])
    assert (v["refunded"], v["store_credit"], v["replaced"]) == ("0.00", "0.00", [])
    assert v["quote"] == {"gross": "80.00", "additions": [], "deductions": [], "total": "80.00"}
    assert v["items"][0]["guarantee_until"] == "2029-10-02"  # 2026-10-02 + 24 + 12 months
    assert v["customer_messages"] == ["case_opened", "case_resolved"]
    assert not [e for e in d.effects if isinstance(e, Refund | StoreCredit)]
    (resolved,) = d.sent("case_resolved")
    assert resolved.data["guarantee_until"] == [
        {"line_id": "L1", "name": "Product L1", "until": "2029-10-02"}
    ]
    assert "gerepareerd" in text(resolved) and "2 oktober 2029" in text(resolved)


def test_the_extension_is_one_calendar_month_sum() -> None:
    data = printer(warranty_months=6)
    data["order"]["delivered_at"] = "2026-08-31T12:00:00+02:00"
    data["requested_at"] = "2026-10-20T09:00:00+02:00"
    d = awaiting_repair(data)
    assert d.view()["items"][0]["guarantee_until"] == "2027-02-28"
    d.repaired()
    # 2026-08-31 + 18 months, not (2026-08-31 + 6 months) + 12 months = 2028-02-28
    assert d.view()["items"][0]["guarantee_until"] == "2028-02-29"


def test_a_repair_before_the_law_adds_nothing_to_the_guarantee() -> None:
    d = awaiting_repair(printer(placed_at="2026-03-01T10:00:00+01:00"))
    d.repaired()
    assert d.view()["items"][0]["guarantee_until"] == "2028-10-02"


def test_repair_completed_is_refused_unless_awaiting_repair() -> None:
    d = Driver(printer())
    msg = refused(d, cmd.CompleteRepair(note="x"), "awaiting_parcel")
    assert "not awaiting repair" in msg
    d = awaiting_repair()
    d.repaired()
    refused(d, cmd.CompleteRepair(), "resolved")


def test_once_the_repair_order_is_placed_choice_and_customer_cancel_are_refused() -> None:
    d = awaiting_repair()
    choose = cmd.ChooseResolution(resolution="refund")
    assert "repair order has been placed" in refused(d, choose, "awaiting_repair")
    # (the parcel was received too, but the repair order is the reason that holds)
    assert "repair order has been placed" in refused(d, cmd.CancelCase(), "awaiting_repair")
    assert "already been placed" in refused(d, SET_REPAIR, "awaiting_repair")


def test_before_the_repair_order_the_customer_may_still_choose_otherwise() -> None:
    d = Driver(printer())
    d.choose("replacement")
    d.parcel()
    d.inspect(passed=True)
    assert d.view()["replaced"] == ["L1"] and "repair_order_placed" not in d.event_types


def test_set_resolution_repair_is_refused_where_repair_is_not_allowed() -> None:
    d = Driver(printer(preferred=None, category="home"))
    msg = refused(d, SET_REPAIR, "awaiting_choice")
    assert "repair is not allowed" in msg
    d = Driver(printer(preferred=None))
    d.override("set_resolution", resolution="repair")
    assert d.view()["resolution"] == "repair"


def test_no_repair_within_repair_due_days_needs_ops_attention_and_stays_awaiting_repair() -> None:
    d = awaiting_repair()
    ordered_at = d.now
    assert attention_reasons(state(d)) == []
    d.advance(to=ordered_at + timedelta(days=30) - timedelta(seconds=1))
    assert "repair_overdue" not in d.event_types
    d.advance(days=1)
    assert d.event_types[-1] == "repair_overdue" and d.status == "awaiting_repair"
    assert attention_reasons(state(d)) == ["repair overdue: not completed within 30 days of the repair order"]
    assert "(overdue)" in case_details(state(d))
    d.advance(days=60)
    assert d.event_types.count("repair_overdue") == 1 and d.status == "awaiting_repair"
    d.repaired("late")
    assert d.status == "resolved" and attention_reasons(state(d)) == []


@pytest.mark.parametrize(("resolution", "paid"), [("refund", "refunded"), ("store_credit", "store_credit")])
def test_ops_set_resolution_while_awaiting_repair_pays_at_once(resolution: str, paid: str) -> None:
    d = awaiting_repair()
    d.advance(days=31)
    d.override("set_resolution", resolution=resolution, reason="repair shop never answered")
    v = d.view()
    assert (v["status"], v["resolution"], v[paid]) == ("resolved", resolution, "80.00")
    assert v["items"][0]["guarantee_until"] == "2028-10-02"  # no repair, no extension
    assert len([e for e in d.effects if isinstance(e, RepairOrder)]) == 1


def test_ops_set_replacement_while_awaiting_repair_and_ops_cancel() -> None:
    d = awaiting_repair()
    d.override("set_resolution", resolution="replacement")
    assert (d.status, d.view()["replaced"]) == ("resolved", ["L1"])
    d = awaiting_repair()
    d.override("cancel")
    assert d.status == "cancelled"


def test_case_details_show_guarantee_until_and_the_repair_order() -> None:
    d = awaiting_repair()
    text = case_details(state(d))
    assert f"{PAD}guarantee until{PAD} |" in text and f"{PAD}2028-10-02{PAD} |" in text
    assert "### Repair order" in text and "ordered for L1" in text and "- due " in text
    d.repaired("new fuser")
    assert "completed" in case_details(state(d)) and "new fuser" in case_details(state(d))


# --- 7.2 withdrawal --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "rule"),
    [
        ({}, "preference-in-window"),
        ({"condition": "used"}, "preference-used"),
        ({"late": True}, "preference-late"),
        ({"digital": True}, "digital-no-withdrawal"),
    ],
)
def test_withdrawal_is_treated_as_changed_mind_by_every_rule(kw: dict[str, Any], rule: str) -> None:
    rules = []
    for reason in ("withdrawal", "changed_mind"):
        data = request(
            lines=[line("L1", kind="digital" if kw.get("digital") else "physical")],
            items=[item("L1", reason=reason, condition=kw.get("condition", "unopened"))],
            requested_at="2026-12-20T09:00:00+01:00" if kw.get("late") else None,
        )
        rules.append(Driver(data).view()["items"][0]["rule"])
    assert rules == [rule, rule]


def withdrawal(**top: Any) -> dict[str, Any]:
    return request(
        lines=[line("L1", name="Sneakers", quantity=2), line("L2", name="Sokken")],
        items=[item("L1", reason="withdrawal", quantity=2), item("L2", reason="does_not_fit")],
        **top,
    )


def test_the_first_message_of_a_withdrawal_acknowledges_its_items_and_when_it_was_received() -> None:
    (opened,) = Driver(withdrawal()).sent("case_opened")
    assert opened.data["withdrawal"] == {
        "items": [
            {"line_id": "L1", "name": "Sneakers", "quantity": 2},
            {"line_id": "L2", "name": "Sokken", "quantity": 1},
        ],
        "received_at": "2026-10-20 09:00",
    }
    assert "herroeping, ontvangen op dinsdag 20 oktober 2026 om 09:00" in text(opened)
    assert "2x Sneakers en 1x Sokken" in text(opened)


def test_without_requested_at_the_acknowledgment_says_when_the_case_started() -> None:
    d = Driver(withdrawal(requested_at="none"), at=T0 + timedelta(minutes=17, seconds=40))
    (opened,) = d.sent("case_opened")
    assert opened.data["withdrawal"]["received_at"] == "2026-10-20 09:17"  # Amsterdam, to the minute


def test_case_resolved_acknowledges_a_withdrawal_only_as_the_first_message() -> None:
    # A withdrawn item is a shipped return, so no withdrawal resolves at intake; a digital one is
    # rejected (digital-no-withdrawal) and resolves only after an ops accept, its first message
    # being case_rejected: case_resolved is then no acknowledgment.
    data = request(lines=[line("L1", kind="digital")], items=[item("L1", reason="withdrawal")])
    d = Driver(data)
    d.override("accept", kind="return")
    assert d.messages == ["case_rejected", "case_resolved"]
    assert "withdrawal" not in d.sent("case_resolved")[0].data


def test_a_fault_case_is_no_withdrawal() -> None:
    (opened,) = Driver(printer(preferred=None)).sent("case_opened")
    assert "withdrawal" not in opened.data and "herroeping" not in text(opened)


# --- 7.3 delivery costs back -------------------------------------------------------------------------
def full_withdrawal(price: str = "4.95", **kw: Any) -> dict[str, Any]:
    data = withdrawal(**kw)
    data["order"]["delivery_price"] = price
    return data


def test_a_full_withdrawal_gets_the_delivery_costs_back_as_an_addition() -> None:
    d = Driver(full_withdrawal())
    q = d.view()["quote"]
    assert list(q) == ["gross", "additions", "deductions", "total"]
    (addition,) = q["additions"]
    assert (addition["rule"], addition["amount"]) == ("withdrawal-delivery-refund", "4.95")
    assert "4.95" in addition["explanation"]
    assert (q["gross"], q["total"]) == ("60.00", "64.95")
    assert "€\xa04,95 bezorgkosten terug" in text(d.sent("case_opened")[0])
    assert "+€4.95: The standard delivery costs" in case_details(state(d))
    d.parcel()
    assert d.view()["refunded"] == "64.95"


def test_the_addition_is_paid_as_store_credit_with_its_bonus() -> None:
    d = Driver(full_withdrawal(preferred="store_credit"), policy(store_credit_bonus_pct="10"))
    d.parcel()
    assert d.view()["store_credit"] == "71.45"  # 64.95 x 1.10 = 71.445, half-up


@pytest.mark.parametrize(
    "change",
    [
        "delivery_price 0",
        "a line not returned",
        "partial quantity",
        "a fault reason",
        "an item rejected",
    ],
)
def test_no_delivery_refund_unless_the_whole_order_is_withdrawn(change: str) -> None:
    data = full_withdrawal()
    if change == "delivery_price 0":
        data["order"]["delivery_price"] = "0.00"
    elif change == "a line not returned":
        data["items"] = data["items"][:1]
    elif change == "partial quantity":
        data["items"][0]["quantity"] = 1
    elif change == "a fault reason":
        data["items"][1].update(reason="damaged_on_arrival", photos=["damage.jpg"])
    else:
        data["items"][1]["condition"] = "used"
    assert Driver(data).view()["quote"]["additions"] == [], change


def test_a_free_line_need_not_be_returned_for_the_delivery_refund() -> None:
    data = full_withdrawal()
    data["order"]["lines"].append(line("L3", unit_price="0.00", gift_for="L1"))
    v = Driver(data).view()
    assert [a["amount"] for a in v["quote"]["additions"]] == ["4.95"]
    # The unreturned gift costs its list price, shown in the same quote.
    assert [d["rule"] for d in v["quote"]["deductions"]] == ["gift-not-returned"]


def test_an_order_without_delivery_price_reads_as_none_paid() -> None:
    assert str(parse_request(withdrawal()).order.delivery_price) == "0.00"


# --- 7.4 return fee ------------------------------------------------------------------------------------
FEE = {"return_fee": "2.50"}


@pytest.mark.parametrize(
    ("resolution", "paid", "amount"),
    [("refund", "refunded", "57.50"), ("store_credit", "store_credit", "57.50")],
)
def test_the_return_fee_is_one_deduction_without_line_whatever_the_resolution(
    resolution: str, paid: str, amount: str
) -> None:
    d = Driver(withdrawal(preferred=resolution), policy(**FEE))
    q = d.view()["quote"]
    (fee,) = q["deductions"]
    assert (fee["line_id"], fee["rule"], fee["amount"]) == (None, "return-fee", "2.50")
    assert q["total"] == amount
    assert "€\xa02,50 retourkosten" in text(d.sent("case_opened")[0])
    d.parcel()
    assert d.view()[paid] == amount


def test_the_fee_is_shown_before_a_choice_and_kept_for_the_choice() -> None:
    d = Driver(withdrawal(preferred=None), policy(**FEE))
    assert [x["rule"] for x in d.view()["quote"]["deductions"]] == ["return-fee"]
    d.choose("store_credit")
    d.parcel()
    assert d.view()["store_credit"] == "57.50"


def test_waive_deduction_waives_the_fee_with_the_others() -> None:
    data = withdrawal()
    data["order"]["lines"].append(line("L3", unit_price="0.00", list_price="5.00", gift_for="L1"))
    d = Driver(data, policy(**FEE))
    assert [x["rule"] for x in d.view()["quote"]["deductions"]] == ["gift-not-returned", "return-fee"]
    assert d.view()["quote"]["total"] == "52.50"
    d.override("waive_deduction", reason="goodwill")
    d.parcel()
    v = d.view()
    assert (v["quote"]["deductions"], v["refunded"]) == ([], "60.00")


def test_the_fee_and_the_delivery_refund_together_and_never_below_zero() -> None:
    d = Driver(full_withdrawal(), policy(**FEE))
    q = d.view()["quote"]
    assert (q["gross"], q["total"]) == ("60.00", "62.45")  # 60.00 + 4.95 - 2.50
    cheap = request(lines=[line("L1", unit_price="1.00")], items=[item("L1")])
    assert Driver(cheap, policy(**FEE)).view()["quote"]["total"] == "0.00"


@pytest.mark.parametrize(
    "data",
    [
        lambda: request(lines=[line("L1")], items=[item("L1", reason="defective", condition="unopened")]),
        lambda: printer(preferred=None),
    ],
    ids=["fault return", "warranty"],
)
def test_fault_reasons_never_carry_the_fee(data: Any) -> None:
    assert Driver(data(), policy(**FEE)).view()["quote"]["deductions"] == []


def test_a_mixed_case_with_a_withdrawn_item_carries_the_fee() -> None:
    mixed = request(
        lines=[line("L1", category="printers", unit_price="80.00"), line("L2")],
        items=[item("L1", reason="defective", condition="used", photos=["x.jpg"]), item("L2")],
    )
    q = Driver(mixed, policy(**FEE)).view()["quote"]
    assert [x["rule"] for x in q["deductions"]] == ["return-fee"] and q["total"] == "97.50"


def test_a_policy_recorded_before_2026_charges_no_fee_and_offers_no_repair() -> None:
    old = policy(**{**POLICY_BEFORE_2026, "repair_categories": (), "repair_law_from": date(2026, 7, 31)})
    d = Driver(printer(preferred=None), old)
    assert d.view()["allowed_resolutions"] == WARRANTY
    assert next(m for m in d.effects if isinstance(m, CustomerMessage)).data.get("repair") is None
