"""RETURNS_PAYMENT_PROVIDERS and the providers' keys: each payment method gets its adapter, and a
config the worker cannot use is one clear line that never shows a key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from payments.ledger import LedgerProvider
from payments.mollie import MollieProvider
from payments.settings import PaymentConfigError, PaymentProviders
from payments.stripe_adapter import StripeProvider
from tests.conftest import ROOT


def test_default_is_the_ledger_for_every_method() -> None:
    providers = PaymentProviders.from_env({})
    assert isinstance(providers.for_method("ideal"), LedgerProvider)
    assert isinstance(providers.for_method("card"), LedgerProvider)


def test_each_method_gets_its_adapter_and_star_the_rest() -> None:
    providers = PaymentProviders.from_env(
        {
            "RETURNS_PAYMENT_PROVIDERS": " iDEAL=mollie , card=stripe,*=ledger",
            "STRIPE_API_KEY": "sk_test_1",
            "MOLLIE_API_KEY": "test_abcdefghijklmnopqrstuvwxyz1234",
        }
    )
    assert isinstance(providers.for_method("ideal"), MollieProvider)
    assert isinstance(providers.for_method("card"), StripeProvider)
    assert isinstance(providers.for_method("paypal"), LedgerProvider)


def test_a_method_without_an_adapter_and_no_star_is_refused_by_name() -> None:
    providers = PaymentProviders.from_env({"RETURNS_PAYMENT_PROVIDERS": "card=ledger"})
    with pytest.raises(PaymentConfigError, match="'ideal'"):
        providers.for_method("ideal")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"RETURNS_PAYMENT_PROVIDERS": "card=paypal"}, "unknown adapter 'paypal'"),
        ({"RETURNS_PAYMENT_PROVIDERS": "card"}, "is not method=adapter"),
        ({"RETURNS_PAYMENT_PROVIDERS": "card=stripe,card=ledger", "STRIPE_API_KEY": "sk_x"}, "named twice"),
        ({"RETURNS_PAYMENT_PROVIDERS": "card=stripe"}, "STRIPE_API_KEY is not set"),
        ({"RETURNS_PAYMENT_PROVIDERS": "*=mollie", "MOLLIE_API_KEY": " "}, "MOLLIE_API_KEY is not set"),
        ({"RETURNS_PAYMENT_PROVIDERS": "*=mollie", "MOLLIE_API_KEY": "wrong-secret-42"}, "MOLLIE_API_KEY"),
    ],
)
def test_unusable_config_is_one_clear_line(env: dict[str, str], says: str) -> None:
    with pytest.raises(PaymentConfigError) as refused:
        PaymentProviders.from_env(env)
    assert says in str(refused.value)
    assert "wrong-secret-42" not in str(refused.value)


@pytest.mark.slow  # starts the worker's process
def test_the_worker_stops_at_start_on_a_missing_key_without_showing_any() -> None:
    done = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env={
            **os.environ,
            "RETURNS_PAYMENT_PROVIDERS": "ideal=mollie,card=stripe",
            "MOLLIE_API_KEY": "not-a-mollie-key-s3cret",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("worker: ")
    assert "s3cret" not in done.stdout + done.stderr
