"""Health check of the returns worker container (docker-compose.yml runs `python -m
deploy.healthcheck`): healthy when a worker in this container, known to Temporal by its identity
``<pid>@<hostname>``, has polled the task queue for workflow and for activity tasks within the
last two minutes. A process that is alive but lost its connection to Temporal thus turns
unhealthy. Exit 0 healthy, 1 not, with the reason on stdout (docker inspect shows it).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from worker import Settings

# A long poll lasts about a minute and each new one refreshes the poller's last access time.
FRESH = timedelta(minutes=2)
KINDS = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


async def missing_pollers(client: Client, namespace: str, task_queue: str, host: str) -> list[str]:
    """The task kinds for which no worker on ``host`` polled ``task_queue`` recently."""
    now = datetime.now(UTC)
    missing = []
    for kind, type_ in KINDS.items():
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=type_
            )
        )
        if not any(
            p.identity.endswith(f"@{host}") and now - p.last_access_time.ToDatetime(UTC) <= FRESH
            for p in resp.pollers
        ):
            missing.append(kind)
    return missing


async def check(settings: Settings, host: str) -> str | None:
    """None when healthy, else why not."""
    if settings.temporal_address is None:
        return "TEMPORAL_ADDRESS is not set"
    try:
        client = await asyncio.wait_for(
            Client.connect(settings.temporal_address, namespace=settings.namespace), timeout=5
        )
        missing = await asyncio.wait_for(
            missing_pollers(client, settings.namespace, settings.task_queue, host), timeout=5
        )
    except Exception as err:  # unreachable server, unknown namespace, timeout: all unhealthy
        return f"Temporal at {settings.temporal_address}: {err!r}"
    if missing:
        return f"no {' or '.join(missing)} poller from {host} on task queue {settings.task_queue!r}"
    return None


def main() -> int:
    problem = asyncio.run(check(Settings.from_env(), socket.gethostname()))
    print(problem or "ok: polling")
    return 1 if problem else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Skip interpreter teardown: after a failed call the SDK's core threads can abort it
    # (exit 134), and Docker must see exactly 0 or 1.
    os._exit(code)
