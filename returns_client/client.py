"""The Python client a webshop backend (and starter.py, simulate.py) uses to drive return cases.

It validates a request with the worker's own models (``domain.request``) and calls the workflow
by the names in ``workflows.interface``: it imports no activity, no store and no asyncpg, and
holds no policy of its own (the worker's policy decides; the client never assesses).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionResponse
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateWithStartInput,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import commands as cmd
from domain.details import list_summary
from domain.request import InvalidRequest, ReturnRequest, describe, parse_request
from domain.view import CaseView
from payload.codec import CodecError
from payload.converter import data_converter
from returns_client.errors import CaseNotFound, PayloadKeyError, Refused
from workflows import interface as wf

DEFAULT_ADDRESS = "localhost:7233"
T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

# The server lost or refused an update before deciding it: the worker died (the update is
# aborted), the server is restarting, or too many updates wait on one case (10 by default).
TRANSIENT = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.DEADLINE_EXCEEDED}
RETRY_FOR = 120.0  # seconds


def _transient(e: RPCError) -> bool:
    # Also refused while the case's workflow task keeps failing (attempt after attempt timed out
    # because its worker died); the next worker gets past it.
    return e.status in TRANSIENT or (
        e.status == RPCStatusCode.FAILED_PRECONDITION and "Workflow Task in failed state" in e.message
    )


async def _retry_transient(call: Callable[[], Awaitable[T]], seconds: float = RETRY_FOR) -> T:
    """Retry a call the server could not decide. Only for calls that are safe to repeat: every
    update is sent with one update id for all attempts, so the server applies it at most once."""
    deadline = time.monotonic() + seconds
    pause = 0.2
    while True:
        try:
            return await call()
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as e:
            transient = isinstance(e, WorkflowUpdateRPCTimeoutOrCancelledError) or _transient(e)
            if not transient or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)


def _command(model: type[cmd._Command], **kwargs: Any) -> Any:
    try:
        return model(**kwargs)
    except ValidationError as e:
        raise Refused(describe(e).replace("invalid request", f"invalid {model.__name__}")) from None


# The start's memo: the update id of the submit that started the case.
SUBMITTED_BY = "submitted_by"


class _Started:
    """Whether an update-with-start of this call started the workflow (any attempt)."""

    def __init__(self) -> None:
        self.started = False


_started: contextvars.ContextVar[_Started | None] = contextvars.ContextVar("returns_started", default=None)


class _StartedOutbound(OutboundInterceptor):
    async def start_update_with_start_workflow(self, input: StartWorkflowUpdateWithStartInput) -> Any:
        box = _started.get()
        if box is not None:
            on_start = input._on_start

            def record(response: StartWorkflowExecutionResponse) -> None:
                box.started = box.started or response.started
                on_start(response)

            input._on_start = record
        return await super().start_update_with_start_workflow(input)


class _StartedInterceptor(Interceptor):
    """temporalio does not say whether update-with-start started the workflow; the server's
    StartWorkflowExecutionResponse.started does, and reaches the client's `_on_start` hook."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _StartedOutbound(next)


def _with_started_flag(client: Client) -> Client:
    config = client.config()
    config["interceptors"] = [*config["interceptors"], _StartedInterceptor()]
    return Client(**config)


