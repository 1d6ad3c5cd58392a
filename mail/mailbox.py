"""What a customer received, as `starter.py mail RETURN_ID` prints it: the embedded sink's mails
of a case (mail/sink.py), each with its date, addressee, subject, text and attachments."""

from __future__ import annotations

import os
from email.message import EmailMessage, Message
from pathlib import Path

from mail.sink import MAIL_DIR, read_mails
from payload.codec import data_dir

MAIL_DIR_ENV = "RETURNS_MAIL_DIR"


def mail_dir() -> Path:
    """RETURNS_MAIL_DIR, else the data dir's mail/ (where command 1's sink writes)."""
    configured = os.environ.get(MAIL_DIR_ENV)
    return Path(configured) if configured else data_dir() / MAIL_DIR


def _text(msg: Message) -> str:
    if isinstance(msg, EmailMessage):
        body = msg.get_body(preferencelist=("plain",))
        if body is not None and isinstance(body, EmailMessage):
            return str(body.get_content())
    payload = msg.get_payload(decode=True)
    return payload.decode(errors="replace") if isinstance(payload, bytes) else ""


def describe(msg: Message) -> str:
    """One mail as text: headers that matter, the text part, then each attachment."""
    lines = [
        f"Date:       {msg.get('Date', '')}",
        f"To:         {msg.get('To', '')}",
        f"Subject:    {msg.get('Subject', '')}",
        f"Message-ID: {msg.get('Message-ID', '')}",
        "",
        _text(msg).replace("\r\n", "\n").rstrip(),
    ]
    attachments = list(msg.iter_attachments()) if isinstance(msg, EmailMessage) else []
    if attachments:
        lines.append("")
        lines.append("Attachments:")
        for part in attachments:
            content = part.get_payload(decode=True)
            size = len(content) if isinstance(content, bytes) else 0
            lines.append(f"  {part.get_filename() or '(unnamed)'} ({part.get_content_type()}, {size} bytes)")
    return "\n".join(lines)


class NoMail(Exception):
    """No mail kept for that return id."""


def received(return_id: str, directory: Path | None = None) -> str:
    """Every mail of a case, oldest first, separated by a rule; NoMail when there is none."""
    folder = directory or mail_dir()
    mails = read_mails(folder, return_id)
    if not mails:
        raise NoMail(
            f"no mail for return {return_id!r} in {folder} (an unknown return id, or its mails "
            "are not out yet; the sink keeps only what the embedded stack sent)"
        )
    rule = "\n" + "-" * 72 + "\n"
    return rule.join(describe(m) for m in mails)
