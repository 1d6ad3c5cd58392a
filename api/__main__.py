"""`python -m api` (also `returns-api`): serve the HTTP API, manage its keys, print its OpenAPI.

    python -m api serve [--host 0.0.0.0] [--port 8000]
    python -m api keys create --role ops --actor ops:anna [--label L]   # prints the key once
    python -m api keys revoke KEY_ID
    python -m api keys list
    python -m api openapi > openapi.json
    python -m api webhooks add URL [--event TYPE ...]    # and list, rotate, disable, enable,
                                                         # delete, redeliver, deliveries, run
    python -m api customers erase C-42 --actor ops:anna --reason "..."   # GDPR Art. 17
    python -m api customers export C-42                                  # GDPR Art. 15, 20
    python -m api personal-data rewrap                   # (and status) master key rotation

Keys are written as the database owner: DATABASE_ADMIN_URL, else DATABASE_URL, else the
embedded PostgreSQL under RETURNS_DATA_DIR/pg (the one `python worker.py` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from api import personal_data_cli
from api.keys import ROLES, KeyError_, create_key, list_keys, revoke_key
from customers import cli as customers_cli
from webhooks import cli as webhooks_cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m api", description="The returns service's HTTP API.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (Temporal and PostgreSQL from the environment)")
    serve.add_argument("--host", default=os.environ.get("RETURNS_API_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("RETURNS_API_PORT") or 8000))
    keys = sub.add_parser("keys", help="create, revoke and list API keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="make a key; prints it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--actor", help="for ops keys: the name overrides record, e.g. ops:anna")
    create.add_argument("--label", default="", help="what the key is for")
    revoke = ksub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    ksub.add_parser("list", help="the keys (never their secrets)")
    sub.add_parser("openapi", help="print the OpenAPI document (the committed openapi.json)")
    webhooks_cli.add_parser(sub)
    customers_cli.add_parser(sub)
    personal_data_cli.add_parser(sub)
    return p


def openapi_document() -> dict[str, Any]:
    from api.app import create_app

    return create_app().openapi()


def openapi_text() -> str:
    """The committed openapi.json, byte for byte."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


async def _keys(args: argparse.Namespace) -> int:
    import asyncpg

    from api.service import database_dsns
    from store.migrate import migrate
    from worker import Settings

    with database_dsns(Settings.from_env()) as (_, admin_dsn):
        conn = await asyncpg.connect(admin_dsn)
        try:
            await migrate(conn)
            if args.keys_command == "create":
                try:
                    key_id, key = await create_key(conn, args.role, args.actor, args.label)
                except KeyError_ as e:
                    print(f"api keys: {e}", file=sys.stderr)
                    return 2
                print(key)
                actor = f", actor {args.actor}" if args.actor else ""
                print(f"key_id {key_id} ({args.role}{actor}): shown once, store it now", file=sys.stderr)
            elif args.keys_command == "revoke":
                if not await revoke_key(conn, args.key_id):
                    print(f"api keys: no active key {args.key_id}", file=sys.stderr)
                    return 2
                print(f"revoked {args.key_id}")
            else:
                for k in await list_keys(conn):
                    state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
                    print(
                        f"{k.key_id}  {k.role:<9}  {k.actor or '-':<16}  {state:<22}  "
                        f"created {k.created_at:%Y-%m-%d %H:%M}  {k.label}"
                    )
        finally:
            await conn.close()
    return 0


def serve(host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app, served_background
    from api.service import deps_from_settings
    from worker import Settings

    settings = Settings.from_env()
    app = create_app(lambda: deps_from_settings(settings), background=served_background())
    print(f"HTTP API: http://{host}:{port} (docs at /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, server_header=False)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "openapi":
        sys.stdout.write(openapi_text())
        return 0
    if args.command == "serve":
        serve(args.host, args.port)
        return 0
    if args.command == "webhooks":
        return asyncio.run(webhooks_cli.main(args))
    if args.command == "customers":
        return asyncio.run(customers_cli.main(args))
    if args.command == "personal-data":
        return asyncio.run(personal_data_cli.main(args))
    return asyncio.run(_keys(args))


def cli() -> None:
    # run_cli: the Temporal client's runtime threads can abort the interpreter at exit (seen as
    # SIGABRT after `customers erase` had printed its answer); the exit code must be main's.
    from stack.runtime import run_cli

    run_cli(main)


if __name__ == "__main__":
    cli()
