"""The withdrawal function (contract 7.2, Art. 11a): while the order is in its withdrawal period,
one case of every returnable line, all quantities, reason `withdrawal`, no reason asked."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from domain.assessment import AMSTERDAM
from domain.policy import Policy
from domain.request import Order, OrderLine


def period_ends(order: Order, policy: Policy) -> date:
    """The last Amsterdam calendar day of the period: delivery day + return_window_days (2.1)."""
    return order.delivered_at.astimezone(AMSTERDAM).date() + timedelta(days=policy.return_window_days)


def in_period(order: Order, policy: Policy, now: datetime) -> bool:
    return now.astimezone(AMSTERDAM).date() <= period_ends(order, policy)


def returnable_lines(order: Order) -> list[OrderLine]:
    """What a withdrawal takes back: physical lines, and a digital line only as the gift of one
    (it follows its parent); a digital product on its own has no withdrawal (2.1)."""
    physical = {line.line_id for line in order.lines if line.kind == "physical"}
    return [line for line in order.lines if line.kind == "physical" or line.gift_for in physical]


def withdrawal_request(
    order_json: dict[str, Any], order: Order, return_id: str, name: str, email: str, locale: str
) -> dict[str, Any]:
    """The request: the signed order with the customer as they identified themselves, every
    returnable line in full, reason `withdrawal`, and refund (the legal default)."""
    customer = {**order_json["customer"], "name": name, "email": email}
    return {
        "return_id": return_id,
        "order": {**order_json, "customer": customer},
        "items": [
            {
                "line_id": line.line_id,
                "quantity": line.quantity,
                "reason": "withdrawal",
                "condition": "unopened",
            }
            for line in returnable_lines(order)
        ],
        "preferred_resolution": "refund",
        "locale": locale,
    }
