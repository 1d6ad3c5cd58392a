"""Effects on outside systems that a ReturnCase calls for. Each carries an idempotency key
derived from the case and the event that called for it (never an attempt number)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.money import Money


class _Effect(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    key: str
    return_id: str


class Refund(_Effect):
    """To the original payment method, with its payment reference: never converted."""

    effect: Literal["refund"] = "refund"
    amount: Money
    payment_method: str
    payment_reference: str


class StoreCredit(_Effect):
    effect: Literal["store_credit"] = "store_credit"
    customer_id: str
    amount: Money


class Replacement(_Effect):
    effect: Literal["replacement"] = "replacement"
    order_id: str
    line_ids: tuple[str, ...]


class RepairOrder(_Effect):
    """Contract 7.1: the shipped items go to repair."""

    effect: Literal["repair_order"] = "repair_order"
    order_id: str
    line_ids: tuple[str, ...]


class LicenceRevocation(_Effect):
    effect: Literal["licence_revocation"] = "licence_revocation"
    order_id: str
    line_id: str
    sku: str


class CustomerMessage(_Effect):
    effect: Literal["message"] = "message"
    customer_id: str
    email: str
    template: str
    # What mail/render.py renders: the message's data (domain/messages.py), nothing rendered here.
    data: dict[str, Any]


Effect = Annotated[
    Refund | StoreCredit | Replacement | RepairOrder | LicenceRevocation | CustomerMessage,
    Field(discriminator="effect"),
]
