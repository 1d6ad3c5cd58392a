"""One Temporal runtime per process whose core logs go to Python logging (stderr), never to
stdout: the commands print JSON on stdout and nothing else. With a metrics port it also serves
Prometheus metrics: the SDK's and the service's own (workflows/metrics.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from workflows.metrics import BUCKETS


def make_runtime(core_level: str = "ERROR", metrics_port: int | None = None) -> Runtime:
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level=core_level, other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
            metrics=PrometheusConfig(
                bind_address=f"0.0.0.0:{metrics_port}",
                counters_total_suffix=True,
                durations_as_seconds=True,
                histogram_bucket_overrides=BUCKETS,
            )
            if metrics_port
            else None,
        )
    )


def install_runtime(core_level: str = "ERROR", metrics_port: int | None = None) -> Runtime:
    runtime = make_runtime(core_level, metrics_port)
    Runtime.set_default(runtime, error_if_already_set=False)
    return runtime


def run_cli(main: Callable[[list[str]], int | Coroutine[Any, Any, int]]) -> NoReturn:
    """Run a command's main with the runtime installed and exit with its code. os._exit: the
    SDK's runtime threads can abort the interpreter at exit, after the answer is out."""
    install_runtime()
    result = main(sys.argv[1:])
    code = result if isinstance(result, int) else asyncio.run(result)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
