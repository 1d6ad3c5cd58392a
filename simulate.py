"""Run past cases (contract section 6) on a simulated clock against the real workflow,
activities and event store: `python3 simulate.py CASE.json...`.

Prints one outcome per line (the final case view plus events, refused and days_open).
Exit 0 when every `expect` holds, 1 when one does not, 2 for an invalid case file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from temporalio.testing import WorkflowEnvironment

from domain.policy import DEFAULT_POLICY_FILE, load_policy
from domain.request import InvalidRequest, ReturnRequest, describe, parse_request
from returns_client import Refused, ReturnsClient
from store.event_store import EventStore

# The arguments each action of contract section 3 takes.
ACTION_ARGUMENTS: dict[str, set[str]] = {
    "submit_photos": {"line_id", "photos"},
    "choose_resolution": {"resolution"},
    "parcel_received": set(),
    "inspection_result": {"passed", "note"},
    "cancel": set(),
    "override": {"type", "actor", "reason", "kind", "resolution"},
}


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: timedelta
    action: str

    @model_validator(mode="after")
    def _known(self) -> TimelineEntry:
        if self.at < timedelta(0):
            raise ValueError("at: must not be negative")
        if self.action not in ACTION_ARGUMENTS:
            raise ValueError(f"action: unknown '{self.action}'; known: {', '.join(ACTION_ARGUMENTS)}")
        unknown = set(self.arguments()) - ACTION_ARGUMENTS[self.action]
        if unknown:
            raise ValueError(f"{self.action} takes no argument {', '.join(sorted(unknown))}")
        return self

    def arguments(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    request: dict[str, Any]
    timeline: list[TimelineEntry] = Field(default_factory=list)
    run_until: timedelta = timedelta(days=90)
    expect: dict[str, Any] = Field(default_factory=dict)


class InvalidCaseFile(Exception):
    pass


def load_case(path: Path) -> tuple[CaseFile, ReturnRequest, list[str]]:
    """A case file whose request is invalid is an invalid case file: nothing runs."""
    try:
        raw = json.loads(path.read_text())
        case = CaseFile.model_validate(raw)
        request = parse_request(case.request)
    except (OSError, json.JSONDecodeError) as e:
        raise InvalidCaseFile(f"{path}: {e}") from None
    except ValidationError as e:
        raise InvalidCaseFile(f"{path}: {describe(e).removeprefix('invalid request: ')}") from None
    except InvalidRequest as e:
        raise InvalidCaseFile(f"{path}: {e}") from None
    at_texts = [str(entry.get("at")) for entry in raw.get("timeline", [])]
    return case, request, at_texts


@contextlib.asynccontextmanager
async def simulation(
    policy_file: Path,
) -> AsyncIterator[tuple[ReturnsClient, EventStore, WorkflowEnvironment]]:
    """Time-skipping test server + real PostgreSQL (embedded unless DATABASE_URL) + the real worker."""
    from stack.embedded import start_postgres, time_skipping_server
    from worker import build_worker, prepare_database

    with contextlib.ExitStack() as stack:
        dsn = os.environ.get("DATABASE_URL")
        if not dsn:
            pg = start_postgres(
                Path(stack.enter_context(tempfile.TemporaryDirectory())) / "pg", ephemeral=True
            )
            stack.callback(pg.stop)
            dsn = pg.dsn
        pool = await prepare_database(dsn)
        try:
            async with time_skipping_server() as env:
                task_queue = f"simulate-{uuid.uuid4()}"
                async with build_worker(env.client, pool, policy_file, task_queue):
                    rc = ReturnsClient(env.client, task_queue, policy=load_policy(policy_file))
                    yield rc, EventStore(pool), env
        finally:
            await pool.close()


async def run_case(
    rc: ReturnsClient,
    store: EventStore,
    env: WorkflowEnvironment,
    case: CaseFile,
    request: ReturnRequest,
    at_texts: list[str],
) -> dict[str, Any]:
    rc.id_prefix = f"sim-{uuid.uuid4().hex[:8]}-"  # each past case is a case of its own
    view = await rc.submit(request)
    refused: list[dict[str, Any]] = []
    for i, entry in sorted(enumerate(case.timeline), key=lambda p: p[1].at):
        await _advance_to(env, view.opened_at + entry.at)
        try:
            await rc.act(request.return_id, entry.action, entry.arguments())
        except Refused as e:
            refused.append({"at": at_texts[i], "action": entry.action, "error": str(e)})
    await _advance_to(env, view.opened_at + case.run_until)
    final = await rc.status(request.return_id)
    events = await store.read_stream(rc.case_id(request.return_id))
    end = final.closed_at or await env.get_current_time()
    return {
        **final.model_dump(mode="json"),
        "events": [e.type for e in events],
        "refused": refused,
        "days_open": (end - final.opened_at).days,
    }


async def _advance_to(env: WorkflowEnvironment, target: Any) -> None:
    now = await env.get_current_time()
    if target > now:
        await env.sleep(target - now)


def mismatches(outcome: dict[str, Any], expect: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {"expected": want, "got": outcome.get(key, "<missing>")}
        for key, want in expect.items()
        if outcome.get(key, object()) != want
    }


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("cases", nargs="+", type=Path)
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY_FILE, help="policy file to run under")
    args = parser.parse_args(argv)
    try:
        loaded = [(path, *load_case(path)) for path in args.cases]
    except InvalidCaseFile as e:
        print(f"invalid case file: {e}", file=sys.stderr)
        return 2
    failed = 0
    async with simulation(args.policy) as (rc, store, env):
        for path, case, request, at_texts in loaded:
            outcome = await run_case(rc, store, env, case, request, at_texts)
            wrong = mismatches(outcome, case.expect)
            failed += bool(wrong)
            line = {"name": case.name, "file": str(path), "ok": not wrong, **outcome}
            if wrong:
                line["mismatches"] = wrong
            print(json.dumps(line, ensure_ascii=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    from stack.runtime import install_runtime

    install_runtime()
    code = asyncio.run(main(sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's runtime threads can abort the interpreter at exit; the answer is already out.
    os._exit(code)
