"""The start form (one fieldset per order line) read into a return request, or field errors:
each error names the form field it belongs to, so the page shows it next to that field."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from domain.request import FAULT_REASONS, Order

REASONS = (*FAULT_REASONS, "changed_mind", "does_not_fit", "ordered_by_mistake")  # not `withdrawal`
CONDITIONS = ("unopened", "opened", "used")
RESOLUTIONS = ("refund", "store_credit")
MAX_PHOTOS = 20
_ID_CHARS = re.compile(r"[^A-Za-z0-9._:-]")
_ALPHABET = string.ascii_lowercase + string.digits


def return_id_prefix(order_id: str) -> str:
    return f"P-{_ID_CHARS.sub('-', order_id)[:80]}-"


def new_return_id(order_id: str) -> str:
    """Made when the form is rendered: a double submit reaches the same case."""
    return return_id_prefix(order_id) + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def valid_return_id(order_id: str, return_id: str) -> bool:
    prefix = return_id_prefix(order_id)
    tail = return_id[len(prefix) :]
    return return_id.startswith(prefix) and len(tail) == 8 and all(c in _ALPHABET for c in tail)


@dataclass
class Errors:
    """field name -> (catalogue key, values)."""

    fields: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def add(self, name: str, key: str, **values: Any) -> None:
        self.fields.setdefault(name, (key, values))

    def __bool__(self) -> bool:
        return bool(self.fields)


def fname(index: int, what: str) -> str:
    return f"line-{index}-{what}"


@dataclass
class LineInput:
    index: int
    line_id: str
    quantity: int
    reason: str
    condition: str
    note: str


def read_lines(order: Order, form: dict[str, str], errors: Errors) -> list[LineInput]:
    """The lines the customer returns, checked; errors for what is wrong, per field."""
    chosen: list[LineInput] = []
    for i, line in enumerate(order.lines):
        if form.get(fname(i, "return")) != "yes":
            continue
        raw = form.get(fname(i, "quantity"), "").strip()
        quantity = int(raw) if raw.isdigit() else 0
        if not 1 <= quantity <= line.quantity:
            errors.add(fname(i, "quantity"), "error_quantity", max=line.quantity)
        reason = form.get(fname(i, "reason"), "")
        if reason not in REASONS:
            errors.add(fname(i, "reason"), "error_reason")
        condition = form.get(fname(i, "condition"), "")
        if condition not in CONDITIONS:
            errors.add(fname(i, "condition"), "error_condition")
        note = form.get(fname(i, "note"), "")
        if len(note) > 2000 or "\x00" in note:
            errors.add(fname(i, "note"), "error_note")
        chosen.append(LineInput(i, line.line_id, quantity, reason, condition, note))
    if not chosen:
        errors.add("lines", "error_no_item")
    return chosen


def start_request(
    order_json: dict[str, Any],
    return_id: str,
    lines: list[LineInput],
    photos: dict[str, list[str]],
    resolution: str,
    locale: str,
) -> dict[str, Any]:
    return {
        "return_id": return_id,
        "order": order_json,
        "items": [
            {
                "line_id": x.line_id,
                "quantity": x.quantity,
                "reason": x.reason,
                "condition": x.condition,
                "note": x.note,
                "photos": photos.get(x.line_id, []),
            }
            for x in lines
        ],
        "preferred_resolution": resolution,
        "locale": locale,
    }
