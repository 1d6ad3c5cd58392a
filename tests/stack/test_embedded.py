"""Integration tests for the embedded stack; they run the real binaries from the venv."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
import uuid
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client

from stack import embedded
from stack.embedded import ANY, find_binary, start_postgres, start_temporal_dev_server


def _http_status(url: str, timeout: float = 15) -> int:
    # The UI may come up a moment after the gRPC frontend, so poll.
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return int(resp.status)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_find_binary() -> None:
    assert Path(find_binary("temporal")).is_file()
    assert Path(find_binary("temporal-test-server")).is_file()


async def test_temporal_dev_server_persists(tmp_path: Path) -> None:
    db = tmp_path / "temporal.db"
    handle = start_temporal_dev_server(
        db,
        port=ANY,
        ui_port=ANY,
        search_attributes={"ReturnStatus": "Keyword"},
        log_file=tmp_path / "temporal.log",
    )
    try:
        client = await Client.connect(handle.address)
        resp = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert resp.custom_attributes["ReturnStatus"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        assert handle.ui_url is not None
        assert _http_status(handle.ui_url + "/") == 200
        # No worker polls this queue, so the workflow just stays open in the db.
        await client.start_workflow("NoSuchWorkflow", id="persist-me", task_queue="nobody-home")
    finally:
        handle.stop()
    assert handle.process.poll() is not None

    handle = start_temporal_dev_server(db, port=ANY, ui_port=ANY, log_file=tmp_path / "temporal.log")
    try:
        client = await Client.connect(handle.address)
        desc = await client.get_workflow_handle("persist-me").describe()
        assert desc.workflow_type == "NoSuchWorkflow"
    finally:
        handle.stop()


async def test_embedded_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "pg"  # parent does not exist yet
    pg = start_postgres(data_dir, ephemeral=True)
    try:
        conn = await asyncpg.connect(pg.dsn)
        try:
            assert await conn.fetchval("select 1") == 1
        finally:
            await conn.close()
        again = start_postgres(data_dir, ephemeral=True)
        assert again.dsn == pg.dsn
        pid_file = data_dir / "postmaster.pid"
        pid = pid_file.read_text().split()[0]
        conn = await asyncpg.connect(again.dsn)
        try:
            assert await conn.fetchval("select 1") == 1
        finally:
            await conn.close()
        assert pid_file.read_text().split()[0] == pid  # same postmaster, not a restart
    finally:
        pg.stop()


async def test_a_deleted_execution_leaves_no_bytes_in_the_database_file(tmp_path: Path) -> None:
    """secure_delete=on (the CLI accepts any pragma without a word, so the effect is checked): a
    deleted execution's payload is zeroed in the SQLite file, not left in a page's free space.
    Deletion is asynchronous (about 35-45 s on this server)."""
    db = tmp_path / "temporal.db"
    handle = start_temporal_dev_server(db, port=ANY, ui_port=ANY, log_file=tmp_path / "temporal.log")
    marker = f"Secure Delete Marker {uuid.uuid4().hex}".encode()
    try:
        client = await Client.connect(handle.address)  # no payload keys: the input in the clear
        wf = await client.start_workflow(
            "NoSuchWorkflow", marker.decode(), id="erase-me", task_queue="nobody"
        )
        await wf.terminate()
        # The control: the input is in the file in the clear (the write lands in the WAL first and
        # in the file at the next checkpoint, which a loaded machine delays past a minute).
        deadline = time.monotonic() + 150
        while marker not in db.read_bytes():
            assert time.monotonic() < deadline, "the control marker never reached the database file"
            await asyncio.sleep(0.5)
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace="default", workflow_execution=WorkflowExecution(workflow_id="erase-me")
            )
        )
        deadline = time.monotonic() + 150
        while marker in db.read_bytes():
            assert time.monotonic() < deadline, "the deleted execution's input is still in the database file"
            await asyncio.sleep(2)
    finally:
        handle.stop()
    assert marker not in db.read_bytes()


async def test_a_port_another_process_took_meanwhile_is_chosen_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test processes asking for a free port at once can be told the same one; the server that
    loses it exits while starting, and the start picks another instead of failing."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        held = taken.getsockname()[1]
        picks = iter([held])
        real = embedded._free_port
        monkeypatch.setattr(embedded, "_free_port", lambda *a, **k: next(picks, None) or real(*a, **k))
        handle = start_temporal_dev_server(None, port=ANY, ui_port=ANY, log_file=tmp_path / "t.log")
        try:
            assert handle.address != f"127.0.0.1:{held}"
            await Client.connect(handle.address)
        finally:
            handle.stop()
        with pytest.raises(RuntimeError, match="exited"):  # a port the caller fixed is not changed
            start_temporal_dev_server(None, port=held, ui_port=ANY, log_file=tmp_path / "t.log")
