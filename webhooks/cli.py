"""`python -m api webhooks ...`: endpoints and deliveries from the command line, and the relay and
sender as a process of their own.

    python -m api webhooks add URL [--event TYPE ...] [--description TEXT]   # prints the secret once
    python -m api webhooks list
    python -m api webhooks rotate ENDPOINT_ID [--grace-hours 24]               # prints the new secret once
    python -m api webhooks disable ENDPOINT_ID [--reason TEXT]
    python -m api webhooks enable ENDPOINT_ID
    python -m api webhooks delete ENDPOINT_ID
    python -m api webhooks redeliver ENDPOINT_ID --from POSITION
    python -m api webhooks deliveries [--endpoint ID] [--return-id R] [--limit N]
    python -m api webhooks run                                                 # relay + sender

The database and payload keys are the service's: DATABASE_URL (else the embedded PostgreSQL
under RETURNS_DATA_DIR/pg), RETURNS_CODEC_KEYS (else RETURNS_DATA_DIR/codec-keys).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import timedelta
from typing import Any

from webhooks.events import EVENT_TYPES


def add_parser(sub: Any) -> None:
    """The `webhooks` command under an argparse subparsers object."""
    p = sub.add_parser("webhooks", help="webhook endpoints, the delivery log, the relay and sender")
    w = p.add_subparsers(dest="webhooks_command", required=True)
    add = w.add_parser("add", help="register an endpoint; prints its signing secret once")
    add.add_argument("url")
    add.add_argument(
        "--event", action="append", default=[], choices=EVENT_TYPES, help="only this type (repeat)"
    )
    add.add_argument("--description", default="")
    w.add_parser("list", help="every endpoint, enabled or why not")
    rotate = w.add_parser("rotate", help="a new signing secret; the current ones sign for a grace period")
    rotate.add_argument("endpoint_id")
    rotate.add_argument("--grace-hours", type=float, default=24.0)
    disable = w.add_parser("disable", help="stop sending (messages are kept, sent when enabled)")
    disable.add_argument("endpoint_id")
    disable.add_argument("--reason", default="disabled by hand (CLI)")
    for name, text in (("enable", "send again, failed messages included"), ("delete", "remove with its log")):
        w.add_parser(name, help=text).add_argument("endpoint_id")
    redeliver = w.add_parser("redeliver", help="send again from a position of the delivery log on")
    redeliver.add_argument("endpoint_id")
    redeliver.add_argument("--from", dest="start", required=True, help='"<transaction>:<position>"')
    log = w.add_parser("deliveries", help="the delivery log, newest first")
    log.add_argument("--endpoint")
    log.add_argument("--return-id")
    log.add_argument("--limit", type=int, default=50)
    w.add_parser(
        "run", help="the relay and sender until Ctrl-C / SIGTERM (with RETURNS_WEBHOOKS=0 on the API)"
    )


def _fail(text: str) -> int:
    print(f"webhooks: {text}", file=sys.stderr)
    return 2


async def main(args: argparse.Namespace) -> int:
    from api.service import database_dsns
    from payload.codec import CodecError
    from store.db import create_pool
    from worker import ConfigError, Settings, keyring_for

    settings = Settings.from_env()
    try:
        keyring = keyring_for(settings)
    except (ConfigError, CodecError) as e:
        return _fail(str(e))
    with database_dsns(settings) as (service_dsn, admin_dsn):
        # Endpoints are managed as the owner (like API keys); the relay runs as the service.
        pool = await create_pool(service_dsn if args.webhooks_command == "run" else admin_dsn, max_size=10)
        try:
            return await _command(args, pool, keyring, admin_dsn)
        finally:
            await pool.close()


async def _command(args: argparse.Namespace, pool: Any, keyring: Any, admin_dsn: str) -> int:
    import asyncpg

    from store.migrate import migrate
    from webhooks import endpoints as ep
    from webhooks.deliveries import list_deliveries
    from webhooks.service import run
    from webhooks.settings import WebhookSettings
    from webhooks.signing import NoSealingKey

    command = args.webhooks_command
    admin = await asyncpg.connect(admin_dsn)
    try:
        await migrate(admin)
    finally:
        await admin.close()
    async with pool.acquire() as conn:
        if command == "add":
            try:
                endpoint, secret = await ep.create_endpoint(
                    conn, keyring, args.url, args.event, args.description
                )
            except NoSealingKey as e:
                return _fail(str(e))
            print(secret)
            print(
                f"{endpoint.endpoint_id} -> {endpoint.url}: secret shown once, store it now", file=sys.stderr
            )
            return 0
        if command == "list":
            for x in await ep.list_endpoints(conn):
                state = (
                    "enabled"
                    if x.enabled
                    else f"DISABLED {x.disabled_at:%Y-%m-%d %H:%M}: {x.disabled_reason}"
                )
                types = ",".join(x.event_types) or "all types"
                print(f"{x.endpoint_id}  {x.url}  {types}  pending {x.pending_messages}  {state}")
            return 0
        if command == "rotate":
            rotated = await ep.rotate_secret(
                conn, keyring, args.endpoint_id, timedelta(hours=args.grace_hours)
            )
            if rotated is None:
                return _fail(f"no endpoint {args.endpoint_id}")
            print(rotated[0])
            print(f"the previous secret signs until {rotated[1]:%Y-%m-%d %H:%M %Z}", file=sys.stderr)
            return 0
        if command in ("disable", "enable"):
            enabled = command == "enable"
            reason = getattr(args, "reason", "")
            changed = await ep.update_endpoint(conn, args.endpoint_id, enabled=enabled, reason=reason)
            if changed is None:
                return _fail(f"no endpoint {args.endpoint_id}")
            print(f"{args.endpoint_id} {command}d")
            return 0
        if command == "delete":
            if not await ep.delete_endpoint(conn, args.endpoint_id):
                return _fail(f"no endpoint {args.endpoint_id}")
            print(f"{args.endpoint_id} deleted")
            return 0
        if command == "redeliver":
            try:
                start = ep.parse_position(args.start)
            except ValueError as e:
                return _fail(f"--from: {e}")
            n = await ep.redeliver(conn, args.endpoint_id, start)
            if n is None:
                return _fail(f"no endpoint {args.endpoint_id}")
            print(f"{n} messages of {args.endpoint_id} queued again")
            return 0
        if command == "deliveries":
            page = await list_deliveries(
                conn, endpoint_id=args.endpoint, return_id=args.return_id, limit=max(1, min(args.limit, 200))
            )
            for d in page.items:
                outcome = f"HTTP {d.http_status}" if d.error is None else d.error
                print(
                    f"{d.attempted_at:%Y-%m-%d %H:%M:%S}  {d.endpoint_id}  {d.msg_id}  {d.event_type:<22}  "
                    f"{d.return_id}  pos {d.position}  attempt {d.attempt}  {outcome}  {d.duration_ms} ms"
                )
            return 0
    assert command == "run"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("Webhook relay and sender running. Ctrl-C stops.", flush=True)
    await run(pool, keyring, WebhookSettings.from_env(), stop)
    return 0
