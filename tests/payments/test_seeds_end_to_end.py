"""Issue 12, done: the seed stories' toner and laptop, driven through the HTTP API of README command 1
(worker.py: Temporal dev server, PostgreSQL, the SMTP sink, the worker and the API, as a user runs
it). Refunds go to localstripe, a real server process standing in for Stripe; the e-mails are read
from the sink's files under .data/mail, and through `starter.py mail` as ops would.

The seeds (examples/toner.json, examples/laptop.json) pay by iDEAL and credit card; a shop on
Stripe has a PaymentIntent for either, so both methods are routed to the Stripe adapter and each
order is paid at localstripe first."""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import api_cli
from tests.api.test_worker_serves_api import wait_for
from tests.conftest import ROOT
from tests.payments.conftest import KEY, LocalStripe

pytestmark = pytest.mark.slow  # the embedded stack as a user runs it, and localstripe


def seed(name: str, return_id: str, payment_intent: str) -> dict[str, Any]:
    request: dict[str, Any] = json.loads((ROOT / "examples" / name).read_text())
    request["return_id"] = return_id
    request["order"]["payment"]["reference"] = payment_intent
    return request


def mails(data_dir: Path, return_id: str) -> list[EmailMessage]:
    """What the sink kept for a case, oldest first."""
    found = []
    for path in sorted((data_dir / "mail").rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["X-Return-Id"] == return_id:
            found.append(message)
    return sorted(found, key=lambda m: email.utils.parsedate_to_datetime(str(m["Date"])))


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\xa0", " ")  # Babel keeps "€ 39,95" on one line


def attachments(message: EmailMessage) -> list[tuple[str, str, bytes]]:
    return [
        (str(a.get_filename()), a.get_content_type(), a.get_payload(decode=True))  # type: ignore[misc]
        for a in message.iter_attachments()
    ]


async def until(what: str, check: Any, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := await check()):
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.3)
    return found


