"""The webshop's Python client for return cases.

    from returns_client import ReturnsClient, Refused, InvalidRequest, CaseNotFound, PayloadKeyError

    returns = await ReturnsClient.connect()      # TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE
    view = await returns.submit(request_dict)    # InvalidRequest names the field; nothing starts

Errors: InvalidRequest (the request is invalid, nothing started), Refused (the action is not
allowed now, nothing changed), CaseNotFound, PayloadKeyError (RETURNS_CODEC_KEYS missing or
wrong). Importing it loads pydantic, temporalio and the domain models only.
"""

from domain.request import ReturnRequest
from domain.view import CaseView
from returns_client.client import ReturnsClient
from returns_client.errors import CaseNotFound, InvalidRequest, PayloadKeyError, Refused

__all__ = [
    "CaseNotFound",
    "CaseView",
    "InvalidRequest",
    "PayloadKeyError",
    "Refused",
    "ReturnRequest",
    "ReturnsClient",
]
