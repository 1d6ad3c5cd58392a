"""`starter.py mail RETURN_ID`: what the customer received, from the mails the embedded sink kept."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

import starter
from mail.sink import MailDirHandler, serving


def mail(return_id: str, subject: str, text: str, pdf: bytes | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Demo Shop <returns@shop.example>"
    msg["To"] = "klant@example.nl"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 20 Oct 2026 09:00:00 +0200"
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@shop.example>"
    msg["X-Return-Id"] = return_id
    msg.set_content(text)
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="retourlabel.pdf")
    return msg


async def test_mail_prints_each_mail_of_the_case_with_its_attachments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serving(MailDirHandler(tmp_path)) as (host, port):
        for m in (
            mail("R-1001", "Retour ontvangen", "Beste J. de Vries,\nStuur het pakket op.", b"%PDF-1.4 label"),
            mail("R-1001", "Retour afgehandeld", "We hebben € 39,95 terugbetaald."),
            mail("R-2002", "Ander geval", "niet van R-1001"),
        ):
            await aiosmtplib.send(m, hostname=host, port=port)
    monkeypatch.setenv("RETURNS_MAIL_DIR", str(tmp_path))
    assert starter.main(["mail", "R-1001"]) == 0
    out = capsys.readouterr().out
    assert out.index("Subject:    Retour ontvangen") < out.index("Subject:    Retour afgehandeld")
    assert "To:         klant@example.nl" in out and "Date:       Tue, 20 Oct 2026 09:00:00 +0200" in out
    assert "Beste J. de Vries,\nStuur het pakket op." in out
    assert "We hebben € 39,95 terugbetaald." in out
    assert "retourlabel.pdf (application/pdf, 14 bytes)" in out
    assert "Ander geval" not in out


def test_an_unknown_return_id_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RETURNS_MAIL_DIR", str(tmp_path))
    assert starter.main(["mail", "R-NOPE"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("no mail for return 'R-NOPE'") and err.count("\n") == 1
