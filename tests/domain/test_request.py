"""Section 1: the request is validated strictly; every refusal names the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.request import InvalidRequest, ReturnRequest, parse_request
from tests.domain.helpers import example, item, line, request


def refused(data: Any) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse_request(data)
    return str(info.value)


def test_the_example_is_valid() -> None:
    r = parse_request(example())
    assert r.return_id == "R-1001"
    assert r.order.lines[0].unit_price == Decimal("39.95")
    assert r.items[0].reason == "defective"
    assert r.preferred_resolution == "refund"


def test_json_text_is_accepted_too() -> None:
    import json

    assert parse_request(json.dumps(example())).return_id == "R-1001"


def test_list_price_defaults_to_unit_price_and_optional_fields() -> None:
    data = example()
    r = parse_request(data)
    assert r.order.lines[1].list_price == Decimal("4.95")
    # L1 has no list_price: it is the unit price (the deduction rule relies on it).
    assert r.order.lines[0].list_price in (None, Decimal("39.95"))
    eff = (
        r.order.lines[0].list_price
        if r.order.lines[0].list_price is not None
        else r.order.lines[0].unit_price
    )
    assert eff == Decimal("39.95")


def test_requested_at_is_optional_and_defaults_to_the_start() -> None:
    from datetime import UTC, datetime

    r = parse_request(request(requested_at="none"))
    assert r.requested_at is None
    start = datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    assert r.at(start).requested_at == start


def test_preferred_resolution_may_be_null_or_absent() -> None:
    assert parse_request(request(preferred=None)).preferred_resolution is None
    data = example()
    del data["preferred_resolution"]
    assert parse_request(data).preferred_resolution is None


def test_locale_is_nl_or_en_and_dutch_when_absent() -> None:
    assert parse_request(example()).locale == "nl"
    assert parse_request(request(locale="en")).locale == "en"
    for bad in ("fr", "EN", "", None, 1):
        message = refused(request(locale=bad))
        assert message.startswith("invalid request: locale: "), message


@pytest.mark.parametrize("where", ["top", "order", "customer", "payment", "line", "item"])
def test_unknown_fields_are_refused_naming_them(where: str) -> None:
    data = example()
    target, path = {
        "top": (data, "surprise"),
        "order": (data["order"], "order.surprise"),
        "customer": (data["order"]["customer"], "order.customer.surprise"),
        "payment": (data["order"]["payment"], "order.payment.surprise"),
        "line": (data["order"]["lines"][1], "order.lines[1].surprise"),
        "item": (data["items"][0], "items[0].surprise"),
    }[where]
    target["surprise"] = 1
    msg = refused(data)
    assert path in msg
    assert "unknown" in msg.lower() or "extra" in msg.lower()


def test_item_line_not_in_order() -> None:
    msg = refused(request(items=[item("L1", reason="defective"), item("L9")]))
    assert "items[1].line_id" in msg
    assert "L9" in msg


@pytest.mark.parametrize("qty", [2, 0, -1])
def test_item_quantity_above_ordered_or_below_one(qty: int) -> None:
    msg = refused(request(items=[item("L1", quantity=qty)]))
    assert "items[0].quantity" in msg


def test_quantity_up_to_ordered_passes() -> None:
    data = request(lines=[line("L1", quantity=3)], items=[item("L1", quantity=3)])
    assert parse_request(data).items[0].quantity == 3


@pytest.mark.parametrize("qty", [1.0, "1", 1.5, True])
def test_quantity_must_be_an_integer(qty: Any) -> None:
    msg = refused(request(lines=[line("L1", quantity=2)], items=[item("L1", quantity=qty)]))
    assert "items[0].quantity" in msg


def test_same_line_twice() -> None:
    msg = refused(request(lines=[line("L1", quantity=2)], items=[item("L1"), item("L1")]))
    assert "items[1].line_id" in msg


@pytest.mark.parametrize(
    "amount",
    ["-1.00", "-0.01", "39.999", "1.005", "abc", "", "1,50", "1e2", "EUR 5", "0x10", "NaN", "Infinity"],
)
@pytest.mark.parametrize("field", ["unit_price", "list_price"])
def test_negative_or_malformed_amounts(amount: str, field: str) -> None:
    data = example()
    data["order"]["lines"][1][field] = amount
    msg = refused(data)
    assert f"order.lines[1].{field}" in msg


@pytest.mark.parametrize("amount", [39.95, 40, None, [], {"amount": "1.00"}])
def test_amounts_must_be_strings(amount: Any) -> None:
    data = example()
    data["order"]["lines"][0]["unit_price"] = amount
    assert "order.lines[0].unit_price" in refused(data)


@pytest.mark.parametrize(
    "amount,value", [("39.95", "39.95"), ("0.00", "0.00"), ("5", "5.00"), ("5.5", "5.50")]
)
def test_well_formed_amounts(amount: str, value: str) -> None:
    data = example()
    data["order"]["lines"][0]["unit_price"] = amount
    assert parse_request(data).order.lines[0].unit_price == Decimal(value)


def test_delivered_after_requested() -> None:
    msg = refused(request(delivered_at="2026-10-20T09:00:01+02:00"))
    assert "delivered_at" in msg


def test_delivered_at_the_same_moment_as_requested_passes() -> None:
    parse_request(request(delivered_at="2026-10-20T07:00:00+00:00"))


def test_gift_for_naming_no_line() -> None:
    data = example()
    data["order"]["lines"][1]["gift_for"] = "L7"
    msg = refused(data)
    assert "order.lines[1].gift_for" in msg


def test_empty_items() -> None:
    assert "items" in refused(request(items=[]))


def test_missing_items() -> None:
    data = example()
    del data["items"]
    assert "items" in refused(data)


@pytest.mark.parametrize(
    "path",
    [("requested_at",), ("order", "delivered_at"), ("order", "placed_at")],
)
def test_naive_timestamps(path: tuple[str, ...]) -> None:
    data = example()
    target = data
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = "2026-10-02T12:00:00"
    assert ".".join(path) in refused(data)


def test_malformed_timestamp() -> None:
    data = example()
    data["order"]["delivered_at"] = "gisteren"
    assert "order.delivered_at" in refused(data)


@pytest.mark.parametrize("currency", ["USD", "eur", "", None])
def test_currency_must_be_eur(currency: Any) -> None:
    data = example()
    data["order"]["currency"] = currency
    assert "order.currency" in refused(data)


@pytest.mark.parametrize(
    "field,value",
    [
        ("reason", "broken"),
        ("condition", "new"),
    ],
)
def test_unknown_reason_or_condition(field: str, value: str) -> None:
    assert f"items[0].{field}" in refused(request(items=[item("L1", **{field: value})]))


def test_unknown_preferred_resolution() -> None:
    assert "preferred_resolution" in refused(request(preferred="cash"))


def test_line_kind_must_be_physical_or_digital() -> None:
    data = example()
    data["order"]["lines"][0]["kind"] = "service"
    assert "order.lines[0].kind" in refused(data)


@pytest.mark.parametrize("reason", ["defective", "damaged_on_arrival", "wrong_item_sent", "not_as_described"])
@pytest.mark.parametrize("condition", ["unopened", "opened", "used"])
def test_every_reason_and_condition_is_valid(reason: str, condition: str) -> None:
    parse_request(request(items=[item("L1", reason=reason, condition=condition)]))


@pytest.mark.parametrize("reason", ["changed_mind", "does_not_fit", "ordered_by_mistake"])
@pytest.mark.parametrize("preferred", ["refund", "store_credit", "replacement", None])
def test_preference_reasons_and_resolutions_are_valid(reason: str, preferred: str | None) -> None:
    parse_request(request(items=[item("L1", reason=reason)], preferred=preferred))


def test_not_a_json_object() -> None:
    with pytest.raises(InvalidRequest):
        parse_request("[1, 2")
    with pytest.raises(InvalidRequest):
        parse_request(["R-1"])


def test_error_is_one_line() -> None:
    data = example()
    data["surprise"] = 1
    data["order"]["currency"] = "USD"
    msg = refused(data)
    assert "\n" not in msg
    assert "surprise" in msg and "order.currency" in msg


def test_an_amount_reads_the_same_every_time_and_a_refused_one_is_refused_every_time() -> None:
    """parse_money keeps the Decimal of a short text (the same prices in every event a rebuild
    reads): a second reading gives the same, a refused text is refused again, and a text too
    long to keep reads as a short one does."""
    for amount in ("39.95", " 39.95", " " * 40 + "39.95", "39.95"):
        data = example()
        data["order"]["lines"][0]["unit_price"] = amount
        assert parse_request(data).order.lines[0].unit_price == Decimal("39.95"), repr(amount)
    for amount in ("39.999", "39.999", " " * 40 + "39.999"):
        data = example()
        data["order"]["lines"][0]["unit_price"] = amount
        assert "order.lines[0].unit_price" in refused(data)


def test_a_request_is_checked_once_when_it_is_made_not_again_where_it_is_nested() -> None:
    """A ReturnRequest is frozen: nested in an event or a case it is taken as it is (pydantic
    re-ran its checks for every case a rebuild folds); the same data as a dict is checked."""
    req = parse_request(example())
    assert ReturnRequest.model_validate(req) is req
    broken = req.model_copy(update={"items": []})  # model_copy checks nothing: only to show it
    assert ReturnRequest.model_validate(broken) is broken
    with pytest.raises(ValidationError, match="items: must list at least one item"):
        ReturnRequest.model_validate(broken.model_dump())
