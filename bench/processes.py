"""The service as a user runs it, for the scale-out and sale-day benchmarks: N `worker.py`
processes (no HTTP API: RETURNS_API_PORT=off) and one API process (`python -m api serve`), all
on the same Temporal server and PostgreSQL, each its own process. Also what they cost: CPU seconds
and peak memory of each process, read from /proc."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
# As bench/run.py: byte code kept outside the repository, as a deployment has it.
PYCACHE = Path(tempfile.gettempdir()) / "returns-bench-pycache"
_HZ = os.sysconf("SC_CLK_TCK")
_UVICORN = re.compile(rb"Uvicorn running on (http://\S+)")


if TYPE_CHECKING:
    from bench.run import Stack


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a live process has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _HZ


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS now and VmHWM (the peak resident set since start) of a process, in MB."""
    out = {"rss": 0.0, "hwm": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                out["hwm"] = int(line.split()[1]) / 1024
    return out


@dataclass
class Services:
    """The running processes: `workers` (worker.py) and `api` (python -m api serve) at `api_url`."""

    workers: list[subprocess.Popen[bytes]]
    api: subprocess.Popen[bytes] | None
    api_url: str
    logs: list[Path] = field(default_factory=list)

    def worker_cpu_s(self) -> float:
        return sum(cpu_s(p.pid) for p in self.workers)

    def api_cpu_s(self) -> float:
        return cpu_s(self.api.pid) if self.api is not None else 0.0

    def worker_memory_mb(self) -> list[dict[str, float]]:
        return [memory_mb(p.pid) for p in self.workers]

    def check_alive(self) -> None:
        for p, log in zip([*self.workers, *([self.api] if self.api else [])], self.logs, strict=True):
            if p.poll() is not None:
                raise RuntimeError(f"{log.name} exited with {p.returncode}: {log.read_text()[-2000:]}")


def service_env(
    temporal_address: str, dsn: str, task_queue: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment of a worker or API process on the given stack (payload and master keys
    come from this process's environment, which bench/run.py sets)."""
    return {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
        "TEMPORAL_ADDRESS": temporal_address,
        "DATABASE_URL": dsn,
        "RETURNS_TASK_QUEUE": task_queue,
        "RETURNS_DATA_DIR": str(data_dir),
        **extra,
    }


def _wait_for(log: Path, proc: subprocess.Popen[bytes], pattern: re.Pattern[bytes], timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        m = pattern.search(log.read_bytes())
        if m:
            return m.group(1) if m.groups() else m.group(0)
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{log.name} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


@contextlib.contextmanager
def services(
    env: Mapping[str, str],
    logs: Path,
    workers: int,
    *,
    api: bool = True,
    worker_env: Mapping[str, str] | None = None,
    api_env: Mapping[str, str] | None = None,
) -> Iterator[Services]:
    """`workers` worker.py processes (RETURNS_API_PORT=off) and, with `api`, one API process on a
    free port; stopped with SIGTERM (as Ctrl-C or `docker stop`) when the block ends."""
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    paths: list[Path] = []

    def start(name: str, cmd: list[str], extra: Mapping[str, str]) -> subprocess.Popen[bytes]:
        path = logs / f"{name}.log"
        with path.open("wb") as out:  # the child keeps its own copy of the descriptor
            p = subprocess.Popen(cmd, env={**env, **extra}, stdout=out, stderr=out, cwd=ROOT)
        procs.append(p)
        paths.append(path)
        return p

    try:
        started = [
            start(
                f"worker-{i}",
                [sys.executable, str(ROOT / "worker.py")],
                {**(worker_env or {}), "RETURNS_API_PORT": "off"},
            )
            for i in range(workers)
        ]
        for p, path in zip(started, paths, strict=True):
            _wait_for(path, p, re.compile(rb"Worker polling"), 90)
        api_proc, url = None, ""
        if api:
            cmd = [sys.executable, "-m", "api", "serve", "--host", "127.0.0.1", "--port", "0"]
            api_proc = start("api", cmd, dict(api_env or {}))
            url = _wait_for(paths[-1], api_proc, _UVICORN, 90).decode()
        yield Services(started, api_proc, url, paths)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=25)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def cpu_by_part(stack: Stack, procs: Services) -> dict[str, float]:
    """CPU seconds so far of each part of a run over HTTP: the worker processes, the API process,
    the Temporal server, PostgreSQL, and the benchmark process driving the cases."""
    parts = stack.cpu()
    return {
        "workers": procs.worker_cpu_s(),
        "api": procs.api_cpu_s(),
        "temporal": parts["temporal"],
        "postgres": parts["postgres"],
        "bench": parts["python"],  # the HTTP client driving the cases (this process)
    }
