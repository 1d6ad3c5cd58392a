"""The Mollie adapter against a real HTTP server in the test that answers with the bodies of
Mollie's documentation, asserting the requests the adapter sends. Not tried against a live Mollie.

Bodies after:
- https://docs.mollie.com/reference/create-refund (Create payment refund: POST
  /v2/payments/{paymentId}/refunds with amount {currency, value}, description, metadata; the
  refund object it answers, status "pending")
- https://docs.mollie.com/reference/list-refunds (List payment refunds: `_embedded.refunds`,
  `count`, `_links`)
- https://docs.mollie.com/reference/get-refund (Get payment refund: GET
  /v2/payments/{paymentId}/refunds/{refundId}, the refund object; its status moves from queued or
  pending to refunded, or to failed or canceled)
- https://docs.mollie.com/overview/handling-errors (an error: status, title, detail, field)
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.server import serving
from domain.effects import Refund
from payments.mollie import MollieProvider
from payments.port import PaymentRefused, ProviderRefund

API_KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"  # the documentation's test key
PAYMENT = "tr_WDqYK6vllg"
HAL = "application/hal+json"


def refund_object(payment_id: str, body: dict[str, Any], refund_id: str) -> dict[str, Any]:
    """The refund object of the documentation, with what this request asked."""
    return {
        "resource": "refund",
        "id": refund_id,
        "mode": "test",
        "amount": body["amount"],
        "status": "pending",
        "createdAt": "2023-03-14T17:09:02.0Z",
        "description": body["description"],
        "metadata": body.get("metadata"),
        "paymentId": payment_id,
        "_links": {
            "self": {
                "href": f"https://api.mollie.com/v2/payments/{payment_id}/refunds/{refund_id}",
                "type": HAL,
            },
            "payment": {"href": f"https://api.mollie.com/v2/payments/{payment_id}", "type": HAL},
            "documentation": {"href": "https://docs.mollie.com/reference/create-refund", "type": "text/html"},
        },
    }


@dataclass
class FakeMollie:
    url: str = ""
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    refunds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refusing: set[str] = field(default_factory=set)  # payments whose refunds answer 422
    down: bool = False  # every answer a 503
    unreadable: set[str] = field(default_factory=set)  # refunds whose reads answer 503
    read_delay: float = 0.0  # seconds a read of one refund takes
    reads: dict[str, list[float]] = field(default_factory=dict)  # refund id: when each read came

    def settle(self, refund_id: str, status: str) -> None:
        """Mollie moves the refund on (refunded, failed, canceled)."""
        found = [r for refunds in self.refunds.values() for r in refunds if r["id"] == refund_id]
        assert found, f"no refund {refund_id}"
        found[0]["status"] = status

    def read_count(self, refund_id: str) -> int:
        return len(self.reads.get(refund_id, []))

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v2/payments/{payment_id}/refunds")
        async def list_refunds(payment_id: str, request: Request) -> JSONResponse:
            self.requests.append(("GET", request.url.path, dict(request.headers), dict(request.query_params)))
            if self.down:
                return JSONResponse({"status": 503, "title": "Service Unavailable", "detail": "down"}, 503)
            found = self.refunds.get(payment_id, [])
            return JSONResponse(
                {
                    "count": len(found),
                    "_embedded": {"refunds": found},
                    "_links": {
                        "self": {
                            "href": f"https://api.mollie.com/v2/payments/{payment_id}/refunds",
                            "type": HAL,
                        },
                        "previous": None,
                        "next": None,
                        "documentation": {
                            "href": "https://docs.mollie.com/reference/list-refunds",
                            "type": "text/html",
                        },
                    },
                },
                media_type=HAL,
            )

        @app.get("/v2/payments/{payment_id}/refunds/{refund_id}")
        async def get_refund(payment_id: str, refund_id: str, request: Request) -> JSONResponse:
            self.requests.append(("GET", request.url.path, dict(request.headers), None))
            self.reads.setdefault(refund_id, []).append(time.monotonic())
            if self.read_delay:
                await asyncio.sleep(self.read_delay)
            if self.down or refund_id in self.unreadable:
                return JSONResponse({"status": 503, "title": "Service Unavailable", "detail": "down"}, 503)
            for made in self.refunds.get(payment_id, []):
                if made["id"] == refund_id:
                    return JSONResponse(made, media_type=HAL)
            return JSONResponse(
                {"status": 404, "title": "Not Found", "detail": f"No refund exists with token {refund_id}."},
                404,
                media_type="application/problem+json",
            )

        @app.post("/v2/payments/{payment_id}/refunds")
        async def create_refund(payment_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(("POST", request.url.path, dict(request.headers), body))
            if payment_id in self.refusing:
                return JSONResponse(
                    {
                        "status": 422,
                        "title": "Unprocessable Entity",
                        "detail": "The amount is higher than the refundable amount",
                        "field": "amount",
                        "_links": {
                            "documentation": {
                                "href": "https://docs.mollie.com/overview/handling-errors",
                                "type": "text/html",
                            }
                        },
                    },
                    422,
                    media_type="application/problem+json",
                )
            made = refund_object(payment_id, body, f"re_{secrets.token_hex(5)}")
            self.refunds.setdefault(payment_id, []).append(made)
            return JSONResponse(made, 201, media_type=HAL)

        return app


@pytest.fixture
async def mollie() -> AsyncIterator[FakeMollie]:
    fake = FakeMollie()
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake


def refund(payment: str = PAYMENT, amount: str = "39.95") -> Refund:
    return Refund(
        key=f"refund-R-1-{uuid.uuid4().hex[:8]}",
        return_id="R-1",
        amount=Decimal(amount),
        payment_method="ideal",
        payment_reference=payment,
    )


async def test_refund_posts_the_documented_body_with_the_idempotency_key(mollie: FakeMollie) -> None:
    r = refund()
    made = await MollieProvider(API_KEY, mollie.url).refund(r)
    [answered] = mollie.refunds[PAYMENT]
    assert made == ProviderRefund(provider="mollie", provider_refund_id=answered["id"], status="pending")
    (get, get_path, get_headers, _), (post, path, headers, body) = mollie.requests
    assert (get, get_path) == ("GET", f"/v2/payments/{PAYMENT}/refunds")  # looked up first
    assert get_headers["authorization"] == f"Bearer {API_KEY}"
    assert (post, path) == ("POST", f"/v2/payments/{PAYMENT}/refunds")
    assert headers["idempotency-key"] == r.key
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert body == {
        "amount": {"currency": "EUR", "value": "39.95"},
        "description": "Return R-1",
        "metadata": {"return_id": "R-1", "effect_key": r.key},
    }


async def test_a_retry_finds_the_refund_by_its_key_and_creates_none(mollie: FakeMollie) -> None:
    provider = MollieProvider(API_KEY, mollie.url)
    r = refund()
    first = await provider.refund(r)
    again = await provider.refund(r)  # the first answer was lost to a crash
    assert again == first
    assert [m for m, *_ in mollie.requests] == ["GET", "POST", "GET"]
    other = await provider.refund(refund())  # another effect on the same payment is its own
    assert other.provider_refund_id != first.provider_refund_id
    assert [m for m, *_ in mollie.requests] == ["GET", "POST", "GET", "GET", "POST"]


async def test_a_refusal_carries_mollies_detail(mollie: FakeMollie) -> None:
    mollie.refusing.add(PAYMENT)
    with pytest.raises(PaymentRefused) as refused:
        await MollieProvider(API_KEY, mollie.url).refund(refund(amount="500.00"))
    assert refused.value.message == "The amount is higher than the refundable amount"


async def test_not_a_mollie_payment_is_refused_without_a_call(mollie: FakeMollie) -> None:
    with pytest.raises(PaymentRefused, match="not a Mollie payment"):
        await MollieProvider(API_KEY, mollie.url).refund(refund(payment="pi_123"))
    assert mollie.requests == []


async def test_mollie_down_is_an_error_to_retry_not_a_refusal(mollie: FakeMollie) -> None:
    mollie.down = True
    with pytest.raises(Exception) as failed:
        await MollieProvider(API_KEY, mollie.url).refund(refund())
    assert not isinstance(failed.value, PaymentRefused)


async def test_refund_status_reads_the_refund_as_mollie_moves_it(mollie: FakeMollie) -> None:
    provider = MollieProvider(API_KEY, mollie.url)
    made = await provider.refund(refund())
    assert made.provider_refund_id is not None
    assert await provider.refund_status(PAYMENT, made.provider_refund_id) == "pending"
    mollie.settle(made.provider_refund_id, "refunded")
    assert await provider.refund_status(PAYMENT, made.provider_refund_id) == "refunded"
    method, path, headers, _ = mollie.requests[-1]
    assert (method, path) == ("GET", f"/v2/payments/{PAYMENT}/refunds/{made.provider_refund_id}")
    assert headers["authorization"] == f"Bearer {API_KEY}"
    with pytest.raises(Exception, match="No refund exists"):  # an unknown refund: an error, asked again
        await provider.refund_status(PAYMENT, "re_unknown1")
