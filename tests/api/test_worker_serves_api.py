"""README command 1: worker.py serves the HTTP API beside the worker, prints its address and how
to make a key, answers with a key made by the CLI, and stops gracefully with the worker on
Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import api_cli
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # the embedded stack as a user runs it


async def wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while text not in (out := log.read_text()):
        assert proc.poll() is None, out[-3000:]
        assert time.monotonic() < deadline, out[-3000:]
        await asyncio.sleep(0.2)
    return out


async def test_worker_py_serves_the_api_and_stops_with_it(tmp_path: Path) -> None:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("TEMPORAL_ADDRESS", "DATABASE_URL", "RETURNS_PORTAL_SECRET")
        },
        "RETURNS_DATA_DIR": str(tmp_path / "data"),
        "RETURNS_API_PORT": "0",
        "RETURNS_TEMPORAL_PORT": "0",  # beside other tests' servers: one the OS picks
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        text = await wait_for(log, "Worker polling", proc)
        match = re.search(r"HTTP API: (http://127\.0\.0\.1:\d+) \(docs at /docs\)", text)
        assert match, text
        url = match.group(1)
        assert "Create an API key: .venv/bin/python -m api keys create --role webshop" in text
        # The CLI finds the worker's PostgreSQL under the same data dir.
        made = await api_cli(
            {"RETURNS_DATA_DIR": env["RETURNS_DATA_DIR"]}, "keys", "create", "--role", "webshop"
        )
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip()
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            assert (await http.get("/openapi.json")).status_code == 200
            body = json.loads((ROOT / "examples" / "toner.json").read_text())
            r = await http.post("/v1/returns", json=body, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "awaiting_photos"
            # The return portal: the worker made its link secret once (never printed), and
            # `starter.py link` with the same data dir signs a link the served portal opens.
            secret = (tmp_path / "data" / "portal-secret").read_text().strip()
            assert secret and secret not in log.read_text()
            link = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "starter.py", "link", "examples/toner.json", "--base-url", url],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert link.returncode == 0, link.stderr
            page = await http.get(link.stdout.strip())
            assert page.status_code == 200 and "Toner 410X (huismerk)" in page.text
        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 60) == 0
        assert "Worker stopped" in log.read_text()
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("/openapi.json")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
