"""Commands a ReturnCase answers: the actions of contract section 3, timers and effect reports.

Their arguments are validated here (field-naming errors before anything reaches a case);
whether an action is allowed in the current state is for `domain.decider.decide`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from domain.assessment import AcceptKind
from domain.events import OverrideType
from domain.policy import Policy
from domain.request import Resolution, ReturnRequest, refuse_nul


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="after")
    def _no_nul(self) -> _Command:
        refuse_nul(self)
        return self


class OpenCase(_Command):
    case_id: str
    request: ReturnRequest
    policy: Policy


class SubmitPhotos(_Command):
    action: Literal["submit_photos"] = "submit_photos"
    line_id: str = Field(min_length=1, max_length=100)
    photos: tuple[str, ...] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _photo_refs(self) -> SubmitPhotos:
        for p in self.photos:
            if not p.strip() or len(p) > 500:
                raise ValueError("photos: each photo reference must be 1 to 500 characters")
        return self


class ChooseResolution(_Command):
    action: Literal["choose_resolution"] = "choose_resolution"
    resolution: Resolution


class ReceiveParcel(_Command):
    action: Literal["parcel_received"] = "parcel_received"


class ReportInspection(_Command):
    action: Literal["inspection_result"] = "inspection_result"
    passed: StrictBool
    note: str = Field("", max_length=2000)


class CompleteRepair(_Command):
    """The warehouse reports the repair done (contract 7.1)."""

    action: Literal["repair_completed"] = "repair_completed"
    note: str = Field("", max_length=2000)


class CancelCase(_Command):
    action: Literal["cancel"] = "cancel"


class ApplyOverride(_Command):
    action: Literal["override"] = "override"
    type: OverrideType
    actor: str = Field(max_length=200)
    reason: str = Field(max_length=2000)
    kind: AcceptKind | None = None
    resolution: Resolution | None = None

    @model_validator(mode="after")
    def _arguments(self) -> ApplyOverride:
        if not self.actor.strip():
            raise ValueError("actor: is required for every override")
        if not self.reason.strip():
            raise ValueError("reason: is required for every override")
        if self.type == "accept" and self.kind is None:
            raise ValueError("kind: accept needs kind return or warranty")
        if self.type == "set_resolution" and self.resolution is None:
            raise ValueError("resolution: set_resolution needs a resolution")
        return self


class Tick(_Command):
    """A timer fired; the decider works out which deadlines have passed."""


class EffectDone(_Command):
    """An effect's ledger or outbox row exists (new or found from an earlier attempt)."""

    key: str


# --- late facts: what may arrive after a case is closed (its workflow may have completed) ------
class MessageFailed(_Command):
    """A customer message the relay could not deliver: the mail server refused it for good (5xx).
    `key` is the message's key (its outbox row), `reason` the server's answer."""

    fact: Literal["message_failed"] = "message_failed"
    key: str = Field(min_length=1, max_length=300)
    template: str = Field(min_length=1, max_length=100)
    reason: str = Field(max_length=2000)


class ConfirmReplacementOrder(_Command):
    """The shop answers a replacement.requested webhook with the id of the order it made."""

    fact: Literal["replacement_order"] = "replacement_order"
    order_id: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _order_id(self) -> ConfirmReplacementOrder:
        if not self.order_id.strip():
            raise ValueError("order_id: must not be blank")
        return self


# The decider accepts these on a closed case too (returns_client.late.tell_case delivers them).
LateFact = MessageFailed | ConfirmReplacementOrder

Action = (
    SubmitPhotos
    | ChooseResolution
    | ReceiveParcel
    | ReportInspection
    | CompleteRepair
    | CancelCase
    | ApplyOverride
)
Command = OpenCase | Action | Tick | EffectDone | LateFact
