"""`python -m api personal-data ...`: the master keys of the personal data in PostgreSQL.

    python -m api personal-data status    # the customers' data keys per master key
    python -m api personal-data rewrap    # rewrap every data key under the first master key

Rotation (docs/customer-data.md): put a new master key first in RETURNS_MASTER_KEYS (keep the
old one after it) on every worker and API process, run `rewrap`, check `status` shows only the
new key, then drop the old one from RETURNS_MASTER_KEYS and destroy it: only then are the data
keys deleted by erasures (still in old WAL and backups, wrapped) out of anyone's reach.

Runs as the database owner, like `python -m api keys`: DATABASE_ADMIN_URL, else DATABASE_URL,
else the embedded PostgreSQL under RETURNS_DATA_DIR/pg; master keys from RETURNS_MASTER_KEYS,
else RETURNS_DATA_DIR/master-keys.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    """The `personal-data` command under an argparse subparsers object."""
    p = sub.add_parser("personal-data", help="master keys of the personal data: status, rewrap")
    s = p.add_subparsers(dest="personal_data_command", required=True)
    s.add_parser("status", help="how many data keys each master key wraps")
    s.add_parser("rewrap", help="rewrap every data key under the first master key")


async def main(args: argparse.Namespace) -> int:
    import asyncpg

    from api.service import database_dsns
    from store.migrate import migrate
    from store.personal_data import PersonalData, PersonalDataError, master_keyring
    from worker import Settings

    settings = Settings.from_env()
    try:
        keyring = master_keyring(settings.data_dir)
    except PersonalDataError as e:
        print(f"personal-data: {e}", file=sys.stderr)
        return 2
    if not keyring:
        print("personal-data: no master keys: set RETURNS_MASTER_KEYS (kekid:base64key,...)", file=sys.stderr)
        return 2
    with database_dsns(settings) as (_, admin_dsn):
        conn = await asyncpg.connect(admin_dsn)
        try:
            await migrate(conn)
            if args.personal_data_command == "rewrap":
                try:
                    async with conn.transaction():
                        n = await PersonalData(keyring, conn).rewrap(conn)
                except PersonalDataError as e:
                    print(f"personal-data: {e}; nothing rewrapped", file=sys.stderr)
                    return 2
                print(f"rewrapped {n} data keys under {keyring.key_ids[0]}")
            rows = await conn.fetch(
                "select kek_id, count(*) as n from data_keys group by kek_id order by kek_id"
            )
            for r in rows:
                held = "" if r["kek_id"] in keyring.key_ids else "  (not in RETURNS_MASTER_KEYS)"
                print(f"{r['kek_id']}: {r['n']} data keys{held}")
            if not rows:
                print("no data keys")
        finally:
            await conn.close()
    return 0
