"""The return request of contract section 1, validated strictly before any case starts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StrictInt,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.money import Money

FAULT_REASONS = ("defective", "damaged_on_arrival", "wrong_item_sent", "not_as_described")
# `withdrawal` (contract 7.2) gives no reason: every rule treats it as changed_mind.
PREFERENCE_REASONS = ("changed_mind", "does_not_fit", "ordered_by_mistake", "withdrawal")
Reason = Literal[
    "defective",
    "damaged_on_arrival",
    "wrong_item_sent",
    "not_as_described",
    "changed_mind",
    "does_not_fit",
    "ordered_by_mistake",
    "withdrawal",
]
Condition = Literal["unopened", "opened", "used"]
Resolution = Literal["refund", "store_credit", "replacement", "repair"]
LineKind = Literal["physical", "digital"]
# The language of the customer's messages; requests before it existed were answered in Dutch.
Locale = Literal["nl", "en"]

Id = Field(min_length=1, max_length=100)
Text = Field(max_length=500)


def refuse_nul(model: BaseModel) -> None:
    """PostgreSQL text cannot hold NUL: refuse it at the door, or the case's first append would
    retry forever."""
    # The fields' values as stored (vars), not pydantic's iteration: this runs on every request
    # model of every event read (a rebuild folds them all).
    for name, value in vars(model).items():
        if (isinstance(value, str) and "\x00" in value) or (
            isinstance(value, list | tuple) and any(isinstance(v, str) and "\x00" in v for v in value)
        ):
            raise _error(name, "must not contain NUL characters")


# The validation context of data read back from the event store (domain.events.event_from_json).
# It cannot hold NUL (PostgreSQL refused the append that tried), so the NUL check, which runs on
# every request model of every event read (a rebuild reads them all), is left out there; every
# other check runs as at the door.
STORED: dict[str, Any] = {"stored": True}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _no_nul(self, info: ValidationInfo) -> _Strict:
        if info.context is not STORED:
            refuse_nul(self)
        return self


class Customer(_Strict):
    id: str = Id
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Text


class Payment(_Strict):
    method: str = Id
    reference: str = Id


class OrderLine(_Strict):
    line_id: str = Id
    sku: str = Id
    name: str = Text
    category: str = Id
    kind: LineKind
    unit_price: Money
    list_price: Money | None = None
    quantity: StrictInt = Field(ge=1, le=10_000)
    warranty_months: StrictInt | None = Field(None, ge=0, le=1200)
    gift_for: str | None = None


class Order(_Strict):
    order_id: str = Id
    customer: Customer
    placed_at: AwareDatetime
    delivered_at: AwareDatetime
    payment: Payment
    currency: Literal["EUR"]
    # What the customer paid for standard delivery (contract 7.3); orders before it have none.
    delivery_price: Money = Decimal("0.00")
    lines: list[OrderLine] = Field(min_length=1, max_length=500)

    def line(self, line_id: str) -> OrderLine:
        return next(line for line in self.lines if line.line_id == line_id)


class ReturnItem(_Strict):
    line_id: str = Id
    quantity: StrictInt
    reason: Reason
    condition: Condition
    note: str = Field("", max_length=2000)
    photos: list[str] = Field(default_factory=list, max_length=20)


def _error(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("return_request", "{field}: {message}", {"field": field, "message": message})


class ReturnRequest(_Strict):
    return_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    requested_at: AwareDatetime | None = None
    order: Order
    items: list[ReturnItem] = Field(max_length=500)
    preferred_resolution: Resolution | None = None
    locale: Locale = "nl"

    @model_validator(mode="after")
    def _consistent(self) -> ReturnRequest:
        if not self.items:
            raise _error("items", "must list at least one item")
        lines: dict[str, OrderLine] = {}
        for i, line in enumerate(self.order.lines):
            if line.line_id in lines:
                raise _error(f"order.lines[{i}].line_id", f"'{line.line_id}' appears twice")
            lines[line.line_id] = line
        for i, line in enumerate(self.order.lines):
            if line.gift_for is not None and (line.gift_for not in lines or line.gift_for == line.line_id):
                raise _error(f"order.lines[{i}].gift_for", f"'{line.gift_for}' names no other line")
        seen: set[str] = set()
        for i, item in enumerate(self.items):
            if item.line_id not in lines:
                raise _error(f"items[{i}].line_id", f"'{item.line_id}' is not a line of the order")
            if item.line_id in seen:
                raise _error(f"items[{i}].line_id", f"'{item.line_id}' is listed twice")
            seen.add(item.line_id)
            ordered = lines[item.line_id].quantity
            if not 1 <= item.quantity <= ordered:
                raise _error(f"items[{i}].quantity", f"must be between 1 and {ordered} (ordered)")
        if self.requested_at is not None and self.order.delivered_at > self.requested_at:
            raise _error("order.delivered_at", "is after requested_at")
        return self

    # Defined after the checks above, so it wraps them: a request that is already a ReturnRequest
    # (an event's, handed to the case it opens) passed them when it was made and, frozen, has not
    # changed; pydantic would run them again for every case a rebuild folds.
    @model_validator(mode="wrap")
    @classmethod
    def _checked_once(cls, data: Any, handler: ModelWrapValidatorHandler[ReturnRequest]) -> ReturnRequest:
        return data if type(data) is cls else handler(data)

    def at(self, opened_at: datetime) -> ReturnRequest:
        """requested_at defaults to the moment the case starts."""
        if self.requested_at is not None:
            return self
        if self.order.delivered_at > opened_at:
            raise ValueError("order.delivered_at: is after the moment the case starts")
        return self.model_copy(update={"requested_at": opened_at})


class InvalidRequest(ValueError):
    """A request refused before any case starts; the message names the field."""


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(field, message) for each of pydantic's errors, the field written as the contract names
    it (order.lines[0].sku). Locations starting with FastAPI's body/query/path part drop it."""
    out = []
    for e in errors:
        loc = tuple(e.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif e.get("type") == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif e.get("type") == "json_invalid" and "error" in (e.get("ctx") or {}):
            msg = f"Invalid JSON: {e['ctx']['error']}"
        out.append((_loc(loc), msg))
    return out


def as_line(errors: Iterable[tuple[str, str]], prefix: str = "invalid request") -> str:
    return f"{prefix}: " + "; ".join(f"{field}: {msg}" if field else msg for field, msg in errors)


def describe(error: ValidationError) -> str:
    """One line naming every offending field, for a CLI's stderr or an API error."""
    return as_line(field_errors(error.errors()))


def parse_request(data: object) -> ReturnRequest:
    try:
        if isinstance(data, str | bytes):
            return ReturnRequest.model_validate_json(data)
        return ReturnRequest.model_validate(data)
    except ValidationError as e:
        raise InvalidRequest(describe(e)) from None
