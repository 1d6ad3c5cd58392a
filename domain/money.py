"""Money as Decimal, written as a string with two decimals, as the contract fixes."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_MONEY = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def parse_money(value: Any) -> Decimal:
    """Accept only a decimal string with at most 2 decimals; floats would lose cents."""
    if isinstance(value, Decimal):
        if value < 0:
            raise ValueError("must not be negative")
        if value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError("must have at most 2 decimals")
        return value.quantize(CENT)
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "39.95"')
    text = value.strip()
    if text.startswith("-"):
        raise ValueError("must not be negative")
    if not _MONEY.match(text):
        raise ValueError(f'must be a decimal string with at most 2 decimals, got "{value[:40]}"')
    return Decimal(text).quantize(CENT)


def fmt(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP)}"


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


Money = Annotated[Decimal, BeforeValidator(parse_money), PlainSerializer(fmt, return_type=str)]
