"""The ReturnCase workflow as its callers see it: names, ids and argument models.

Clients (the webshop's Python client, the CLI, the HTTP API) import this module and never the
workflow itself, so they carry no activities, store or asyncpg. The workflow takes its names
from here, so the two cannot drift apart.
"""

from __future__ import annotations

from pydantic import BaseModel

from domain.request import ReturnRequest

WORKFLOW = "ReturnCase"
TASK_QUEUE = "returns"
# Update names: the contract's action names.
SUBMIT = "submit"
SUBMIT_PHOTOS = "submit_photos"
CHOOSE_RESOLUTION = "choose_resolution"
PARCEL_RECEIVED = "parcel_received"
INSPECTION_RESULT = "inspection_result"
REPAIR_COMPLETED = "repair_completed"
CANCEL = "cancel"
OVERRIDE = "override"
# Late facts (domain.commands.LateFact): a failed message, the shop's replacement order id.
# Callers go through returns_client.late.tell_case, which also reaches a completed case.
RECORD_FACT = "record_fact"
VIEW = "view"  # query
REQUEST_OVERRIDE = "request_override"  # signal, for ops acting from the Temporal UI


def workflow_id(return_id: str, prefix: str = "") -> str:
    """Also the event stream id; a prefix keeps simulations apart from each other."""
    return f"{prefix}return-{return_id}"


class StartCase(BaseModel):
    request: ReturnRequest
