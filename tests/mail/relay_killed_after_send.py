"""`python -m mail relay`, as its own process, that SIGKILLs itself right after the SMTP server
accepted the first mail: before the relay can record it sent. Only the test harness wraps the
relay; the relay's code has no hook for it."""

from __future__ import annotations

import os
import signal
from email.message import EmailMessage

import mail.relay
from mail.__main__ import main
from mail.settings import MailSettings

_send = mail.relay.send


async def send_then_die(msg: EmailMessage, settings: MailSettings) -> None:
    await _send(msg, settings)
    os.kill(os.getpid(), signal.SIGKILL)


mail.relay.send = send_then_die

if __name__ == "__main__":
    raise SystemExit(main(["relay"]))
