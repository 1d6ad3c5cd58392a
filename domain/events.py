"""Domain events of a ReturnCase: the only source of its state (see `domain.case.evolve`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from domain.assessment import AcceptKind, Assessment
from domain.money import Money
from domain.policy import Policy
from domain.request import STORED, Resolution, ReturnRequest
from domain.upcasting import UPCASTERS, Upcasters

Need = Literal["photos", "choice", "parcel", "inspection", "repair"]
OverrideType = Literal[
    "accept", "waive_photos", "waive_deduction", "set_resolution", "approve_inspection", "cancel"
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    at: datetime


class CaseAssessed(_Event):
    """Intake: the request, the policy it was decided under, and the Assessment."""

    type: Literal["case_assessed"] = "case_assessed"
    case_id: str  # the durable identity of this case: its workflow id and event stream
    return_id: str
    request: ReturnRequest
    policy: Policy
    assessment: Assessment
    resolution: Resolution | None


class CaseReassessed(_Event):
    type: Literal["case_reassessed"] = "case_reassessed"
    assessment: Assessment
    resolution: Resolution | None


class CaseRejected(_Event):
    type: Literal["case_rejected"] = "case_rejected"


class PhotosSubmitted(_Event):
    type: Literal["photos_submitted"] = "photos_submitted"
    line_id: str
    photos: tuple[str, ...]


class ResolutionChosen(_Event):
    type: Literal["resolution_chosen"] = "resolution_chosen"
    resolution: Resolution


class ResolutionDefaulted(_Event):
    """No choice within choice_due_days: the legal default, refund to the original payment method."""

    type: Literal["resolution_defaulted"] = "resolution_defaulted"
    resolution: Literal["refund"] = "refund"


class ParcelReceived(_Event):
    type: Literal["parcel_received"] = "parcel_received"


class InspectionPassed(_Event):
    type: Literal["inspection_passed"] = "inspection_passed"
    note: str = ""
    automatic: bool = False


class InspectionFailed(_Event):
    type: Literal["inspection_failed"] = "inspection_failed"
    note: str = ""


class ReminderDue(_Event):
    type: Literal["reminder_due"] = "reminder_due"
    needs: tuple[Need, ...]


class CaseExpired(_Event):
    type: Literal["case_expired"] = "case_expired"
    need: Need


class CaseCancelled(_Event):
    type: Literal["case_cancelled"] = "case_cancelled"
    by: Literal["customer", "ops"]


class OverrideApplied(_Event):
    type: Literal["override_applied"] = "override_applied"
    override: OverrideType
    actor: str
    reason: str
    kind: AcceptKind | None = None
    resolution: Resolution | None = None


class CaseResolved(_Event):
    """All needs met: what will be paid out, exactly the quote."""

    type: Literal["case_resolved"] = "case_resolved"
    resolution: Resolution
    refund: Money
    store_credit: Money
    replace: tuple[str, ...]
    revoke: tuple[str, ...]


class RepairOrderPlaced(_Event):
    """Resolution repair and every other need met (contract 7.1): the repair order goes out and
    the case awaits repair."""

    type: Literal["repair_order_placed"] = "repair_order_placed"
    line_ids: tuple[str, ...]


class RepairOverdue(_Event):
    """No repair_completed within repair_due_days of the repair order: ops' attention."""

    type: Literal["repair_overdue"] = "repair_overdue"


class RepairCompleted(_Event):
    type: Literal["repair_completed"] = "repair_completed"
    note: str = ""


class AppealWindowClosed(_Event):
    type: Literal["appeal_window_closed"] = "appeal_window_closed"


# Effects done: each names the idempotency key of the ledger or outbox row it wrote.
class RefundIssued(_Event):
    type: Literal["refund_issued"] = "refund_issued"
    key: str
    amount: Money


class StoreCreditIssued(_Event):
    type: Literal["store_credit_issued"] = "store_credit_issued"
    key: str
    amount: Money


class ReplacementOrdered(_Event):
    type: Literal["replacement_ordered"] = "replacement_ordered"
    key: str
    line_ids: tuple[str, ...]


class RepairOrdered(_Event):
    type: Literal["repair_ordered"] = "repair_ordered"
    key: str
    line_ids: tuple[str, ...]


class LicenceRevoked(_Event):
    type: Literal["licence_revoked"] = "licence_revoked"
    key: str
    line_id: str


class MessageSent(_Event):
    type: Literal["message_sent"] = "message_sent"
    key: str
    template: str


# Late facts: recorded on a case even after it closed (domain.commands.LateFact).
class MessageFailed(_Event):
    """A customer message refused for good by the mail server: ops must reach the customer."""

    type: Literal["message_failed"] = "message_failed"
    key: str
    template: str
    reason: str


class ReplacementOrderConfirmed(_Event):
    """The shop's own order for the replacement (its answer to replacement.requested)."""

    type: Literal["replacement_order_confirmed"] = "replacement_order_confirmed"
    order_id: str


Event = Annotated[
    CaseAssessed
    | CaseReassessed
    | CaseRejected
    | PhotosSubmitted
    | ResolutionChosen
    | ResolutionDefaulted
    | ParcelReceived
    | InspectionPassed
    | InspectionFailed
    | ReminderDue
    | CaseExpired
    | CaseCancelled
    | OverrideApplied
    | CaseResolved
    | RepairOrderPlaced
    | RepairOverdue
    | RepairCompleted
    | AppealWindowClosed
    | RefundIssued
    | StoreCreditIssued
    | ReplacementOrdered
    | RepairOrdered
    | LicenceRevoked
    | MessageSent
    | MessageFailed
    | ReplacementOrderConfirmed,
    Field(discriminator="type"),
]
EVENT = TypeAdapter(Event)


def event_to_json(event: Event) -> dict[str, Any]:
    """What is stored of an event: its fields and its type's current schema version."""
    return UPCASTERS.stamp(event.model_dump(mode="json"))


def event_from_json(data: Mapping[str, Any], upcasters: Upcasters = UPCASTERS) -> Event:
    """The one way stored events are read (the fold of a stream, the read model's rebuild, the
    workflow adopting recorded events): any stored version, upcast, as the current model."""
    return EVENT.validate_python(upcasters.upcast(data), context=STORED)
