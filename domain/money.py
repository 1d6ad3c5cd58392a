"""Money as Decimal, written as a string with two decimals, as the contract fixes."""

from __future__ import annotations

import functools
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
    # Every amount of every event a rebuild reads comes through here, mostly the same few prices:
    # a short text's Decimal is kept (immutable, so shared); a refused text raises again each
    # time (lru_cache keeps no exceptions).
    return _parse_short(value) if len(value) <= 32 else _parse_text(value)


def _parse_text(value: str) -> Decimal:
    text = value.strip()
    if text.startswith("-"):
        raise ValueError("must not be negative")
    if not _MONEY.match(text):
        raise ValueError(f'must be a decimal string with at most 2 decimals, got "{value[:40]}"')
    return Decimal(text).quantize(CENT)


_parse_short = functools.lru_cache(maxsize=4096)(_parse_text)


def fmt(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP)}"


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


Money = Annotated[Decimal, BeforeValidator(parse_money), PlainSerializer(fmt, return_type=str)]
