"""localstripe as a real server process (tests/payments/localstripe_server.py), one per test
process, and the Stripe calls a test makes as the shop's checkout would: a PaymentIntent created
and confirmed with a test card."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT

KEY = "sk_test_returns"


@dataclass(frozen=True)
class LocalStripe:
    base: str  # STRIPE_API_BASE
    call_log: Path  # one line per request: "METHOD PATH"

    def calls(self, what: str = "POST /v1/refunds") -> int:
        return self.call_log.read_text().splitlines().count(what) if self.call_log.exists() else 0

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, auth=(KEY, ""), timeout=30)

    def paid(self, cents: int) -> str:
        """A PaymentIntent of `cents`, created and confirmed with Stripe's test card: its id."""
        with self._http() as http:
            created = http.post(
                "/v1/payment_intents",
                data={"amount": cents, "currency": "eur", "payment_method": "pm_card_visa"},
            )
            created.raise_for_status()
            pi = str(created.json()["id"])
            confirmed = http.post(f"/v1/payment_intents/{pi}/confirm")
            confirmed.raise_for_status()
            assert confirmed.json()["status"] == "succeeded"
            return pi

    def unpaid(self, cents: int) -> str:
        """A PaymentIntent the customer has not paid yet (no payment method): Stripe refuses refunds."""
        with self._http() as http:
            created = http.post("/v1/payment_intents", data={"amount": cents, "currency": "eur"})
            created.raise_for_status()
            return str(created.json()["id"])

    def pay(self, payment_intent: str) -> None:
        """The customer pays it after all, with the test card."""
        with self._http() as http:
            method = http.post(
                f"/v1/payment_intents/{payment_intent}", data={"payment_method": "pm_card_visa"}
            )
            method.raise_for_status()
            confirmed = http.post(f"/v1/payment_intents/{payment_intent}/confirm")
            confirmed.raise_for_status()
            assert confirmed.json()["status"] == "succeeded"

    def refunds(self, payment_intent: str) -> list[dict[str, Any]]:
        with self._http() as http:
            answer = http.get("/v1/refunds", params={"payment_intent": payment_intent, "limit": 100})
            answer.raise_for_status()
            data: list[dict[str, Any]] = answer.json()["data"]
            return data


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    where = tmp_path_factory.mktemp("localstripe")
    log = (where / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.payments.localstripe_server", str(where / "calls.log")],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()  # "PORT n" once it listens; EOF if it died
        assert line.startswith("PORT "), f"localstripe did not start: {(where / 'server.log').read_text()}"
        server = LocalStripe(f"http://127.0.0.1:{int(line.split()[1])}", where / "calls.log")
        deadline = time.monotonic() + 30  # bound before it printed, listening a moment later
        with httpx.Client(timeout=30) as http:
            while True:
                try:
                    if http.get(f"{server.base}/v1/refunds", auth=(KEY, "")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "localstripe did not answer within 30 s"
                time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
