"""Where customer e-mail goes and how the relay paces itself (issue 12).

SMTP_URL names the mail server:

- ``smtp://host:port`` plain SMTP (port 25 by default); add ``?starttls=true`` to require
  STARTTLS (the usual submission port 587: ``smtp://host:587?starttls=true``);
- ``smtps://host:port`` TLS from the first byte (port 465 by default);
- ``user:password@`` before the host logs in (AUTH); percent-encode ``@ : /`` in them;
- ``?cafile=/path/ca.pem`` trusts that CA (a self-signed server) instead of the system's,
  ``?timeout=30`` seconds per attempt (default 30).

The password never appears in a log line, an error or the settings' repr (`SmtpUrl.redacted`).
Unset, the embedded stack's mail sink (mail/sink.py) receives everything.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from mail.shop import ShopSettings

SMTP_URL_ENV = "SMTP_URL"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SmtpUrlError(ValueError):
    """An SMTP_URL that cannot be used; the message names what is wrong, never the password."""


@dataclass(frozen=True)
class SmtpUrl:
    host: str
    port: int
    implicit_tls: bool = False  # smtps://
    starttls: bool = False  # smtp://...?starttls=true
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    timeout: float = 30.0

    @classmethod
    def parse(cls, url: str) -> SmtpUrl:
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as e:
            raise SmtpUrlError(f"{SMTP_URL_ENV}: not a URL ({e})") from None
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpUrlError(
                f"{SMTP_URL_ENV}: the scheme must be smtp:// or smtps://, not {parts.scheme!r}"
            )
        if not parts.hostname:
            raise SmtpUrlError(f"{SMTP_URL_ENV}: no host")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = set(query) - {"starttls", "cafile", "timeout"}
        if unknown:
            raise SmtpUrlError(f"{SMTP_URL_ENV}: unknown option(s) {', '.join(sorted(unknown))}")
        starttls = _flag(query.get("starttls", "false"), "starttls")
        implicit = parts.scheme == "smtps"
        if implicit and starttls:
            raise SmtpUrlError(f"{SMTP_URL_ENV}: smtps:// is TLS already; starttls is for smtp://")
        try:
            timeout = float(query.get("timeout", "30"))
        except ValueError:
            raise SmtpUrlError(f"{SMTP_URL_ENV}: timeout must be a number of seconds") from None
        if timeout <= 0:
            raise SmtpUrlError(f"{SMTP_URL_ENV}: timeout must be positive")
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 25),
            implicit_tls=implicit,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            cafile=query.get("cafile") or None,
            timeout=timeout,
        )

    @property
    def redacted(self) -> str:
        """The URL as logs and errors show it: the password as ***."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        auth = f"{self.username}:***@" if self.username else ""
        query = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{auth}{self.host}:{self.port}{query}"

    def tls_context(self) -> ssl.SSLContext | None:
        """The context for TLS or STARTTLS: the system's CAs, or only `cafile`'s."""
        if not (self.implicit_tls or self.starttls):
            return None
        return ssl.create_default_context(cafile=self.cafile)


def _flag(value: str, name: str) -> bool:
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise SmtpUrlError(f"{SMTP_URL_ENV}: {name} must be true or false")


# After the first attempt: 5 s, 30 s, 2 min, 5 min, 15 min, then every 30 min, forever (a 4xx
# or an unreachable server is temporary by SMTP; the case never waits for it).
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
)


@dataclass(frozen=True)
class MailSettings:
    smtp: SmtpUrl
    shop: ShopSettings = field(default_factory=ShopSettings)  # From, Reply-To, what messages say
    retry_delays: tuple[timedelta, ...] = RETRY_DELAYS
    # Longer than an attempt: a message whose relay died is sent again once its lease ends.
    lease: timedelta = timedelta(seconds=45)
    concurrency: int = 8  # messages in flight per process
    poll_interval: float = 1.0  # seconds; NOTIFY on commit wakes the relay sooner

    def delay_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1-based); the last delay repeats."""
        return self.retry_delays[min(max(attempts, 1), len(self.retry_delays)) - 1]

    @property
    def message_id_domain(self) -> str:
        return self.shop.email.rpartition("@")[2] or "returns.invalid"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, default_url: str | None = None) -> MailSettings:
        """SMTP_URL (else `default_url`: the embedded sink), and the shop (mail.shop.ShopSettings)."""
        url = env.get(SMTP_URL_ENV) or default_url
        if not url:
            raise SmtpUrlError(f"{SMTP_URL_ENV} is not set")
        smtp = SmtpUrl.parse(url)
        return cls(
            smtp=smtp,
            shop=ShopSettings.from_env(env),
            lease=timedelta(seconds=smtp.timeout + 15),
        )
