from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from activities.event_store import AppendEvents, EventEnvelope, EventStoreActivities
from store.event_store import ConcurrencyConflict, EventStore, NewEvent, StoredEvent
from store.read_model import CaseRow, case_rider, get_case, rebuild, upsert_case
from workflows.return_case import event_id


def _events(*types: str) -> list[NewEvent]:
    return [NewEvent(uuid.uuid4(), t, {"type": t, "n": i}) for i, t in enumerate(types)]


def _stream() -> str:
    return f"return-{uuid.uuid4().hex}"


def _case(return_id: str, version: int, status: str = "open") -> CaseRow:
    return CaseRow(
        return_id=return_id,
        order_id="o1",
        customer_id="c1",
        kind="refund",
        status=status,
        resolution=None,
        gross=Decimal("20.00"),
        total=Decimal("19.99"),
        refunded=Decimal("0.00"),
        store_credit=Decimal("0.00"),
        customer_messages=("hello",),
        opened_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        closed_at=None,
        stream_version=version,
    )


async def test_append_and_read_back_in_order(pool: asyncpg.Pool) -> None:
    store, s = EventStore(pool), _stream()
    assert await store.append(s, 0, _events("Opened", "Received")) == 2
    assert await store.append(s, 2, _events("Refunded")) == 3
    got = await store.read_stream(s)
    assert [(e.stream_version, e.type) for e in got] == [
        (1, "Opened"),
        (2, "Received"),
        (3, "Refunded"),
    ]
    assert got[0].data == {"type": "Opened", "n": 0}
    assert got[0].stream_id == s and got[0].recorded_at.tzinfo is not None
    assert [e.global_position for e in got] == sorted(e.global_position for e in got)
    assert await store.read_stream(_stream()) == []


async def test_expected_version_conflict_writes_nothing(pool: asyncpg.Pool) -> None:
    store, s = EventStore(pool), _stream()
    await store.append(s, 0, _events("Opened"))
    with pytest.raises(ConcurrencyConflict, match="conflict:"):
        await store.append(s, 0, _events("Other"), case_rider(_case(s, 1)))
    with pytest.raises(ConcurrencyConflict):
        await store.append(s, 5, _events("Other"))
    assert [e.type for e in await store.read_stream(s)] == ["Opened"]
    assert await get_case(pool, s) is None  # rolled back with the append


async def test_retry_with_same_event_ids_is_success_without_duplicates(pool: asyncpg.Pool) -> None:
    store, s = EventStore(pool), _stream()
    batch = _events("Opened", "Received")
    assert await store.append(s, 0, batch) == 2
    assert await store.append(s, 0, batch) == 2  # the retry of a committed append
    await store.append(s, 2, _events("Closed"))
    assert await store.append(s, 0, batch) == 3  # still fine, answers the current version
    assert len(await store.read_stream(s)) == 3


async def test_reused_ids_elsewhere_or_partially_conflict(pool: asyncpg.Pool) -> None:
    store, s = EventStore(pool), _stream()
    batch = _events("Opened", "Received")
    await store.append(s, 0, batch)
    with pytest.raises(ConcurrencyConflict):
        await store.append(_stream(), 0, batch)  # same ids on another stream
    with pytest.raises(ConcurrencyConflict):
        await store.append(s, 2, [batch[0], *_events("New")])  # partial overlap
    assert len(await store.read_stream(s)) == 2


async def test_appends_to_different_streams_do_not_block(pool: asyncpg.Pool) -> None:
    store, a, b = EventStore(pool), _stream(), _stream()
    await store.append(a, 0, _events("Opened"))
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        # Holds stream a's row lock until rollback.
        await conn.fetchval("select append_events($1, 1, $2, $3, $4)", a, [uuid.uuid4()], ["X"], [{}])
        assert await asyncio.wait_for(store.append(b, 0, _events("Opened")), 2) == 1
        # The same stream, however, waits for the lock.
        blocked = asyncio.create_task(store.append(a, 1, _events("Y")))
        await asyncio.sleep(0.3)
        assert not blocked.done()
        await tx.rollback()
        assert await asyncio.wait_for(blocked, 2) == 2


