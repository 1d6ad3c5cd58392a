"""SMTP_URL and one SMTP attempt against real aiosmtpd servers: plain, STARTTLS with a login,
implicit TLS, 4xx (temporary) and 5xx (permanent) answers, and the Message-ID."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import aiosmtplib
import pytest

from mail.relay import Permanent, compose, message_id, send
from mail.settings import MailSettings, SmtpUrl, SmtpUrlError
from mail.sink import MailDirHandler, serving
from store.outbox import Leased
from tests.mail.scenarios import laptop_refund
from tests.mail.smtp_servers import (
    Answering,
    Login,
    RefusingRecipient,
    free_port,
    mails_in,
    self_signed,
    server_context,
)


def leased(key: str = "return-R-1:1:message:case_opened") -> Leased:
    """The laptop's case_opened (photos and a parcel needed: a label attached) as leased."""
    opened = laptop_refund("nl")[0]
    assert opened.template == "case_opened"
    message = opened.model_copy(update={"key": key, "return_id": "R-1", "email": "klant@example.nl"})
    return Leased(message=message, attempt=1, lease_id=uuid.uuid4())


def settings(url: str) -> MailSettings:
    return MailSettings(smtp=SmtpUrl.parse(url), retry_delays=(timedelta(seconds=0.1),))


# --- SMTP_URL ---
def test_smtp_url_plain_starttls_tls_and_login() -> None:
    plain = SmtpUrl.parse("smtp://mail.example")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls, plain.username) == (
        "mail.example",
        25,
        False,
        False,
        None,
    )
    assert plain.tls_context() is None
    sub = SmtpUrl.parse("smtp://shop%40example.nl:p%40ss%3Aw0rd@mail.example:587?starttls=true&timeout=5")
    assert (sub.port, sub.starttls, sub.username, sub.password, sub.timeout) == (
        587,
        True,
        "shop@example.nl",
        "p@ss:w0rd",
        5.0,
    )
    assert sub.tls_context() is not None
    tls = SmtpUrl.parse("smtps://u:secret@mail.example")
    assert (tls.port, tls.implicit_tls, tls.starttls) == (465, True, False)


def test_the_password_is_never_shown() -> None:
    url = SmtpUrl.parse("smtps://user:hunter2-secret@mail.example:2465")
    assert "hunter2" not in repr(url) and "hunter2" not in url.redacted
    assert url.redacted == "smtps://user:***@mail.example:2465"
    assert "hunter2" not in repr(MailSettings(smtp=url))


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://mail.example", "scheme"),
        ("smtp://", "no host"),
        ("smtps://mail.example?starttls=true", "starttls"),
        ("smtp://mail.example?starttls=maybe", "starttls"),
        ("smtp://mail.example?tls=1", "unknown option"),
        ("smtp://mail.example?timeout=soon", "timeout"),
        ("smtp://mail.example:99999", "not a URL"),
    ],
)
def test_a_bad_smtp_url_is_refused_by_name(url: str, named: str) -> None:
    with pytest.raises(SmtpUrlError, match=named) as e:
        SmtpUrl.parse(f"{url}".replace("mail.example", "user:topsecret@mail.example", 1))
    assert "topsecret" not in str(e.value)


def test_message_id_is_stable_and_a_valid_msg_id() -> None:
    key = "return-R 1/ä:3:message:case_opened"
    assert message_id(key, "shop.example") == message_id(key, "shop.example")
    assert message_id(key, "shop.example") == "<return-R.1/.3.message.case_opened@shop.example>"
    mail = compose(leased(), settings("smtp://127.0.0.1"))
    assert mail["Message-ID"] == "<return-R-1.1.message.case_opened@shop.example>"
    assert (mail["X-Return-Id"], mail["X-Returns-Template"], mail["To"]) == (
        "R-1",
        "case_opened",
        "klant@example.nl",
    )
    # Rendered from its data: text and HTML alternatives, and the label the text speaks of.
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None
    assert "retourlabel" in str(text.get_content()).lower()
    (label,) = list(mail.iter_attachments())
    assert label.get_content_type() == "application/pdf"
    assert (mail["From"], mail["Reply-To"]) == ("Demo Shop <returns@shop.example>", "returns@shop.example")


# --- one attempt against a real server ---
async def test_plain_smtp_delivers(tmp_path: Path) -> None:
    async with serving(MailDirHandler(tmp_path)) as (host, port):
        await send(compose(leased(), settings(f"smtp://{host}:{port}")), settings(f"smtp://{host}:{port}"))
    [mail] = mails_in(tmp_path)
    assert mail["Message-ID"] == "<return-R-1.1.message.case_opened@shop.example>"
    body = mail.get_body(("plain",))
    assert body is not None and "Beste J. de Vries," in str(body.get_content())


async def test_starttls_with_login(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    login = Login("shop@example.nl", "p@ss:w0rd")
    async with serving(
        MailDirHandler(tmp_path / "mail"),
        tls_context=server_context(cert, key),
        require_starttls=True,
        authenticator=login,
        auth_required=True,
        auth_require_tls=True,
    ) as (host, port):
        url = f"smtp://shop%40example.nl:p%40ss%3Aw0rd@{host}:{port}?starttls=true&cafile={cert}"
        await send(compose(leased(), settings(url)), settings(url))
        # Without STARTTLS the server refuses to go on; a wrong password is refused too.
        with pytest.raises(aiosmtplib.SMTPException):
            plain = f"smtp://shop%40example.nl:p%40ss%3Aw0rd@{host}:{port}"
            await send(compose(leased(), settings(plain)), settings(plain))
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            wrong = f"smtp://shop%40example.nl:nope@{host}:{port}?starttls=true&cafile={cert}"
            await send(compose(leased(), settings(wrong)), settings(wrong))
    assert login.logins == ["shop@example.nl"]
    assert len(mails_in(tmp_path / "mail")) == 1


async def test_implicit_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with serving(MailDirHandler(tmp_path / "mail"), ssl=server_context(cert, key)) as (host, port):
        url = f"smtps://{host}:{port}?cafile={cert}"
        await send(compose(leased(), settings(url)), settings(url))
        # A client that does not trust the certificate does not send.
        with pytest.raises((aiosmtplib.SMTPException, OSError)):
            await send(
                compose(leased(), settings(f"smtps://{host}:{port}")), settings(f"smtps://{host}:{port}")
            )
    assert len(mails_in(tmp_path / "mail")) == 1


async def test_4xx_is_temporary_and_5xx_permanent(tmp_path: Path) -> None:
    async with serving(Answering(tmp_path, "451 4.3.0 try again later")) as (host, port):
        with pytest.raises(aiosmtplib.SMTPResponseException) as temporary:
            await send(
                compose(leased(), settings(f"smtp://{host}:{port}")), settings(f"smtp://{host}:{port}")
            )
        assert temporary.value.code == 451
    async with serving(RefusingRecipient(tmp_path)) as (host, port):
        with pytest.raises(Permanent, match=r"550 5\.1\.1"):
            await send(
                compose(leased(), settings(f"smtp://{host}:{port}")), settings(f"smtp://{host}:{port}")
            )
    with pytest.raises(OSError):  # nobody listening: temporary (the relay retries)
        url = f"smtp://127.0.0.1:{free_port()}?timeout=5"
        await send(compose(leased(), settings(url)), settings(url))
