"""Serving the app with uvicorn inside a running event loop (worker.py beside the worker, tests):
the caller owns the signals and stops the server itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator

import uvicorn
from fastapi import FastAPI


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # worker.py handles SIGINT/SIGTERM and stops this server with everything else.
        yield


class StartupFailed(Exception):
    """The app's lifespan failed or the port could not be bound."""


@contextlib.asynccontextmanager
async def serving(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> AsyncIterator[str]:
    """Serve `app` while the block runs; yields its base URL (port 0 picks a free port).
    On leaving, open requests finish and the lifespan shuts down."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on", access_log=False, server_header=False
    )
    server = _Server(config)

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit as e:  # uvicorn exits on a failed startup: not this process's exit
            raise StartupFailed(f"HTTP API did not start on {host}:{port} (exit {e.code})") from None

    task = asyncio.create_task(run())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise StartupFailed(f"HTTP API did not start on {host}:{port}")
            await asyncio.sleep(0.01)
        sock = server.servers[0].sockets[0]
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{shown}:{bound_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=15)
