"""The shop examples in examples/typescript and examples/php run as written: their webhook
receivers accept what the `standardwebhooks` package signs (as the service's sender does) and
refuse a forged, tampered or replayed delivery, and their submit gets a case from the real API
(201 new, 200 the same case again). Node (with npm, to fetch the TypeScript compiler
pinned in examples/typescript/package.json) and PHP are used where the machine has them."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    url: str
    process: subprocess.Popen[str]

    def output(self) -> tuple[str, str]:
        self.process.terminate()
        out, err = self.process.communicate(timeout=10)
        return out, err


def _serve(command: list[str], cwd: Path, port: int, env: dict[str, str]) -> Receiver:
    process = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{command} exited: {process.communicate()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Receiver(f"http://127.0.0.1:{port}/", process)
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"{command} did not listen on {port}")


@pytest.fixture(scope="module")
def typescript_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm absent: the TypeScript example is not run")
    build = tmp_path_factory.mktemp("typescript")
    for name in ("package.json", "tsconfig.json", "returns.ts"):
        shutil.copy(EXAMPLES / "typescript" / name, build / name)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=build, check=True, timeout=300
    )
    # The example's own build: strict type checking, then plain JavaScript for node.
    subprocess.run(["npx", "--no-install", "tsc", "-p", "."], cwd=build, check=True, timeout=120)
    return build


@contextlib.contextmanager
def _typescript_receiver(build: Path, secret: str) -> Iterator[Receiver]:
    port = _free_port()
    receiver = _serve(
        ["node", "dist/returns.js", "receive", str(port)], build, port, {"RETURNS_WEBHOOK_SECRET": secret}
    )
    try:
        yield receiver
    finally:
        receiver.process.kill()


@contextlib.contextmanager
def _php_receiver(secret: str) -> Iterator[Receiver]:
    if shutil.which("php") is None:
        pytest.skip("php absent: the PHP example is not run")
    port = _free_port()
    receiver = _serve(
        ["php", "-S", f"127.0.0.1:{port}", "returns.php"],
        EXAMPLES / "php",
        port,
        {"RETURNS_WEBHOOK_SECRET": secret},
    )
    try:
        yield receiver
    finally:
        receiver.process.kill()


# 32 random bytes, as the service makes them (padded base64), and 24 (no padding).
SECRETS = ["whsec_" + base64.b64encode(secrets.token_bytes(n)).decode() for n in (32, 24)]
PAYLOAD = json.dumps(
    {
        "type": "return.opened",
        "timestamp": "2026-12-02T10:00:00Z",
        "data": {
            "return_id": "R-1001",
            "case": {"return_id": "R-1001", "kind": "warranty", "status": "awaiting_photos"},
        },
    }
)


def _signed(
    secret: str, body: str = PAYLOAD, msg_id: str = "msg_1", at: datetime | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
        "content-type": "application/json",
    }


def _check_receiver(receiver: Receiver, secret: str) -> None:
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    good = _signed(secret, msg_id="msg_good")
    rotated = _signed(other, msg_id="msg_rotated")
    # A rotation: the old secret's signature and the new one's, space-separated.
    rotated["webhook-signature"] += " " + _signed(secret, msg_id="msg_rotated")["webhook-signature"]
    cases = [
        ("valid", PAYLOAD, good, 204),
        ("rotation", PAYLOAD, rotated, 204),
        ("tampered body", PAYLOAD.replace("R-1001", "R-1002"), _signed(secret, msg_id="msg_t"), 400),
        ("other secret", PAYLOAD, _signed(other, msg_id="msg_o"), 400),
        ("replayed an hour later", PAYLOAD, _signed(secret, at=datetime.now(UTC) - timedelta(hours=1)), 400),
        ("unsigned", PAYLOAD, {"webhook-id": "msg_u", "webhook-timestamp": good["webhook-timestamp"]}, 400),
    ]
    with httpx.Client(timeout=10) as http:
        for name, body, headers, expected in cases:
            answer = http.post(receiver.url, content=body, headers=headers)
            assert answer.status_code == expected, name
    out, err = receiver.output()
    accepted = out + err  # node prints to stdout; php's built-in server logs to stderr
    assert "msg_good return.opened R-1001" in accepted
    assert "msg_rotated return.opened R-1001" in accepted
    for refused in ("msg_t ", "msg_o ", "msg_u "):
        assert refused not in accepted


@pytest.mark.parametrize("secret", SECRETS, ids=["32-byte-secret", "24-byte-secret"])
def test_typescript_receiver_checks_standard_webhooks_signatures(typescript_build: Path, secret: str) -> None:
    with _typescript_receiver(typescript_build, secret) as receiver:
        _check_receiver(receiver, secret)


@pytest.mark.parametrize("secret", SECRETS, ids=["32-byte-secret", "24-byte-secret"])
def test_php_receiver_checks_standard_webhooks_signatures(secret: str) -> None:
    with _php_receiver(secret) as receiver:
        _check_receiver(receiver, secret)


def _request_file(tmp_path: Path) -> tuple[str, Path]:
    return_id = f"R-EX-{uuid.uuid4().hex[:8]}"
    request = json.loads((EXAMPLES / "toner.json").read_text())
    request["return_id"] = return_id
    # The case starts two days after delivery whatever the test server's clock says (other
    # tests skip its time far ahead): within the window, so the toner's first answer is fixed.
    request["requested_at"] = "2026-09-10T10:00:00+02:00"
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return return_id, path


async def _submit_twice(command: list[str], cwd: Path, api: str, key: str, tmp_path: Path) -> None:
    return_id, path = _request_file(tmp_path)
    env = {**os.environ, "RETURNS_API_URL": api, "RETURNS_API_KEY": key}
    answers = []
    for _ in range(2):
        done = await asyncio.to_thread(
            subprocess.run,
            [*command, str(path)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        answers.append(done.stdout.strip())
    # The toner's first answer (contract: a defective printer supply under warranty needs a photo).
    assert answers == [
        f"created {return_id} warranty awaiting_photos",
        f"existing {return_id} warranty awaiting_photos",
    ]
    wrong = {**env, "RETURNS_API_KEY": "rk_000000000000_not-a-key"}
    refused = await asyncio.to_thread(
        subprocess.run, [*command, str(path)], cwd=cwd, env=wrong, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0 and "401" in refused.stderr + refused.stdout


async def test_typescript_submit_against_the_api(
    typescript_build: Path, api: str, keys: dict[str, str], tmp_path: Path
) -> None:
    await _submit_twice(
        ["node", "dist/returns.js", "submit"], typescript_build, api, keys["webshop"], tmp_path
    )


async def test_php_submit_against_the_api(api: str, keys: dict[str, str], tmp_path: Path) -> None:
    if shutil.which("php") is None:
        pytest.skip("php absent: the PHP example is not run")
    await _submit_twice(["php", "returns.php", "submit"], EXAMPLES / "php", api, keys["webshop"], tmp_path)
