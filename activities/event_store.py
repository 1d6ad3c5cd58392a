"""Appending a case's events (and its read-model row) in one transaction: a local activity."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.case import ReturnCase, fold
from domain.effects import CustomerMessage
from domain.events import event_from_json
from domain.summary import CaseSummary, summarize
from mail.render import render_text
from mail.shop import ShopSettings
from store.event_store import ConcurrencyConflict, EventStore, NewEvent, Rider, StoredEvent
from store.outbox import outbox_rider, outbox_row
from store.read_model import case_rider


class EventEnvelope(BaseModel):
    event_id: uuid.UUID
    type: str
    data: dict[str, Any]


class AppendEvents(BaseModel):
    stream_id: str
    expected_version: int
    events: list[EventEnvelope]
    summary: CaseSummary
    # Customer messages the batch hands to the outbox (their message_sent events are in it):
    # written in the append's statement. Empty in inputs recorded before the outbox.
    outbox: list[CustomerMessage] = []


class Appended(BaseModel):
    version: int
    # Non-empty only when an earlier attempt of this batch (same first event id) had committed:
    # that batch, and only it, is the record; the workflow folds it instead of its new decision.
    recorded: list[EventEnvelope] = []


def fold_stored(events: list[StoredEvent]) -> ReturnCase | None:
    """A stored stream folded with the same evolve the workflow uses; each event of whatever
    schema version it was stored with, upcast by event_from_json (the read model's rebuild too)."""
    return fold(event_from_json(e.data) for e in events)


def row_of_stream(events: list[StoredEvent]) -> CaseSummary | None:
    case = fold_stored(events)
    return summarize(case) if case is not None else None


class EventStoreActivities:
    """`shop`: what the messages an append hands to the outbox say (its text copy); by default
    mail.shop.ShopSettings.from_env()."""

    def __init__(self, store: EventStore, shop: ShopSettings | None = None) -> None:
        self._store = store
        self._shop = shop if shop is not None else ShopSettings.from_env()

    async def _riders(self, req: AppendEvents) -> list[Rider]:
        """The read-model row, and the outbox rows sealed as the events are (the store's cipher)."""
        riders = [case_rider(req.summary)]
        if req.outbox:
            rows = [
                await outbox_row(m, render_text(m.template, m.data, self._shop), self._store.personal)
                for m in req.outbox
            ]
            riders.append(outbox_rider(rows))
        return riders

    @activity.defn
    async def append_events(self, req: AppendEvents) -> int:
        events = [NewEvent(event_id=e.event_id, type=e.type, data=e.data) for e in req.events]
        try:
            return await self._store.append(
                req.stream_id,
                req.expected_version,
                events,
                await self._riders(req),
                owner=req.summary.customer_id,
            )
        except ConcurrencyConflict as e:
            # Event ids come from the workflow, so a retry is a duplicate, never this: a real conflict.
            raise ApplicationError(str(e), type="ConcurrencyConflict", non_retryable=True) from e

    @activity.defn
    async def append_events_once(self, req: AppendEvents) -> Appended:
        """append_events for a workflow that adopts what an earlier attempt recorded."""
        events = [NewEvent(event_id=e.event_id, type=e.type, data=e.data) for e in req.events]
        try:
            recorded = await self._store.append_once(
                req.stream_id,
                req.expected_version,
                events,
                await self._riders(req),
                owner=req.summary.customer_id,
            )
        except ConcurrencyConflict as e:
            raise ApplicationError(str(e), type="ConcurrencyConflict", non_retryable=True) from e
        if not recorded:
            return Appended(version=req.expected_version + len(events))
        return Appended(
            version=recorded[-1].stream_version,
            recorded=[EventEnvelope(event_id=e.event_id, type=e.type, data=e.data) for e in recorded],
        )
