"""The embedded mail sink: an SMTP server (aiosmtpd) that keeps every mail it accepts as an .eml
file, so the embedded stack sends real mail and `starter.py mail RETURN_ID` can show what a
customer received. Mails of a case are under `<dir>/<return id>/` (by their X-Return-Id header;
others under `<dir>/_other/`), named by arrival time and Message-ID: a mail sent again after a
relay crash lands beside the first with the same Message-ID, as a real mailbox would see it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from ssl import SSLContext
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

MAIL_DIR = "mail"  # in the data dir
# aiosmtpd logs every command at INFO, addresses included: personal data stays out of the log.
logging.getLogger("mail.log").setLevel(logging.WARNING)
OTHER = "_other"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def case_dir(directory: Path, return_id: str) -> Path:
    """Where the sink keeps a case's mails: its return id, made safe as a file name."""
    name = _UNSAFE.sub("_", return_id).strip("._") or OTHER
    return directory / name


class MailDirHandler:
    """aiosmtpd handler: each accepted mail becomes `<case dir>/<ns time>-<message id hash>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        msg = message_from_bytes(raw, policy=default_policy)
        return_id = str(msg.get("X-Return-Id") or "")
        folder = case_dir(self.directory, return_id) if return_id else self.directory / OTHER
        folder.mkdir(parents=True, exist_ok=True)
        tag = hashlib.sha256(str(msg.get("Message-ID") or "").encode()).hexdigest()[:12]
        path = folder / f"{time.time_ns()}-{tag}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(raw)
        tmp.rename(path)  # a reader never sees half a mail
        return "250 Message accepted for delivery"


def read_mails(directory: Path, return_id: str) -> list[Message]:
    """The mails the sink kept for a case, oldest first."""
    folder = case_dir(directory, return_id)
    if not folder.is_dir():
        return []
    return [
        message_from_bytes(p.read_bytes(), policy=default_policy)
        for p in sorted(folder.glob("*.eml"), key=lambda p: int(p.name.split("-", 1)[0]))
    ]


@contextlib.asynccontextmanager
async def serving(
    handler: Any, host: str = "127.0.0.1", port: int = 0, *, ssl: SSLContext | None = None, **smtp: Any
) -> AsyncIterator[tuple[str, int]]:
    """An aiosmtpd server in this event loop until the block ends; yields its (host, port).
    `port` 0 picks a free one; `ssl`: TLS from the first byte (smtps). `smtp`: options of
    aiosmtpd.smtp.SMTP (tls_context, require_starttls, authenticator, auth_require_tls, ...)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname=host, **smtp), host, port, ssl=ssl)
    try:
        bound = server.sockets[0].getsockname()
        yield host, int(bound[1])
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), timeout=5)
