"""The worker's Prometheus endpoint carries the SDK's metrics and the service's own."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
import uuid

import asyncpg
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from payload.converter import data_converter
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from stack.runtime import make_runtime
from tests.workflow.test_return_case import toner
from worker import build_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample of `name` carrying these labels (0 when absent)."""
    found = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
    ]
    assert len(found) <= 1, found
    return found[0] if found else 0.0


async def test_worker_exports_cases_opened_closed_and_time_to_resolution(
    env: WorkflowEnvironment, session_pool: asyncpg.Pool
) -> None:
    port = free_port()
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        data_converter=data_converter(),
        runtime=make_runtime(metrics_port=port),
    )
    task_queue = f"metrics-{uuid.uuid4()}"
    async with build_worker(client, session_pool, DEFAULT_POLICY_FILE, task_queue):
        rc = ReturnsClient(client, task_queue)
        for _ in range(2):
            req = toner()
            await rc.submit(req)
            await rc.submit_photos(req["return_id"], "L1", ["printer-error.jpg"])
        cancelled = toner()
        await rc.submit(cancelled)
        # No case may stay open on this worker's queue: the skipping clock waits for its tasks.
        await rc.cancel(cancelled["return_id"])
        url = f"http://127.0.0.1:{port}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())

    assert sample(text, "returns_cases_opened_total", kind="warranty", status="awaiting_photos") == 3
    assert sample(text, "returns_cases_closed_total", kind="warranty", status="resolved") == 2
    assert sample(text, "returns_cases_closed_total", kind="warranty", status="cancelled") == 1
    assert sample(text, "returns_time_to_resolution_days_count", kind="warranty", status="resolved") == 2
    assert sample(text, "returns_time_to_resolution_days_bucket", status="resolved", le="0.04") == 2
    assert "temporal_workflow_task_execution_latency" in text  # the SDK's own metrics
