"""The returns policy: data in a file (read by the policies package), identified by a hash of its
content."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from domain.money import Money
from domain.upcasting import POLICY_BEFORE_2026


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = ""
    return_window_days: int = Field(30, ge=0)
    guarantee_months: int = Field(24, ge=0)
    photo_categories: tuple[str, ...] = ("printer_supplies", "printers", "electronics", "computers")
    high_value_from: Money = Decimal("250.00")
    returnless_below: Money = Decimal("50.00")
    store_credit_bonus_pct: Decimal = Field(Decimal("0"), ge=0)
    photos_due_days: int = Field(14, ge=0)
    photos_reminder_days: int = Field(7, ge=0)
    choice_due_days: int = Field(14, ge=0)
    choice_reminder_days: int = Field(7, ge=0)
    parcel_due_days: int = Field(30, ge=0)
    parcel_reminder_days: int = Field(14, ge=0)
    inspection_due_days: int = Field(5, ge=0)
    appeal_days: int = Field(14, ge=0)
    # Contract 7: a policy file lacking these takes these defaults; a policy recorded in a case
    # before they existed reads with the values of domain.upcasting.POLICY_BEFORE_2026 instead.
    repair_categories: tuple[str, ...] = ("printers", "electronics", "computers")
    repair_extension_months: int = Field(12, ge=0)
    repair_law_from: date = date(2026, 7, 31)
    repair_due_days: int = Field(30, ge=0)
    return_fee: Money = Decimal("0.00")


def before_2026(policy: Policy) -> Policy:
    """The policy as a case begun before contract 7 reads it: no repair offered, no return fee
    (the values the case_assessed upcaster gives a recorded policy)."""
    return Policy.model_validate({**policy.model_dump(), **POLICY_BEFORE_2026})


def policy_from_bytes(content: bytes) -> Policy:
    """The version is the content hash, so two files with equal settings share a version."""
    data = json.loads(content)
    if "version" in data:
        raise ValueError("a policy file must not set 'version'; it is the content hash")
    version = hashlib.sha256(content).hexdigest()[:12]
    return Policy.model_validate({**data, "version": version})
