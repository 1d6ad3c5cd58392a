"""`python -m api customers ...`: erase and export a customer from the command line.

    python -m api customers erase C-42 --actor ops:anna --reason "request of 2026-11-30"
    python -m api customers export C-42 > C-42.json

erase starts (or joins) the EraseCustomer workflow on TEMPORAL_ADDRESS and waits for it; it
prints the summary as JSON, or one line on stderr and exit 2 while a case is open (nothing
changed). export prints the customer's data as JSON. The database and keys are the service's
(DATABASE_URL, else the embedded PostgreSQL under RETURNS_DATA_DIR/pg).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    """The `customers` command under an argparse subparsers object."""
    p = sub.add_parser("customers", help="erase (GDPR Art. 17) or export (Art. 15, 20) a customer")
    c = p.add_subparsers(dest="customers_command", required=True)
    erase = c.add_parser("erase", help="erase a customer whose cases are all closed")
    erase.add_argument("customer_id")
    erase.add_argument("--actor", required=True, help="who erases, e.g. ops:anna (kept in the audit record)")
    erase.add_argument("--reason", required=True, help="why (kept in the audit record)")
    export = c.add_parser("export", help="print a customer's cases, views, events, mails and ledgers")
    export.add_argument("customer_id")


def _fail(text: str) -> int:
    print(f"customers: {text}", file=sys.stderr)
    return 2


async def main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from temporalio.client import Client
    from temporalio.service import RPCError

    from api.service import database_dsns
    from customers.erase import ErasureRefused, erase_customer
    from customers.export import export_customer
    from domain.request import describe
    from payload.codec import CodecError
    from payload.converter import data_converter
    from returns_client.client import DEFAULT_ADDRESS
    from store.db import create_pool
    from store.event_store import EventStore
    from worker import ConfigError, Settings, keyring_for

    settings = Settings.from_env()
    customer_id: str = args.customer_id
    if not customer_id.strip() or "\x00" in customer_id:
        return _fail("customer_id: must be a customer's id")
    if args.customers_command == "erase":
        actor, reason = args.actor.strip(), args.reason.strip()
        if not actor or not reason:
            return _fail("--actor and --reason must not be blank")
        try:
            keyring = keyring_for(settings)
        except (ConfigError, CodecError) as e:
            return _fail(str(e))
        client = await Client.connect(
            settings.temporal_address or os.environ.get("TEMPORAL_ADDRESS", DEFAULT_ADDRESS),
            namespace=settings.namespace,
            data_converter=data_converter(keyring),
        )
        try:
            summary = await erase_customer(
                client, customer_id, actor=actor, reason=reason, task_queue=settings.task_queue
            )
        except ValidationError as e:
            return _fail(describe(e).replace("invalid request", "invalid EraseCustomer"))
        except ErasureRefused as e:
            return _fail(str(e))
        except RPCError as e:
            print(f"customers: Temporal refused the call: {e.message}", file=sys.stderr)
            return 1
        print(json.dumps(summary.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return 0
    with database_dsns(settings) as (service_dsn, _):
        pool = await create_pool(service_dsn, min_size=1, max_size=4)
        try:
            data = await export_customer(pool, EventStore(pool), customer_id)
        finally:
            await pool.close()
    print(json.dumps(data.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0
