"""The seed's toner case (../shared/seeds/001: a house-brand toner that did not work, whose
customer got four confusing e-mails) as its customer now reads it: examples/toner.json driven
through the decider, a photo three hours later, refunded. The exact text of both messages, in
nl and en, is committed under tests/mail/golden/ and compared.

After a deliberate change of wording, regenerate and review the diff:

    RETURNS_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/mail/test_golden.py -n 0
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from domain.effects import CustomerMessage
from mail.render import render_message
from mail.shop import ShopSettings
from tests.domain.helpers import T0, Driver

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("RETURNS_REGENERATE_GOLDEN") == "1"


def toner_messages(locale: str) -> list[CustomerMessage]:
    request = json.loads((ROOT / "examples" / "toner.json").read_text())
    request["locale"] = locale
    d = Driver(request, at=T0)  # 2026-10-20 09:00 in Amsterdam
    d.advance(hours=3)
    d.photos("L1", "printer-error.jpg")
    assert d.messages == ["case_opened", "case_resolved"]
    return [e for e in d.effects if isinstance(e, CustomerMessage)]


def mailbox(locale: str) -> str:
    """What the customer received, as `starter.py mail` prints it: subject, attachments, text."""
    out = []
    for message in toner_messages(locale):
        m = render_message(message.template, message.data, ShopSettings())
        attachments = ", ".join(f"{a.filename} ({a.content_type})" for a in m.attachments) or "none"
        out.append(f"=== {message.template}\nSubject: {m.subject}\nAttachments: {attachments}\n\n{m.text}")
    return "\n".join(out)


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_the_toner_case_reads_exactly_as_committed(locale: str) -> None:
    path = GOLDEN / f"toner.{locale}.txt"
    got = mailbox(locale)
    if REGENERATE:
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path} missing: regenerate (see this module's docstring)"
    assert got == path.read_text(encoding="utf-8"), f"{path.name} differs: review, then regenerate"


def test_the_toner_case_answers_the_seeds_complaints() -> None:
    """What went wrong in the seed's four e-mails, each checked on the Dutch text."""
    text = mailbox("nl")
    assert "Beste Kantoor B.V.," in text  # a personal greeting, not "Beste klant"
    # The photo: asked in the first message, with how and by when (not in e-mail no. 1 after a form).
    assert "een foto van de foutmelding of van het defect" in text
    assert "met R-EXAMPLE-1 in het onderwerp" in text and "uiterlijk dinsdag 3 november 2026 om 08:00" in text
    # Warranty, said at once; the money back as asked, to iDEAL, not store credit.
    assert "garantieaanvraag" in text and "We hebben €\xa039,95 teruggestort via iDEAL." in text
    assert "tegoed" not in text.split("=== case_resolved")[1]
    # Nothing to send back, so no label and no sentence about one.
    assert "Attachments: none" in text and "retourlabel" not in text
