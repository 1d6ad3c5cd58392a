"""A case driven from curl alone gives the same views as the same case driven through starter.py:
a printer under warranty through photos, choice, parcel, inspection and repair, and an ops
override. Views are compared apart from the return_id and times."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from returns_client import ReturnsClient
from tests.conftest import ROOT
from tests.workflow.test_repair import printer

TIMES = {"opened_at", "closed_at", "at"}


def comparable(view: Any, return_id: str) -> Any:
    """The view without its id and times (the two cases run moments apart)."""
    if isinstance(view, dict):
        return {k: comparable(v, return_id) for k, v in view.items() if k not in TIMES and k != "return_id"}
    if isinstance(view, list):
        return [comparable(v, return_id) for v in view]
    return view


async def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = await asyncio.to_thread(
        subprocess.run, argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (argv[:4], done.stderr)
    return done.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
async def test_curl_and_starter_give_the_same_views(
    api: str, keys: dict[str, str], returns: ReturnsClient, tmp_path: Path
) -> None:
    request = printer()
    request["items"][0]["photos"] = []
    rid_http, rid_cli = f"{request['return_id']}-HTTP", f"{request['return_id']}-CLI"

    def request_file(rid: str) -> Path:
        path = tmp_path / f"{rid}.json"
        path.write_text(json.dumps({**request, "return_id": rid}))
        return path

    def curl(path: str, key: str, body: dict[str, Any] | Path | None = None) -> list[str]:
        argv = ["curl", "-sS", "--fail-with-body", "-X", "POST", f"{api}{path}"]
        argv += ["-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json"]
        if isinstance(body, Path):
            argv += ["--data-binary", f"@{body}"]
        elif body is not None:
            argv += ["--data", json.dumps(body)]
        return argv

    shop, warehouse, ops = keys["webshop"], keys["warehouse"], keys["ops"]
    target = returns.client.service_client.config.target_host
    cli_env = {**os.environ, "TEMPORAL_ADDRESS": target, "RETURNS_TASK_QUEUE": returns.task_queue}
    starter = [sys.executable, "starter.py"]
    base = f"/v1/returns/{rid_http}"
    steps: list[tuple[list[str], list[str]]] = [
        (curl("/v1/returns", shop, request_file(rid_http)), ["submit", str(request_file(rid_cli))]),
        (curl(f"{base}/overrides", ops, {"type": "waive_deduction", "reason": "goodwill"}),
         ["override", rid_cli, "waive_deduction", "--actor", "ops:anna", "--reason", "goodwill"]),
        (curl(f"{base}/photos", shop, {"line_id": "L1", "photos": ["jam.jpg"]}),
         ["photos", rid_cli, "L1", "jam.jpg"]),
        (curl(f"{base}/choice", shop, {"resolution": "repair"}), ["choose", rid_cli, "repair"]),
        (curl(f"{base}/parcel", warehouse), ["parcel", rid_cli]),
        (curl(f"{base}/inspection", warehouse, {"passed": True, "note": "feed worn"}),
         ["inspect", rid_cli, "--passed", "--note", "feed worn"]),
        (curl(f"{base}/repair", warehouse, {"note": "rollers replaced"}),
         ["repaired", rid_cli, "--note", "rollers replaced"]),
    ]  # fmt: skip
    statuses = []
    for by_curl, by_cli in steps:
        http_view = json.loads(await run(by_curl))
        cli_view = json.loads(await run([*starter, *by_cli], cli_env))
        assert comparable(http_view, rid_http) == comparable(cli_view, rid_cli), by_cli[0]
        statuses.append(http_view["status"])
    assert statuses[-1] == "resolved" and "awaiting_repair" in statuses
    got = json.loads(await run(["curl", "-sS", f"{api}{base}", "-H", f"Authorization: Bearer {ops}"]))
    status = json.loads(await run([*starter, "status", rid_cli], cli_env))
    assert comparable(got, rid_http) == comparable(status, rid_cli)
