"""Append-only event store on PostgreSQL (see ARCHITECTURE, Event store notes)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from store.read_model import APPEND_WITH_CASE, CaseRow, case_values

# SQLSTATE raised by append_events on a real conflict (see 001_event_store.sql).
CONFLICT_SQLSTATE = "RS001"


@dataclass(frozen=True)
class NewEvent:
    event_id: uuid.UUID
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    global_position: int
    stream_id: str
    stream_version: int
    event_id: uuid.UUID
    type: str
    data: dict[str, Any]
    recorded_at: datetime


class ConcurrencyConflict(Exception):
    """Expected version mismatch (or event ids reused): not retryable as is."""


_APPEND = "select append_events($1, $2, $3, $4, $5)"
_COLUMNS = "global_position, stream_id, stream_version, event_id, type, data, recorded_at"


def record_to_event(r: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        global_position=r["global_position"],
        stream_id=r["stream_id"],
        stream_version=r["stream_version"],
        event_id=r["event_id"],
        type=r["type"],
        data=r["data"],
        recorded_at=r["recorded_at"],
    )


class EventStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        case_row: CaseRow | None = None,
    ) -> int:
        """Append events at expected_version; returns the stream's new version.

        Retrying a batch that already committed (same event ids) returns the
        current version and writes nothing.
        """
        if not events:
            raise ValueError("append needs at least one event")
        return await self._append(self._pool, stream_id, expected_version, events, case_row)

    async def append_once(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        case_row: CaseRow | None = None,
    ) -> list[StoredEvent]:
        """append, for a writer that may decide a batch again after a crash (a workflow task
        retried after its local append committed): the same event ids, but other data (a later
        `at`, possibly other events). When the batch's first event id is already recorded right
        after expected_version, nothing is written (the read model neither) and the events
        recorded from there on are returned: they are the case's record, the new ones are not.
        Returns [] for a fresh append."""
        if not events:
            raise ValueError("append needs at least one event")
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"select {_COLUMNS} from events where stream_id = $1 and stream_version > $2"
                " order by stream_version",
                stream_id,
                expected_version,
            )
            if rows and rows[0]["event_id"] == events[0].event_id:
                return [record_to_event(r) for r in rows]
            await self._append(conn, stream_id, expected_version, events, case_row)
            return []

    @staticmethod
    async def _append(
        db: asyncpg.Pool | asyncpg.Connection,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        case_row: CaseRow | None,
    ) -> int:
        args = (
            stream_id,
            expected_version,
            [e.event_id for e in events],
            [e.type for e in events],
            [e.data for e in events],
        )
        try:
            # One statement, so one round trip and atomic without BEGIN/COMMIT round trips; the
            # read-model row rides along in the same statement, so it never lags the stream.
            if case_row is None:
                version: int = await db.fetchval(_APPEND, *args)
            else:
                version = await db.fetchval(APPEND_WITH_CASE, *args, *case_values(case_row))
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_event_id_key":
                raise ConcurrencyConflict(f"conflict: event ids already recorded ({exc})") from exc
            raise
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == CONFLICT_SQLSTATE:
                raise ConcurrencyConflict(str(exc)) from exc
            raise
        return version

    async def read_stream(self, stream_id: str) -> list[StoredEvent]:
        rows = await self._pool.fetch(
            f"select {_COLUMNS} from events where stream_id = $1 order by stream_version",
            stream_id,
        )
        return [record_to_event(r) for r in rows]

    async def read_all(self, after_position: int = 0, limit: int = 10000) -> list[StoredEvent]:
        """Events after a position, oldest first, only those no running
        transaction can still precede: rows of transactions at or above the
        snapshot xmin may still be joined by lower positions committing late.
        """
        rows = await self._pool.fetch(
            f"select {_COLUMNS} from events"
            " where global_position > $1"
            " and transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
            " order by global_position limit $2",
            after_position,
            limit,
        )
        return [record_to_event(r) for r in rows]
