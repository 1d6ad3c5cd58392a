"""One Temporal runtime per process whose core logs go to Python logging (stderr), never to
stdout: the commands print JSON on stdout and nothing else."""

from __future__ import annotations

import logging

from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter


def install_runtime(core_level: str = "ERROR") -> Runtime:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level=core_level, other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            )
        )
    )
    Runtime.set_default(runtime, error_if_already_set=False)
    return runtime