async def test_concurrent_same_expected_version_exactly_one_wins(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    for s, expected in ((_stream(), 0), (_stream(), 1)):  # new stream and existing stream
        if expected:
            await store.append(s, 0, _events("Opened"))
        results = await asyncio.gather(
            *(store.append(s, expected, _events(f"E{i}")) for i in range(8)),
            return_exceptions=True,
        )
        wins = [r for r in results if r == expected + 1]
        assert len(wins) == 1
        assert all(isinstance(r, ConcurrencyConflict) for r in results if r not in wins)
        assert len(await store.read_stream(s)) == expected + 1


@pytest.mark.parametrize(
    "sql",
    [
        "update events set type = 'x' where stream_id = $1",
        "delete from events where stream_id = $1",
    ],
)
async def test_events_are_append_only(pool: asyncpg.Pool, sql: str) -> None:
    store, s = EventStore(pool), _stream()
    await store.append(s, 0, _events("Opened"))
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await pool.execute(sql, s)
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await pool.execute("truncate events")
    assert [e.type for e in await store.read_stream(s)] == ["Opened"]


async def test_case_row_written_with_append_and_stale_versions_ignored(
    pool: asyncpg.Pool,
) -> None:
    store, s = EventStore(pool), _stream()
    first = _events("Opened")
    await store.append(s, 0, first, case_rider(_case(s, 1)))
    row = await get_case(pool, s)
    assert row is not None and row.status == "open" and row.customer_messages == ("hello",)
    assert row.opened_at.tzinfo is not None
    await store.append(s, 1, _events("Closed"), case_rider(_case(s, 2, "closed")))
    # A retry of the first append carries an older row: it must not win.
    assert await store.append(s, 0, first, case_rider(_case(s, 1))) == 2
    async with pool.acquire() as conn:
        await upsert_case(conn, _case(s, 1, "stale"))
    row = await get_case(pool, s)
    assert row is not None and (row.status, row.stream_version) == ("closed", 2)


async def test_rebuild_with_trivial_fold(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    tag = uuid.uuid4().hex[:8]
    streams = [f"rb-{tag}-{i}" for i in range(5)]
    for i, s in enumerate(streams):
        await store.append(s, 0, _events(*(f"E{j}" for j in range(i + 1))))
    async with pool.acquire() as conn:
        await upsert_case(conn, _case(f"rb-{tag}-gone", 1))  # not backed by events

    def fold(events: list[StoredEvent]) -> CaseRow | None:
        s = events[0].stream_id
        assert all(e.stream_id == s for e in events)
        assert [e.stream_version for e in events] == list(range(1, len(events) + 1))
        if not s.startswith(f"rb-{tag}-"):
            return None
        return _case(s, events[-1].stream_version, status=events[-1].type)

    assert await rebuild(pool, fold, batch=2) == len(streams)
    for i, s in enumerate(streams):
        row = await get_case(pool, s)
        assert row is not None and (row.stream_version, row.status) == (i + 1, f"E{i}")
    assert await get_case(pool, f"rb-{tag}-gone") is None
    assert await pool.fetchval("select count(*) from return_cases") == len(streams)


async def test_a_rebuild_whose_fold_fails_changes_nothing_and_says_why(pool: asyncpg.Pool) -> None:
    """The fold fails while the next batch is being read ahead: the fold's error comes out,
    not the connection's, and the transaction leaves the read model as it was."""
    store = EventStore(pool)
    tag = uuid.uuid4().hex[:8]
    for i in range(6):
        await store.append(f"rb-{tag}-{i}", 0, _events("E0", "E1"))
    async with pool.acquire() as conn:
        await upsert_case(conn, _case(f"rb-{tag}-kept", 1))
    before = await pool.fetchval("select count(*) from return_cases")

    def fold(events: list[StoredEvent]) -> CaseRow | None:
        if events[0].stream_id == f"rb-{tag}-3":
            raise RuntimeError("this stream does not fold")
        return None

    with pytest.raises(RuntimeError, match="this stream does not fold"):
        await rebuild(pool, fold, batch=3)
    assert await get_case(pool, f"rb-{tag}-kept") is not None
    assert await pool.fetchval("select count(*) from return_cases") == before
    assert await rebuild(pool, lambda events: None) == 0  # the connection went back usable


async def test_append_once_answers_a_decided_again_batch_with_the_recorded_one(pool: asyncpg.Pool) -> None:
    """A workflow task retried after its append committed decides again: same event ids, a later
    `at`, maybe other events. The store keeps and returns the first batch, writes nothing, and
    leaves the read model as the first batch left it."""
    store, s = EventStore(pool), _stream()
    first = _events("Opened", "Messaged")
    assert await store.append_once(s, 0, first, case_rider(_case(s, 2, status="first"))) == []
    again = [NewEvent(first[0].event_id, "Opened", {"at": "later"})]
    recorded = await store.append_once(s, 0, again, case_rider(_case(s, 1, status="again")))
    assert [(e.event_id, e.type, e.data) for e in recorded] == [(e.event_id, e.type, e.data) for e in first]
    assert [e.stream_version for e in recorded] == [1, 2]
    assert len(await store.read_stream(s)) == 2
    row = await get_case(pool, s)
    assert row is not None and row.status == "first"
    # Anything else at that version is still a conflict.
    with pytest.raises(ConcurrencyConflict):
        await store.append_once(s, 0, _events("Other"))
    assert await store.append_once(s, 2, _events("Next")) == []


async def test_append_events_once_activity_hands_back_the_recorded_batch(pool: asyncpg.Pool) -> None:
    s = _stream()
    summary = _case(s, 1)
    activities = EventStoreActivities(EventStore(pool))
    first = EventEnvelope(event_id=uuid.uuid4(), type="Opened", data={"at": "first"})
    fresh = await activities.append_events_once(
        AppendEvents(stream_id=s, expected_version=0, events=[first], summary=summary)
    )
    assert (fresh.version, fresh.recorded) == (1, [])
    again = first.model_copy(update={"data": {"at": "again"}})
    retried = await activities.append_events_once(
        AppendEvents(stream_id=s, expected_version=0, events=[again], summary=summary)
    )
    assert (retried.version, retried.recorded) == (1, [first])


def test_the_event_store_knows_nothing_of_read_models() -> None:
    code = "import sys, store.event_store; assert 'store.read_model' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


async def test_append_once_adopts_only_the_batch_recorded_by_one_append(pool: asyncpg.Pool) -> None:
    """Two handlers appended in one workflow task, then the worker died: the retried first
    handler gets its own batch back, not the second handler's, which that one adopts in turn."""
    store, s = EventStore(pool), _stream()
    await store.append(s, 0, _events("Opened"))
    first, second = _events("Chosen"), _events("Received", "Resolved")
    assert await store.append_once(s, 1, first) == []
    assert await store.append_once(s, 2, second) == []
    again = await store.append_once(s, 1, [NewEvent(first[0].event_id, "Chosen", {"at": "later"})])
    assert [(e.event_id, e.stream_version) for e in again] == [(first[0].event_id, 2)]
    again = await store.append_once(s, 2, second)
    assert [e.event_id for e in again] == [e.event_id for e in second]
    assert [e.stream_version for e in again] == [3, 4]
    # Decided again with another length, the recorded batch still answers whole.
    longer = [NewEvent(second[0].event_id, "Received", {}), *_events("Extra", "More")]
    assert [e.type for e in await store.append_once(s, 2, longer)] == ["Received", "Resolved"]
    assert len(await store.read_stream(s)) == 4


async def test_ids_by_stream_version_keep_a_redecided_batch_of_another_length_exact(
    pool: asyncpg.Pool,
) -> None:
    """The workflow's ids come from its run and the stream version (workflows.return_case.event_id).
    Two batches recorded, then the task retried: the first handler now decides three events where
    it had two (a timer came due), yet each handler adopts exactly the batch recorded at its place."""
    store, s, run = EventStore(pool), _stream(), str(uuid.uuid4())

    def batch(first_version: int, *types: str) -> list[NewEvent]:
        return [NewEvent(event_id(run, first_version + n), t, {"t": t}) for n, t in enumerate(types)]

    assert await store.append_once(s, 0, batch(1, "Chosen", "Resolved")) == []
    assert await store.append_once(s, 2, batch(3, "Received")) == []
    again = await store.append_once(s, 0, batch(1, "Chosen", "Resolved", "Reminded"))
    assert [(e.type, e.stream_version) for e in again] == [("Chosen", 1), ("Resolved", 2)]
    again = await store.append_once(s, 2, batch(3, "Received"))
    assert [(e.type, e.stream_version) for e in again] == [("Received", 3)]
    assert len(await store.read_stream(s)) == 3
    # Another run on the same stream (a fresh Temporal server, an old database) conflicts.
    with pytest.raises(ConcurrencyConflict):
        await store.append_once(s, 0, [NewEvent(event_id(str(uuid.uuid4()), 1), "Opened", {})])


async def test_append_once_refuses_ids_recorded_elsewhere_in_the_stream(pool: asyncpg.Pool) -> None:
    """A writer whose ids no longer line up with the record (its redecided batch had another
    length) is refused, never told that its batch was appended."""
    store, s = EventStore(pool), _stream()
    batch = _events("A", "B", "C")
    await store.append(s, 0, batch)
    await store.append(s, 3, _events("D"))
    with pytest.raises(ConcurrencyConflict, match="not right after version 1"):
        await store.append_once(s, 1, batch[1:])  # all found in the stream: append_events says duplicate
    with pytest.raises(ConcurrencyConflict):
        await store.append_once(s, 4, batch[2:])  # the stream is where expected: the insert refuses
    assert [e.type for e in await store.read_stream(s)] == ["A", "B", "C", "D"]


@pytest.mark.parametrize("text", ["a\x00b", "\x00"])
async def test_an_event_holding_a_nul_is_never_stored(pool: asyncpg.Pool, text: str) -> None:
    """PostgreSQL's jsonb cannot hold NUL: such an append fails whole, so no stored event holds
    one and reading events back leaves out the NUL check (domain.request.STORED)."""
    store, s = EventStore(pool), _stream()
    event = NewEvent(uuid.uuid4(), "Noted", {"type": "Noted", "note": text, "lines": [text]})
    with pytest.raises(asyncpg.PostgresError, match=r"cannot be converted to text|unsupported Unicode"):
        await store.append(s, 0, [*_events("Opened"), event])
    assert await store.read_stream(s) == []
