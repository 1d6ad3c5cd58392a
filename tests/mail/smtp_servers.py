"""Real SMTP servers for the mail tests (aiosmtpd on free ports): the embedded sink's handler,
handlers that answer 4xx or 5xx, and a self-signed certificate made here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mail.sink import MailDirHandler


def free_port() -> int:
    """A port nothing listens on (for a server that is down, or started later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Answering(MailDirHandler):
    """The sink, but the first `refusals` DATA commands are answered with `answer`."""

    def __init__(self, directory: Path, answer: str, refusals: int = 1) -> None:
        super().__init__(directory)
        self.answer = answer
        self.refusals = refusals
        self.refused = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refused < self.refusals:
            self.refused += 1
            return self.answer
        return await super().handle_DATA(server, session, envelope)


class RefusingRecipient(MailDirHandler):
    """Refuses every recipient with `answer` (a 5xx: the mailbox does not exist)."""

    def __init__(self, directory: Path, answer: str = "550 5.1.1 <klant@example.nl>: mailbox unavailable"):
        super().__init__(directory)
        self.answer = answer

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return self.answer


class Login:
    """aiosmtpd authenticator accepting one login."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()
        self.logins: list[str] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (self.user, self.password)
        if ok:
            self.logins.append(auth.login.decode())
        return AuthResult(success=ok, handled=False)


LOCALHOST = ipaddress.ip_address("127.0.0.1")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made now; the certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(LOCALHOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def mails_in(directory: Path) -> list[EmailMessage]:
    """Every mail the sink kept under `directory`, oldest first."""
    out: list[EmailMessage] = []
    for p in sorted(directory.rglob("*.eml"), key=lambda p: int(p.name.split("-", 1)[0])):
        mail = message_from_bytes(p.read_bytes(), policy=default)
        assert isinstance(mail, EmailMessage)
        out.append(mail)
    return out
