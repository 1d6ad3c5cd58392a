"""ReturnCase workflow: one per return. It orchestrates and nothing else: the decider says what
happens, the event store records it, activities carry out the effects it calls for."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.event_store import AppendEvents, EventEnvelope, EventStoreActivities
    from activities.policy import PolicyActivities
    from domain import commands as cmd
    from domain.case import ReturnCase, fold
    from domain.decider import Refused, decide, next_timer
    from domain.details import RefusedOverride, RefusedOverrides, attention_reasons, case_details
    from domain.effect_registry import route
    from domain.effects import CustomerMessage, Effect
    from domain.events import event_from_json, event_to_json
    from domain.outbox import queued_messages, with_messages_queued
    from domain.policy import before_2026
    from domain.request import describe
    from domain.summary import summarize
    from domain.view import CaseView, case_view
    from workflows.interface import RECORD_FACT, RETRY_EFFECTS, WORKFLOW, StartCase
    from workflows.metrics import record_transition
    from workflows.search_attributes import search_attribute_updates

LOCAL = timedelta(seconds=10)
# Outside systems may be down for long; effects retry until they succeed, never twice (keys).
EFFECT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))
# One attempt of an effect, local or regular (a provider call; the adapters' own timeouts are 20 s).
EFFECT_TIMEOUT = timedelta(seconds=30)
# After this many failed attempts the case shows NeedsAttention while the effect keeps retrying.
EFFECT_FIRST_TRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=4)
# Search attributes, NeedsAttention on failing effects and the request_override signal came after
# the first release; histories from before have none of their commands.
OPS_VISIBILITY = "ops-visibility"
# Appends that answer a retried batch with the events an earlier attempt committed.
ADOPT_RECORDED_EVENTS = "adopt-recorded-events"
# Contract 7 (repair, withdrawal, delivery costs, return fee). A case begun before it is decided
# under its policy as recorded then: no repair offered, no return fee. Every command it added
# (the repair order activity, the repair timer, the awaiting_repair upsert) follows only from
# those settings or from request fields earlier requests could not have (delivery_price, reason
# withdrawal), so this one marker keeps every earlier history replaying as recorded.
EU_2026 = "eu-2026"
# A refund the payment provider refuses (PaymentRefused, non-retryable) flags the case with the
# provider's message and waits for ops' retry_effects, instead of failing the workflow.
PAYMENT_REFUSALS = "payment-refusals"
PAYMENT_REFUSED = "PaymentRefused"  # activities.effects.PAYMENT_REFUSED
# Issue 12: customer messages are outbox rows written by the append of the batch that calls for
# them, with their message_sent in that batch, instead of a send_message activity and a second
# append each. Old histories keep the activity.
MESSAGE_OUTBOX = "message-outbox"
# Issue 15: search attributes are upserted once per workflow task, where the workflow waits (for
# a signal, an update, a timer or a regular activity) or ends, instead of after every recorded
# change: a task that opened a case and appended an effect's done batch upserted 2-3 times (each
# an UpsertWorkflowSearchAttributes event the server indexes). Old histories upsert per change.
# It also stands for every patch above: a history recorded with it never asks for those (see
# _patched), since each patch a run asks for costs a marker and an upsert of the
# TemporalChangeVersion search attribute (the SDK's core adds one per patch): five of each in a
# case's first task. A history without it asks for each earlier patch as it did.
SEARCH_ATTRIBUTES_PER_TASK = "search-attributes-per-task"
# Issue 15: an effect's first attempt is a local activity, inside the workflow task that decided
# it, so a refund or credit that succeeds at once costs no activity task and no workflow task
# for its completion (the bare workflow's shape). One that fails goes on as a regular activity,
# retried for days as before; its key keeps it once whichever attempt lands.
EFFECTS_LOCAL_FIRST = "effects-local-first"
EVENT_IDS = uuid.UUID("6f1d2c8e-3b7a-5e41-9c0d-8a2f4b6e1d37")


def event_id(run_id: str, stream_version: int) -> uuid.UUID:
    """The id of the event a run appends at a stream version. Not workflow.uuid4(): a task retried
    after its append committed may decide a batch of another length (a timer came due meanwhile),
    and sequence-drawn ids would then shift the next batch onto ids already stored. Derived from
    the version, each batch's ids find the one recorded at its place, which append_once adopts.
    The run id keeps a new run on an old stream (a fresh Temporal server) a conflict, not a match.
    Ids are activity input, not commands, so histories recorded with drawn ids still replay."""
    return uuid.uuid5(EVENT_IDS, f"{run_id}/{stream_version}")


@workflow.defn(name=WORKFLOW)
class ReturnCaseWorkflow:
    def __init__(self) -> None:
        self._case: ReturnCase | None = None
        self._opened = False
        self._changed = False
        self._failing: list[str] = []  # summaries of effects that keep failing, for ops
        self._refused = RefusedOverrides()
        self._retries_asked = 0  # ops' retry_effects signals received
        self._search_attributes: list[Any] = []
        self._pending_attributes: list[Any] | None = None  # to upsert where the task ends
        # Updates, timers and effects take turns: each decides on the state the previous one left.
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, start: StartCase) -> CaseView:
        policy = await workflow.execute_local_activity_method(
            PolicyActivities.load_policy, start_to_close_timeout=LOCAL
        )
        if not _patched(EU_2026):
            policy = before_2026(policy)
        async with self._lock:
            case_id = workflow.info().workflow_id
            await self._handle(cmd.OpenCase(case_id=case_id, request=start.request, policy=policy))
        self._opened = True
        while True:
            case = self._require_case()
            if case.closed and not case.pending_effects:
                break
            timer = next_timer(case)
            self._changed = False
            if timer is not None and timer.at <= workflow.now():
                async with self._lock:
                    await self._handle(cmd.Tick())
                continue
            self._upsert_pending()
            try:
                await workflow.wait_condition(
                    lambda: self._changed,
                    timeout=(timer.at - workflow.now()) if timer else None,
                    timeout_summary=timer.summary(workflow.now()) if timer else None,
                )
            except TimeoutError:
                async with self._lock:
                    await self._handle(cmd.Tick())
        self._upsert_pending()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._upsert_pending()
        return case_view(self._require_case())

    # --- webshop, warehouse and ops ------------------------------------------------------------
    @workflow.update
    async def submit(self) -> CaseView:
        """The answer to update-with-start: the classified case, once its first message is out."""
        await workflow.wait_condition(lambda: self._opened)
        return case_view(self._require_case())

    @workflow.update
    async def submit_photos(self, c: cmd.SubmitPhotos) -> CaseView:
        return await self._act(c)

    @workflow.update
    async def choose_resolution(self, c: cmd.ChooseResolution) -> CaseView:
        return await self._act(c)

    @workflow.update
    async def parcel_received(self, c: cmd.ReceiveParcel) -> CaseView:
        return await self._act(c)

    @workflow.update
    async def inspection_result(self, c: cmd.ReportInspection) -> CaseView:
        return await self._act(c)

    @workflow.update
    async def repair_completed(self, c: cmd.CompleteRepair) -> CaseView:
        return await self._act(c)

    @workflow.update
    async def cancel(self, c: cmd.CancelCase) -> CaseView:
        return await self._act(c)

    @workflow.update
    async def override(self, c: cmd.ApplyOverride) -> CaseView:
        return await self._act(c)

    # Validators: a refused action is rejected before it reaches history.
    @submit_photos.validator
    def _validate_submit_photos(self, c: cmd.SubmitPhotos) -> None:
        self._decide(c)

    @choose_resolution.validator
    def _validate_choose_resolution(self, c: cmd.ChooseResolution) -> None:
        self._decide(c)

    @parcel_received.validator
    def _validate_parcel_received(self, c: cmd.ReceiveParcel) -> None:
        self._decide(c)

    @inspection_result.validator
    def _validate_inspection_result(self, c: cmd.ReportInspection) -> None:
        self._decide(c)

    @repair_completed.validator
    def _validate_repair_completed(self, c: cmd.CompleteRepair) -> None:
        self._decide(c)

    @cancel.validator
    def _validate_cancel(self, c: cmd.CancelCase) -> None:
        self._decide(c)

    @override.validator
    def _validate_override(self, c: cmd.ApplyOverride) -> None:
        self._decide(c)

    # A late fact (returns_client.late.tell_case). An update no earlier history received, so it
    # changes no recorded command and needs no patch; once the workflow has completed, tell_case
    # appends to the stream itself.
    @workflow.update(name=RECORD_FACT)
    async def record_fact(self, fact: cmd.LateFact) -> CaseView:
        return await self._act(fact)

    @record_fact.validator
    def _validate_record_fact(self, fact: cmd.LateFact) -> None:
        self._decide(fact)

    @workflow.signal
    async def request_override(self, raw: Any) -> None:
        """An override for ops who act from the Temporal UI, which sends signals. A signal cannot
        answer, so a refused one is listed in the case details instead of being dropped."""
        await workflow.wait_condition(lambda: self._opened)
        async with self._lock:
            try:
                c = cmd.ApplyOverride.model_validate(raw)
                self._decide(c)
            except (ValidationError, ApplicationError) as e:
                reason = (
                    describe(e).removeprefix("invalid request: ")
                    if isinstance(e, ValidationError)
                    else e.message
                )
                fields = raw if isinstance(raw, dict) else {}
                self._refused = self._refused.add(
                    RefusedOverride(
                        at=workflow.now(),
                        actor=str(fields.get("actor", "")),
                        type=str(fields.get("type", "")),
                        reason=reason,
                    )
                )
                workflow.logger.warning("override signal refused: %s", reason)
                self._publish()
                self._upsert_pending()  # the run loop is not woken by a refusal
                return
            await self._handle(c)

    @workflow.query
    def view(self) -> CaseView:
        return case_view(self._require_case())

    # --- orchestration ---------------------------------------------------------------------------
    def _require_case(self) -> ReturnCase:
        if self._case is None:
            raise ApplicationError("the case is still being opened", type="Refused", non_retryable=True)
        return self._case

    def _decide(self, c: cmd.Command) -> list[Any]:
        try:
            return decide(self._case, c, workflow.now())
        except Refused as e:
            raise ApplicationError(str(e), type="Refused", non_retryable=True) from None

    async def _act(self, c: cmd.Action | cmd.LateFact) -> CaseView:
        await workflow.wait_condition(lambda: self._opened)
        async with self._lock:
            await self._handle(c)
            return case_view(self._require_case())

    async def _handle(self, c: cmd.Command) -> None:
        """Decide, record, then carry out every effect the new events call for."""
        await self._record(self._decide(c))
        while self._case is not None and self._case.pending_effects:
            effect = self._case.pending_effects[0]
            await self._carry_out(effect)
            await self._record(self._decide(cmd.EffectDone(key=effect.key)))

    async def _record(self, events: list[Any]) -> None:
        if not events:
            return
        outbox: tuple[CustomerMessage, ...] = ()
        if queued_messages(fold(events, self._case)) and _patched(MESSAGE_OUTBOX):
            events, outbox = with_messages_queued(self._case, events, workflow.now())
        after = fold(events, self._case)
        assert after is not None
        version = self._case.version if self._case else 0
        run_id = workflow.info().run_id
        req = AppendEvents(
            stream_id=after.case_id,
            expected_version=version,
            events=[
                EventEnvelope(event_id=event_id(run_id, version + n), type=e.type, data=event_to_json(e))
                for n, e in enumerate(events, 1)
            ],
            summary=summarize(after),
            outbox=list(outbox),
        )
        if _patched(ADOPT_RECORDED_EVENTS):
            appended = await workflow.execute_local_activity_method(
                EventStoreActivities.append_events_once, req, start_to_close_timeout=LOCAL
            )
            if appended.recorded:
                # A worker died after this batch was committed but before Temporal recorded the
                # task; the retry decided again at a later now(). The store's record wins.
                after = fold((event_from_json(e.data) for e in appended.recorded), self._case)
                assert after is not None
        else:
            await workflow.execute_local_activity_method(
                EventStoreActivities.append_events, req, start_to_close_timeout=LOCAL
            )
        record_transition(self._case, after)
        self._case = after
        self._changed = True
        self._publish()

    def _publish(self) -> None:
        """Keep what ops see in the UI current: search attributes and the Markdown details."""
        case = self._require_case()
        failing = [*self._failing]
        workflow.set_current_details(case_details(case, failing, self._refused))
        if _patched(OPS_VISIBILITY):
            attrs = search_attribute_updates(summarize(case), bool(attention_reasons(case, failing)))
            if _patched(SEARCH_ATTRIBUTES_PER_TASK):
                self._pending_attributes = attrs  # upserted where the task ends (_upsert_pending)
            elif attrs != self._search_attributes:  # one upsert per change, not per event
                workflow.upsert_search_attributes(attrs)
                self._search_attributes = attrs

    def _upsert_pending(self) -> None:
        """The search attributes _publish left, upserted if they changed. Called where the
        workflow task ends: before the workflow waits for anything but a local activity (local
        activities run inside the task, so every change they bring joins this one upsert) and
        before it returns."""
        attrs, self._pending_attributes = self._pending_attributes, None
        if attrs is not None and attrs != self._search_attributes:
            workflow.upsert_search_attributes(attrs)
            self._search_attributes = attrs

    async def _carry_out(self, effect: Effect) -> None:
        """Run the effect's activity; if it keeps failing, flag the case for ops and keep trying.
        If the provider refuses it, flag the case with the provider's message and wait for ops."""
        if not _patched(OPS_VISIBILITY):
            await self._run_effect(effect, EFFECT_RETRY)
            return
        if _patched(EFFECTS_LOCAL_FIRST):
            try:
                await self._run_effect_locally(effect)
                return
            # A local activity's failure may arrive unwrapped: the ApplicationError itself.
            except (ActivityError, ApplicationError) as e:
                refusal = _refusal(e)
                if refusal is not None:
                    await self._wait_for_ops(effect, refusal)
                # else the regular activity below tries again, and flags the case if it keeps failing
        retry = EFFECT_FIRST_TRY
        while True:
            try:
                await self._run_effect(effect, retry)
            except ActivityError as e:
                refusal = _refusal(e)
                if refusal is None or not _patched(PAYMENT_REFUSALS):
                    if retry is EFFECT_RETRY:
                        raise
                    workflow.logger.warning("effect %s failing, retrying: %s", effect.key, e.cause or e)
                    self._failing.append(route(effect).summary)
                    self._publish()
                    retry = EFFECT_RETRY
                    continue
                if retry is EFFECT_RETRY:
                    self._failing.remove(route(effect).summary)
                await self._wait_for_ops(effect, refusal)
                retry = EFFECT_FIRST_TRY
                continue
            if retry is EFFECT_RETRY:
                self._failing.remove(route(effect).summary)
                self._publish()
            return

    async def _wait_for_ops(self, effect: Effect, refusal: str) -> None:
        """A refused effect: shown to ops with the provider's message until they ask to retry
        (signal retry_effects, or POST /v1/returns/{id}/retry-effects)."""
        workflow.logger.warning("effect %s refused by the provider: %s", effect.key, refusal)
        flag = f"{route(effect).summary}: refused: {refusal} (fix it at the provider, then retry_effects)"
        self._failing.append(flag)
        self._publish()
        self._upsert_pending()
        asked = self._retries_asked
        await workflow.wait_condition(lambda: self._retries_asked > asked)
        self._failing.remove(flag)
        self._publish()

    @workflow.signal(name=RETRY_EFFECTS)
    def retry_effects(self) -> None:
        """Ops: try the effects the provider refused again (after fixing them at the provider)."""
        self._retries_asked += 1

    async def _run_effect(self, effect: Effect, retry: RetryPolicy) -> None:
        # The activity by its registered name: the same command the typed method call gave.
        r = route(effect)
        self._upsert_pending()  # the task ends here: ops see the state the effect waits in
        await workflow.execute_activity(
            r.activity,
            effect,
            result_type=bool,
            start_to_close_timeout=EFFECT_TIMEOUT,
            retry_policy=retry,
            summary=r.summary,
        )

    async def _run_effect_locally(self, effect: Effect) -> None:
        """One attempt inside this workflow task (no activity task, no task for its result)."""
        r = route(effect)
        await workflow.execute_local_activity(
            r.activity,
            effect,
            result_type=bool,
            start_to_close_timeout=EFFECT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=1),
            summary=r.summary,
        )


# Newest first: a run recorded with a patch of this list never asks for the ones after it.
_STANDING_FOR_EARLIER = (EFFECTS_LOCAL_FIRST, SEARCH_ATTRIBUTES_PER_TASK)


def _patched(patch_id: str) -> bool:
    """workflow.patched, asking the newest patch first: true in a run recorded with it, which never
    asks for the earlier ones (one marker and one TemporalChangeVersion upsert a run instead of
    one per patch); otherwise the answer of the newest patch such a run has, or the patch's own."""
    for newer in _STANDING_FOR_EARLIER:
        if workflow.patched(newer):
            return True
        if newer == patch_id:
            return False
    return workflow.patched(patch_id)


def _refusal(e: ActivityError | ApplicationError) -> str | None:
    """The provider's message when the activity failed because the provider refused the effect."""
    cause = e.cause if isinstance(e, ActivityError) else e
    if isinstance(cause, ApplicationError) and cause.type == PAYMENT_REFUSED:
        return cause.message
    return None
