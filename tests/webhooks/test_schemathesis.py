"""schemathesis against the live /v1/webhooks operations (the OpenAPI document the API serves):
no 5xx, and every answer conforms to the document. Endpoints it registers are removed after."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.webhooks.test_api import http, wh_api, wh_keys  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


async def test_every_webhook_operation_against_its_schema(
    wh_api: str,  # noqa: F811
    wh_keys: dict[str, str],  # noqa: F811
    session_pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    before = {r["endpoint_id"] for r in await session_pool.fetch("select endpoint_id from webhook_endpoints")}
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{wh_api}/openapi.json",
        "--include-path-regex", "^/v1/webhooks",
        "-H", f"Authorization: Bearer {wh_keys['ops']}",
        "--checks", "not_a_server_error,response_schema_conformance",
        "--max-examples", "15",
        "--phases", "examples,coverage,fuzzing",
        "--seed", "7",
    ]  # fmt: skip
    try:
        done = await asyncio.to_thread(
            subprocess.run, command, cwd=tmp_path, capture_output=True, text=True, timeout=240
        )
    finally:
        await session_pool.execute(
            "delete from webhook_endpoints where not (endpoint_id = any($1))", sorted(before)
        )
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
