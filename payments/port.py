"""The port to a payment provider: refund one effect, exactly once per effect key, and read a
refund's current status back (the refund follower, payments/follower.py).

An adapter answers the provider's refund (`ProviderRefund`), raises `PaymentRefused` when the
provider answers that this refund cannot be made (more than was paid, an unknown payment), and
lets everything else (network errors, timeouts, 5xx) propagate: those are retried.

A provider's refund starts pending and ends in one of FINAL_STATUSES (Mollie: queued, pending,
processing -> refunded, failed, canceled; Stripe: pending, requires_action -> succeeded, failed,
canceled); FAILED_STATUSES of them mean the customer did not get the money."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.effects import Refund


@dataclass(frozen=True)
class ProviderRefund:
    """The provider's record of a refund: its name in our config, its refund id, its status."""

    provider: str
    provider_refund_id: str | None
    status: str


class PaymentRefused(Exception):
    """The provider refused the refund; retrying the same request cannot help. The message is the
    provider's own, for ops."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


FINAL_STATUSES = frozenset({"succeeded", "refunded", "failed", "canceled"})
FAILED_STATUSES = frozenset({"failed", "canceled"})


def is_final(status: str) -> bool:
    """Whether a refund in this status can still change at the provider (False) or not (True)."""
    return status in FINAL_STATUSES


class PaymentProvider(Protocol):
    name: str

    async def refund(self, r: Refund) -> ProviderRefund:
        """Refund `r.amount` of the payment `r.payment_reference`, once per `r.key`: a second call
        with the same key answers the first call's refund."""
        ...

    async def refund_status(self, payment_reference: str, provider_refund_id: str) -> str:
        """The provider's current status of its refund `provider_refund_id` of that payment. Errors
        propagate (the follower asks again later)."""
        ...


def cents(r: Refund) -> int:
    """The amount in minor units (euro cents): exact, from the Decimal."""
    return int((r.amount * 100).to_integral_exact())