class ReturnsClient:
    def __init__(self, client: Client, task_queue: str = wf.TASK_QUEUE, id_prefix: str = "") -> None:
        self.client = client
        self.task_queue = task_queue
        self.id_prefix = id_prefix
        self._submit_client = _with_started_flag(client)

    def case_id(self, return_id: str) -> str:
        return wf.workflow_id(return_id, self.id_prefix)

    @classmethod
    async def connect(cls, address: str | None = None, namespace: str | None = None) -> ReturnsClient:
        client = await Client.connect(
            address or os.environ.get("TEMPORAL_ADDRESS", DEFAULT_ADDRESS),
            namespace=namespace or os.environ.get("TEMPORAL_NAMESPACE", "default"),
            data_converter=data_converter(),
        )
        return cls(client, os.environ.get("RETURNS_TASK_QUEUE", wf.TASK_QUEUE))

    def _handle(self, return_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(self.case_id(return_id))

    async def submit(self, request: ReturnRequest | dict[str, Any] | str | bytes) -> CaseView:
        """Start the case (or find the existing one for this return_id) and answer its view,
        classified, in one round trip (update-with-start)."""
        view, _ = await self.submit_case(request)
        return view

    async def submit_case(
        self, request: ReturnRequest | dict[str, Any] | str | bytes, update_id: str | None = None
    ) -> tuple[CaseView, bool]:
        """As `submit`, and whether this call started the case (False: it existed already).
        `update_id`: the same id on a retry makes the server apply the submit once."""
        req = request if isinstance(request, ReturnRequest) else parse_request(request)
        if req.requested_at is None and req.order.delivered_at > datetime.now(UTC):
            raise InvalidRequest("invalid request: order.delivered_at: is in the future")
        update_id = update_id or f"submit-{uuid.uuid4()}"
        box = _Started()
        token = _started.set(box)
        try:
            with _readable(req.return_id, "the case may have started; "):
                view = await self._submit(req, update_id)
                # An attempt whose answer was lost (an RPC deadline under load) may have started
                # the case: the retry then finds it. The start's memo names the submit that made it.
                started = box.started or await self._started_by(req.return_id, update_id)
        finally:
            _started.reset(token)
        return view, started

    async def _started_by(self, return_id: str, update_id: str) -> bool:
        memo = await (await self._handle(return_id).describe()).memo()
        return bool(memo.get(SUBMITTED_BY) == update_id)

    async def _submit(self, req: ReturnRequest, update_id: str) -> CaseView:
        async def attempt() -> CaseView:
            start: WithStartWorkflowOperation[Any, CaseView] = WithStartWorkflowOperation(
                wf.WORKFLOW,
                wf.StartCase(request=req),
                id=self.case_id(req.return_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # A closed case is never started again: its return_id answers with the closed case.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=list_summary(req),
                memo={SUBMITTED_BY: update_id},
                result_type=CaseView,
            )
            try:
                view: CaseView = await self._submit_client.execute_update_with_start_workflow(
                    wf.SUBMIT, start_workflow_operation=start, id=update_id, result_type=CaseView
                )
                return view
            except Exception as e:  # already started and closed: answer the existing case
                # The SDK set the same error on the start operation's handle; reading it keeps
                # asyncio from logging "Future exception was never retrieved" for every such call.
                with contextlib.suppress(Exception):
                    await start.workflow_handle()
                if _already_started(e):
                    return await self.status(req.return_id)
                raise

        return await _retry_transient(attempt)

    async def status(self, return_id: str) -> CaseView:
        try:
            with _readable(return_id):
                view: CaseView = await self._handle(return_id).query(wf.VIEW, result_type=CaseView)
                return view
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise CaseNotFound(f"no return case {return_id}") from None
            raise

    async def _check_keys(self, return_id: str) -> None:
        """Refuse to act on a case whose start these keys cannot read: the worker could not decode
        an action sealed under a key it lacks, and would fail the case's workflow task over it.
        Reads the first history event from the server (no worker needed, so actions sent while
        workers are down still wait at the server as before)."""
        try:
            with _readable(return_id):
                async for event in self._handle(return_id).fetch_history_events(page_size=1):
                    started = event.workflow_execution_started_event_attributes
                    await self.client.data_converter.decode(started.input.payloads)
                    return
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise CaseNotFound(f"no return case {return_id}") from None
            raise

    async def _update(
        self, return_id: str, update: str, command: Any, update_id: str | None = None
    ) -> CaseView:
        """Apply an action. `update_id`: the same id on a retry (even from another process)
        makes the server apply it once; default a new one per call."""
        await self._check_keys(return_id)
        update_id = update_id or f"{command.action}-{uuid.uuid4()}"
        try:
            with _readable(return_id, f"{command.action} may have been applied; "):
                return await _retry_transient(
                    lambda: self._handle(return_id).execute_update(
                        update, command, id=update_id, result_type=CaseView
                    )
                )
        except WorkflowUpdateFailedError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                raise Refused(cause.message) from None
            raise
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                # The workflow ended: the case is closed, or never existed.
                view = await self.status(return_id)
                raise Refused(
                    f"{command.action} refused for {return_id} (status {view.status}): the case is closed"
                ) from None
            raise

    async def submit_photos(
        self, return_id: str, line_id: str, photos: list[str], *, update_id: str | None = None
    ) -> CaseView:
        c = _command(cmd.SubmitPhotos, line_id=line_id, photos=tuple(photos))
        return await self._update(return_id, wf.SUBMIT_PHOTOS, c, update_id)

    async def choose_resolution(
        self, return_id: str, resolution: str, *, update_id: str | None = None
    ) -> CaseView:
        c = _command(cmd.ChooseResolution, resolution=resolution)
        return await self._update(return_id, wf.CHOOSE_RESOLUTION, c, update_id)

    async def parcel_received(self, return_id: str, *, update_id: str | None = None) -> CaseView:
        return await self._update(return_id, wf.PARCEL_RECEIVED, cmd.ReceiveParcel(), update_id)

    async def inspection_result(
        self, return_id: str, passed: bool, note: str = "", *, update_id: str | None = None
    ) -> CaseView:
        c = _command(cmd.ReportInspection, passed=passed, note=note)
        return await self._update(return_id, wf.INSPECTION_RESULT, c, update_id)

    async def repair_completed(
        self, return_id: str, note: str = "", *, update_id: str | None = None
    ) -> CaseView:
        """The warehouse reports the repair done (contract 7.1)."""
        c = _command(cmd.CompleteRepair, note=note)
        return await self._update(return_id, wf.REPAIR_COMPLETED, c, update_id)

    async def cancel(self, return_id: str, *, update_id: str | None = None) -> CaseView:
        return await self._update(return_id, wf.CANCEL, cmd.CancelCase(), update_id)

    async def override(
        self,
        return_id: str,
        type: str,
        actor: str,
        reason: str,
        kind: str | None = None,
        resolution: str | None = None,
        *,
        update_id: str | None = None,
    ) -> CaseView:
        c = _command(
            cmd.ApplyOverride,
            type=type,
            actor=actor,
            reason=reason,
            kind=kind,
            resolution=resolution,
        )
        return await self._update(return_id, wf.OVERRIDE, c, update_id)

    async def retry_effects(self, return_id: str) -> None:
        """Ops: try again the effects a payment provider refused (after fixing it there). A signal:
        it answers once the server has it; the case details show what happens next."""
        try:
            with _readable(return_id):
                await _retry_transient(lambda: self._handle(return_id).signal(wf.RETRY_EFFECTS))
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                await self.status(return_id)  # CaseNotFound, or a closed case
                raise Refused(f"retry_effects refused for {return_id}: the case is closed") from None
            raise

    async def act(self, return_id: str, action: str, args: dict[str, Any]) -> CaseView:
        """An action by its contract name, as in a case file's timeline."""
        methods = {
            "submit_photos": self.submit_photos,
            "choose_resolution": self.choose_resolution,
            "parcel_received": self.parcel_received,
            "inspection_result": self.inspection_result,
            "repair_completed": self.repair_completed,
            "cancel": self.cancel,
            "override": self.override,
        }
        if action not in methods:
            raise Refused(f"unknown action '{action}'; known: {', '.join(methods)}")
        try:
            return await methods[action](return_id, **args)  # type: ignore[operator,no-any-return]
        except TypeError as e:
            raise Refused(f"invalid arguments for {action}: {e}") from None


class _readable:
    """Turns a payload the keys cannot read (missing or wrong RETURNS_CODEC_KEYS) into one
    PayloadKeyError naming the case, wherever the SDK raises it or wraps it."""

    def __init__(self, return_id: str, effect: str = "") -> None:
        self.return_id = return_id
        self.effect = effect

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: Any) -> None:
        codec_error = _cause(e, CodecError)
        if codec_error is not None:
            raise PayloadKeyError(
                f"cannot read return case {self.return_id}: {self.effect}{codec_error}"
            ) from None


def _cause(e: BaseException | None, kind: type[E]) -> E | None:
    """The first exception of `kind` in e's chain of causes and contexts."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, kind):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _already_started(e: BaseException) -> bool:
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, WorkflowAlreadyStartedError):
            return True
        if isinstance(seen, RPCError) and seen.status == RPCStatusCode.ALREADY_EXISTS:
            return True
        seen = seen.__cause__
    return False


__all__ = ["CaseNotFound", "CaseView", "InvalidRequest", "PayloadKeyError", "Refused", "ReturnsClient"]
