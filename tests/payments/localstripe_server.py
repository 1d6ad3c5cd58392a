"""localstripe (a Stripe API server in Python) as the tests run it: `python -m
tests.payments.localstripe_server CALL_LOG`, on 127.0.0.1 and a port the OS picks, printed as the
first line of stdout ("PORT n").

Three changes to it, made here without forking the package (localstripe 1.15.10 runs on Python 3.11
as it is):
- it lets a refund exceed what is left of the charge; Stripe refuses that with an
  invalid_request_error, "Refund amount (€x) is greater than charge amount (€y)". This server
  refuses it the same way, so the refusal path meets a real 400 from a real server;
- listing the refunds of a PaymentIntent that has no charge yet fails with a 500 (it reads the
  missing charge's id); Stripe answers an empty list, and so does this server;
- it keeps its state in /tmp/localstripe.pickle, shared by every instance on the machine; here it
  keeps nothing (a fresh store per process).
Every request is appended to CALL_LOG ("METHOD PATH"), so tests can count the provider calls.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError


def _refundable(charge: Any, payment_intent: Any) -> Any:
    """The charge a refund would draw on, or None (localstripe then answers as it does)."""
    try:
        if payment_intent is not None:
            return resources.PaymentIntent._api_retrieve(payment_intent).latest_charge
        if charge is not None:
            return resources.Charge._api_retrieve(charge)
    except Exception:
        return None
    return None


def refuse_refunds_over_the_charge() -> None:
    original = resources.Refund.__init__

    def __init__(
        self: Any, charge: Any = None, payment_intent: Any = None, amount: Any = None, **kwargs: Any
    ) -> None:
        target = _refundable(charge, payment_intent)
        if target is not None and amount is not None:
            try:
                asked = int(amount)
            except (TypeError, ValueError):
                asked = None
            if asked is not None and asked > target.amount - target.amount_refunded:
                paid = target.amount / 100
                raise UserError(
                    400,
                    f"Refund amount (€{asked / 100:.2f}) is greater than charge amount (€{paid:.2f})",
                    {"param": "amount", "code": "charge_exceeds_source_limit"},
                )
        original(self, charge=charge, payment_intent=payment_intent, amount=amount, **kwargs)

    resources.Refund.__init__ = __init__


def list_no_refunds_of_an_unpaid_payment() -> None:
    original = resources.Refund._api_list_all

    def list_all(cls: Any, /, url: str, payment_intent: Any = None, **kwargs: Any) -> Any:
        if payment_intent is not None:
            try:
                unpaid = resources.PaymentIntent._api_retrieve(payment_intent).latest_charge is None
            except Exception:
                unpaid = False  # localstripe answers (a 404) as it does
            if unpaid:
                empty = original(url, limit=kwargs.get("limit"), starting_after=kwargs.get("starting_after"))
                empty._list = []
                return empty
        return original(url, payment_intent=payment_intent, **kwargs)

    resources.Refund._api_list_all = classmethod(list_all)


def main() -> None:
    call_log = Path(sys.argv[1])
    refuse_refunds_over_the_charge()
    list_no_refunds_of_an_unpaid_payment()
    resources.store.dump_to_disk = lambda: None

    @web.middleware
    async def log_calls(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        with call_log.open("a") as log:
            log.write(f"{request.method} {request.path}\n")
        return await handler(request)

    server.app.middlewares.insert(0, log_calls)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    web.run_app(server.app, sock=sock, print=None)


if __name__ == "__main__":
    main()
