"""Cases driven through the pure decider (tests/domain/helpers.Driver), each to the messages it
sends, so the renderer is tested on the data the domain really builds. Between them they send
every message name, for every case kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.effects import CustomerMessage
from tests.domain.helpers import Driver, item, line, request

PRINTER = line(
    "L1", name="HP LaserJet Pro M404dn", category="printers", unit_price="229.00", warranty_months=24
)
SHOES = line("L2", name="Wandelschoenen", category="shoes", unit_price="89.99")
GIFT = line(
    "L3", name="Schoenspray (cadeau)", category="shoes", unit_price="0.00", list_price="5.49", gift_for="L2"
)
TONER = line("L1", name="Toner 410X (huismerk)", category="printer_supplies", unit_price="39.95")
LAPTOP = line("L1", name="Laptop Pro 14", category="computers", unit_price="1149.00", warranty_months=24)
EBOOK = line("L1", name="E-book Retourbeleid", category="ebooks", kind="digital", unit_price="9.99")

FAULT = {"reason": "defective", "condition": "used"}


def _messages(d: Driver) -> list[CustomerMessage]:
    return [e for e in d.effects if isinstance(e, CustomerMessage)]


def warranty_replacement(locale: str) -> list[CustomerMessage]:
    """Photo, choice (repair offered), parcel, inspection; a reminder; replacement."""
    d = Driver(request(lines=[PRINTER], items=[item("L1", **FAULT)], preferred=None, locale=locale))
    d.advance(days=7.5)
    d.photos("L1", "error.jpg")
    d.choose("replacement")
    d.parcel()
    d.inspect(passed=True, note="fuser defect")
    return _messages(d)


def warranty_inspection_failed(locale: str) -> list[CustomerMessage]:
    d = Driver(request(lines=[PRINTER], items=[item("L1", **FAULT, photos=["a.jpg"])], locale=locale))
    d.parcel()
    d.inspect(passed=False, note="waterschade aan de printkop")
    return _messages(d)


def warranty_repair(locale: str) -> list[CustomerMessage]:
    d = Driver(
        request(
            lines=[PRINTER], items=[item("L1", **FAULT, photos=["a.jpg"])], preferred="repair", locale=locale
        )
    )
    d.parcel()
    d.inspect(passed=True)
    d.repaired("new fuser")
    return _messages(d)


def return_store_credit(locale: str) -> list[CustomerMessage]:
    """A return whose free gift stays home (a deduction); a parcel reminder; store credit."""
    d = Driver(request(lines=[SHOES, GIFT], items=[item("L2")], preferred="store_credit", locale=locale))
    d.advance(days=15)
    d.parcel()
    return _messages(d)


def return_expired(locale: str) -> list[CustomerMessage]:
    d = Driver(request(lines=[SHOES], items=[item("L2")], locale=locale))
    d.advance(days=31)
    return _messages(d)


def photos_expired(locale: str) -> list[CustomerMessage]:
    d = Driver(request(lines=[TONER], items=[item("L1", **FAULT)], locale=locale))
    d.advance(days=15)
    return _messages(d)


def laptop_refund(locale: str) -> list[CustomerMessage]:
    """Two photos, a parcel and an inspection; a refund of 1149.00 to iDEAL."""
    d = Driver(request(lines=[LAPTOP], items=[item("L1", **FAULT)], locale=locale))
    d.photos("L1", "screen.jpg", "serial.jpg")
    d.parcel()
    d.inspect(passed=True)
    return _messages(d)


def mixed_refund(locale: str) -> list[CustomerMessage]:
    d = Driver(
        request(
            lines=[PRINTER, SHOES],
            items=[item("L1", **FAULT, photos=["a.jpg"]), item("L2")],
            locale=locale,
        )
    )
    d.parcel()
    d.inspect(passed=True)
    return _messages(d)


def rejected(locale: str) -> list[CustomerMessage]:
    d = Driver(request(lines=[EBOOK], items=[item("L1")], locale=locale))
    return _messages(d)


def withdrawal(locale: str) -> list[CustomerMessage]:
    """The whole order withdrawn: the acknowledgment, and the delivery costs back (7.2, 7.3)."""
    data: dict[str, Any] = request(lines=[SHOES], items=[item("L2", reason="withdrawal")], locale=locale)
    data["order"]["delivery_price"] = "4.95"
    d = Driver(data)
    d.parcel()
    return _messages(d)


SCENARIOS: dict[str, Callable[[str], list[CustomerMessage]]] = {
    f.__name__: f
    for f in (
        warranty_replacement,
        warranty_inspection_failed,
        warranty_repair,
        return_store_credit,
        return_expired,
        photos_expired,
        laptop_refund,
        mixed_refund,
        rejected,
        withdrawal,
    )
}


def every_message(locale: str) -> list[tuple[str, CustomerMessage]]:
    return [(name, m) for name, scenario in SCENARIOS.items() for m in scenario(locale)]