async def test_the_seeds_toner_and_laptop_reach_the_customer_and_the_provider(
    tmp_path: Path, localstripe: LocalStripe
) -> None:
    data_dir = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("TEMPORAL_ADDRESS", "DATABASE_URL", "SMTP_URL")},
        "RETURNS_DATA_DIR": str(data_dir),
        "RETURNS_API_PORT": "0",
        "RETURNS_TEMPORAL_PORT": "0",  # beside other tests' servers: one the OS picks
        "RETURNS_PAYMENT_PROVIDERS": "ideal=stripe,creditcard=stripe",
        "STRIPE_API_KEY": KEY,
        "STRIPE_API_BASE": localstripe.base,
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        text = await wait_for(log, "Worker polling", proc, seconds=180)
        url = re.search(r"HTTP API: (http://127\.0\.0\.1:\d+)", text)
        assert url, text
        keys = {}
        for role in ("webshop", "warehouse"):
            made = await api_cli({"RETURNS_DATA_DIR": str(data_dir)}, "keys", "create", "--role", role)
            assert made.returncode == 0, made.stderr
            keys[role] = {"Authorization": f"Bearer {made.stdout.strip()}"}

        toner_pi, laptop_pi = localstripe.paid(3995), localstripe.paid(89900)
        toner = seed("toner.json", "R-SEED-TONER", toner_pi)
        laptop = seed("laptop.json", "R-SEED-LAPTOP", laptop_pi)
        # The laptop goes back within its 30 days: delivered three days ago.
        now = datetime.now(UTC)
        laptop["order"]["placed_at"] = (now - timedelta(days=4)).isoformat()
        laptop["order"]["delivered_at"] = (now - timedelta(days=3)).isoformat()

        async with httpx.AsyncClient(base_url=url.group(1), timeout=120) as http:
            opened = await http.post("/v1/returns", json=toner, headers=keys["webshop"])
            assert opened.status_code == 201, opened.text
            assert (opened.json()["kind"], opened.json()["status"]) == ("warranty", "awaiting_photos")
            opened = await http.post("/v1/returns", json=laptop, headers=keys["webshop"])
            assert opened.status_code == 201, opened.text
            assert (opened.json()["kind"], opened.json()["status"]) == ("return", "awaiting_parcel")
            quote = opened.json()["quote"]  # the free antivirus is not deducted (seed 000)
            assert (quote["gross"], quote["deductions"], quote["total"]) == ("899.00", [], "899.00")

            photos = {"line_id": "L1", "photos": ["printer-error.jpg"]}
            done = await http.post("/v1/returns/R-SEED-TONER/photos", json=photos, headers=keys["webshop"])
            assert done.status_code == 200, done.text
            assert (done.json()["status"], done.json()["refunded"]) == ("resolved", "39.95")
            done = await http.post("/v1/returns/R-SEED-LAPTOP/parcel", json={}, headers=keys["warehouse"])
            assert done.status_code == 200, done.text
            view = done.json()
            assert (view["status"], view["refunded"], view["revoked_gifts"]) == ("resolved", "899.00", ["L2"])

            # At the provider: one refund per payment, of exactly the quote, keyed by the effect.
            for pi, cents in ((toner_pi, 3995), (laptop_pi, 89900)):
                refunds = localstripe.refunds(pi)
                assert [r["amount"] for r in refunds] == [cents], refunds
            for return_id, pi in (("R-SEED-TONER", toner_pi), ("R-SEED-LAPTOP", laptop_pi)):
                listed = (await http.get(f"/v1/returns/{return_id}/refunds", headers=keys["webshop"])).json()
                (row,) = listed["refunds"]
                (at_stripe,) = localstripe.refunds(pi)
                assert (row["provider"], row["provider_refund_id"]) == ("stripe", at_stripe["id"])
                assert at_stripe["metadata"]["effect_key"] == row["key"]

        # The customers' mails, as the sink kept them: two each, readable, in Dutch.
        async def both_sent() -> bool:
            return all(len(mails(data_dir, r)) == 2 for r in ("R-SEED-TONER", "R-SEED-LAPTOP"))

        await until("two mails per case in .data/mail", both_sent)
        toner_opened, toner_resolved = mails(data_dir, "R-SEED-TONER")
        assert str(toner_opened["To"]) == "inkoop@example.nl"
        body = text_of(toner_opened)
        assert body.startswith("Beste Kantoor B.V.,")
        assert "een foto van de foutmelding of van het defect" in body
        assert re.search(r"uiterlijk \w+ \d{1,2} \w+ \d{4} om \d\d:\d\d", body), body  # by when
        assert attachments(toner_opened) == []  # returnless: no label, and no word of one
        assert "retourlabel" not in body.lower()
        assert "€ 39,95" in text_of(toner_resolved) and "iDEAL" in text_of(toner_resolved)

        laptop_opened, laptop_resolved = mails(data_dir, "R-SEED-LAPTOP")
        body = text_of(laptop_opened)
        assert body.startswith("Beste J. de Vries,") and "€ 899,00" in body
        assert "Inhouding" not in body  # the free antivirus is not deducted
        ((name, content_type, pdf),) = attachments(laptop_opened)
        assert content_type == "application/pdf" and pdf.startswith(b"%PDF") and name.endswith(".pdf")
        assert "retourlabel" in body.lower()
        assert "€ 899,00" in text_of(laptop_resolved)

        # starter.py mail shows ops the same, from the same data dir.
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "starter.py", "mail", "R-SEED-LAPTOP"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stderr
        assert "Beste J. de Vries," in shown.stdout and "application/pdf" in shown.stdout

        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 60) == 0
    finally:
        if proc.poll() is None:  # a failed assertion: stop it as Ctrl-C does, so that its dev
            proc.send_signal(signal.SIGINT)  # server and PostgreSQL stop with it
            try:
                await asyncio.to_thread(proc.wait, 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
