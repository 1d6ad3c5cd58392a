"""The customer aggregate: what happens to a customer as a whole (GDPR erasure), beside their
cases. Its events live in the stream `customer-<customer_id>`, never in a case's stream, so
everything that folds cases (the read model's rebuild, the webhook relay) skips these streams.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CUSTOMER_STREAM_PREFIX = "customer-"
# The pseudonym an erased customer's read-model and ledger rows carry instead of their id.
PSEUDONYM_PREFIX = "erased-"
_ERASED_EVENT_IDS = uuid.UUID("0b6e3c1d-7f2a-5d94-8e61-2c4a9f3b7d05")


def customer_stream(customer_id: str) -> str:
    return f"{CUSTOMER_STREAM_PREFIX}{customer_id}"


def is_customer_stream(stream_id: str) -> bool:
    return stream_id.startswith(CUSTOMER_STREAM_PREFIX)


def pseudonym(erasure_id: str) -> str:
    """The id an erased customer's rows carry from then on (one per customer, made once)."""
    return f"{PSEUDONYM_PREFIX}{erasure_id}"


def erased_event_id(customer_id: str, erasure_id: str) -> uuid.UUID:
    """The id of the customer_erased event of one erasure: a retried append finds it recorded."""
    return uuid.uuid5(_ERASED_EVENT_IDS, f"{customer_id}/{erasure_id}")


class ErasureCounts(BaseModel):
    """What one erasure did, row by row (ids and counts only: nothing personal)."""

    model_config = ConfigDict(frozen=True)

    cases: int = 0  # read-model rows anonymised
    outbox_messages: int = 0  # stored mails whose personal columns were cleared
    webhook_messages: int = 0  # webhook payloads of the cases deleted
    idempotency_answers: int = 0  # stored API answers about the cases deleted
    store_credits: int = 0  # ledger rows moved to the pseudonym (amounts kept)
    balances: int = 0  # customer_balances rows moved to the pseudonym (amounts kept)
    photos: int = 0  # photos deleted from the photo store
    executions: int = 0  # Temporal executions deleted
    data_keys: int = 0  # the customer's data keys deleted (crypto-shredding)

    def __add__(self, other: ErasureCounts) -> ErasureCounts:
        """The counts of two (partial) runs of the steps together."""
        return ErasureCounts(**{k: getattr(self, k) + getattr(other, k) for k in ErasureCounts.model_fields})


class CustomerErased(BaseModel):
    """The audit record of an erasure (GDPR Art. 17): who, why, when, which cases, what was done."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["customer_erased"] = "customer_erased"
    at: datetime
    customer_id: str
    pseudonym: str
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    return_ids: tuple[str, ...]
    counts: ErasureCounts


def customer_event_from_json(data: Mapping[str, Any]) -> CustomerErased:
    """The one way a customer stream's events are read (one type, version 1 so far)."""
    fields = {k: v for k, v in data.items() if k != "schema_version"}
    return CustomerErased.model_validate(fields)


def customer_event_to_json(event: CustomerErased) -> dict[str, Any]:
    return {**event.model_dump(mode="json"), "schema_version": 1}
