"""`python -m mail relay`: the mail relay on its own (with RETURNS_MAIL=0 on the workers), until
Ctrl-C / SIGTERM. It needs SMTP_URL, the service's database (DATABASE_URL, else the embedded
PostgreSQL under RETURNS_DATA_DIR) and Temporal (TEMPORAL_ADDRESS) to flag a case whose message
failed for good."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from mail.settings import MailSettings, SmtpUrlError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mail", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("relay", help="deliver the outbox over SMTP until stopped")
    return p


async def relay() -> int:
    from temporalio.client import Client

    from api.service import database_dsns
    from mail.relay import case_flagger, run_relay
    from payload.converter import data_converter
    from store.db import create_pool
    from worker import Settings, keyring_for

    try:
        mail = MailSettings.from_env()
    except SmtpUrlError as e:
        print(f"mail: {e}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    keyring = keyring_for(settings)
    client = await Client.connect(
        settings.temporal_address or "localhost:7233",
        namespace=settings.namespace,
        data_converter=data_converter(keyring),
    )
    with database_dsns(settings) as (service_dsn, _):
        pool = await create_pool(service_dsn, max_size=mail.concurrency + 2)
        try:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            print(f"Mail relay: the outbox goes to {mail.smtp.redacted}. Ctrl-C stops.", flush=True)
            await run_relay(pool, mail, stop, case_flagger(client, pool))
        finally:
            await pool.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(relay())


if __name__ == "__main__":
    from stack.runtime import run_cli

    run_cli(main)  # the exit code is main's, whatever the Temporal runtime's threads do at exit
