"""Stripe: refunds the PaymentIntent (`pi_...`) or charge (`ch_...`) in the payment reference.

Exactly once per effect key, even when an answer is lost (a crash after Stripe created the refund,
before the activity completed): the refund carries metadata {return_id, effect_key}, and before
creating one the adapter lists that payment's refunds and answers the one with this key. The
`Idempotency-Key` header (the effect key) covers concurrent retries within Stripe's 24 hours; the
look-up covers any time after. The async client (httpx) runs in the worker's event loop.

`refund_status` retrieves the refund (GET /v1/refunds/{id}) for the refund follower."""

from __future__ import annotations

import stripe
from stripe.params import RefundCreateParams, RefundListParams

from domain.effects import Refund
from payments.port import PaymentRefused, ProviderRefund, cents

PAGE = 100


class StripeProvider:
    name = "stripe"

    def __init__(self, api_key: str, api_base: str | None = None, timeout: float = 20) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.HTTPXClient(timeout=timeout),
            max_network_retries=0,  # Temporal retries the activity; the look-up keeps it once
        )

    async def refund(self, r: Refund) -> ProviderRefund:
        kind, payment = _payment(r)
        try:
            found = await self._find(kind, payment, r.key)
            if found is None:
                params = RefundCreateParams(
                    amount=cents(r), metadata={"return_id": r.return_id, "effect_key": r.key}
                )
                if kind == "payment_intent":
                    params["payment_intent"] = payment
                else:
                    params["charge"] = payment
                found = await self._client.v1.refunds.create_async(params, options={"idempotency_key": r.key})
        except stripe.InvalidRequestError as e:
            if e.http_status in (409, 429):  # the same key in flight, or rate limited: retry
                raise
            raise PaymentRefused(self.name, e.user_message or str(e)) from None
        return ProviderRefund(provider=self.name, provider_refund_id=found.id, status=str(found.status))

    async def refund_status(self, payment_reference: str, provider_refund_id: str) -> str:
        found = await self._client.v1.refunds.retrieve_async(provider_refund_id)
        return str(found.status)

    async def _find(self, kind: str, payment: str, key: str) -> stripe.Refund | None:
        """The payment's refund made for this effect key, if an earlier attempt made it."""
        params = RefundListParams(limit=PAGE)
        if kind == "payment_intent":
            params["payment_intent"] = payment
        else:
            params["charge"] = payment
        while True:
            page = await self._client.v1.refunds.list_async(params)
            for refund in page.data:
                if (
                    refund.metadata
                    and "effect_key" in refund.metadata
                    and refund.metadata["effect_key"] == key
                ):
                    return refund
            if not page.has_more or not page.data:
                return None
            params["starting_after"] = page.data[-1].id


def _payment(r: Refund) -> tuple[str, str]:
    """("payment_intent" or "charge", its id) from the payment reference."""
    ref = r.payment_reference
    if ref.startswith("pi_"):
        return "payment_intent", ref
    if ref.startswith("ch_"):
        return "charge", ref
    raise PaymentRefused(
        "stripe", f"payment reference {ref!r} is neither a PaymentIntent (pi_) nor a charge (ch_)"
    )
