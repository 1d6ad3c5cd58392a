"""The data of each customer message (domain/messages.py): what the renderer shows and must not
look up. The due dates are the decider's own deadlines; the label goes with a parcel only; a
replacement carries what is replaced and no amount."""

from __future__ import annotations

from datetime import datetime

from domain.case import ReturnCase
from domain.decider import timers
from tests.domain.helpers import Driver, item, line, request

PRINTER = line("L1", name="Printer", category="printers", unit_price="229.00", warranty_months=24)
FAULT = {"reason": "defective", "condition": "used"}


def _state(d: Driver) -> ReturnCase:
    assert d.case is not None
    return d.case


def test_every_message_says_to_whom_in_which_language_and_about_which_order() -> None:
    d = Driver(request(lines=[PRINTER], items=[item("L1", **FAULT)], preferred=None, locale="en"))
    (opened,) = d.sent("case_opened")
    assert {k: opened.data[k] for k in ("return_id", "locale", "customer_name", "order_id", "kind")} == {
        "return_id": "R-1001",
        "locale": "en",
        "customer_name": "J. de Vries",
        "order_id": "O-5001",
        "kind": "warranty",
    }
    assert Driver(request()).effects[0].data["locale"] == "nl"  # absent: Dutch


def test_the_due_dates_are_the_deciders_deadlines() -> None:
    d = Driver(request(lines=[PRINTER], items=[item("L1", **FAULT)], preferred=None))
    (opened,) = d.sent("case_opened")
    deadlines = {t.need: t.at for t in timers(_state(d)) if t.action in ("expire", "default_choice")}
    assert {n: datetime.fromisoformat(at) for n, at in opened.data["due"].items()} == deadlines
    assert set(opened.data["due"]) == {"photos", "choice", "parcel"}
    assert opened.data["due"]["photos"] == "2026-11-03T07:00:00+00:00"  # 14 days, an aware time
    d.advance(days=7.5)
    (reminder,) = d.sent("reminder")
    assert reminder.data["needs"] == ["photos", "choice"] and set(reminder.data["due"]) == {
        "photos",
        "choice",
    }
    assert reminder.data["label"] is False  # the parcel is not what this reminder is about


def test_the_label_goes_with_a_parcel_only() -> None:
    shipped = Driver(request(lines=[PRINTER], items=[item("L1", **FAULT)])).sent("case_opened")[0]
    assert shipped.data["label"] is True
    assert shipped.data["parcel_items"] == [{"line_id": "L1", "name": "Printer", "quantity": 1}]
    assert shipped.data["inspection"] is True
    toner = line("L1", name="Toner", category="printer_supplies", unit_price="39.95")
    returnless = Driver(request(lines=[toner], items=[item("L1", **FAULT)])).sent("case_opened")[0]
    assert returnless.data["label"] is False and returnless.data["returnless"] == ["Toner"]


def test_a_replacement_names_the_items_and_carries_no_amount() -> None:
    d = Driver(
        request(lines=[PRINTER], items=[item("L1", **FAULT, photos=["a.jpg"])], preferred="replacement")
    )
    d.parcel()
    d.inspect(passed=True)
    (resolved,) = d.sent("case_resolved")
    assert resolved.data["replaced_items"] == [{"line_id": "L1", "name": "Printer", "quantity": 1}]
    assert "refund" not in resolved.data and "store_credit" not in resolved.data
    refund = Driver(request(lines=[PRINTER], items=[item("L1", **FAULT, photos=["a.jpg"])]))
    refund.parcel()
    refund.inspect(passed=True)
    (paid,) = refund.sent("case_resolved")
    assert paid.data["refund"] == "229.00" and paid.data["payment_method"] == "ideal"


def test_a_rejection_says_until_when_it_may_be_appealed() -> None:
    ebook = line("L1", name="E-book", category="ebooks", kind="digital", unit_price="9.99")
    (rejected,) = Driver(request(lines=[ebook], items=[item("L1")])).sent("case_rejected")
    assert rejected.data["items"] == [{"line_id": "L1", "name": "E-book", "rule": "digital-no-withdrawal"}]
    assert rejected.data["appeal_until"] == "2026-11-03T07:00:00+00:00"
