"""The search attributes ops filter on in the Temporal UI, kept current by the ReturnCase workflow.
One definition serves the workflow, the embedded stack, the test servers and docker-compose."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.service import RPCError, RPCStatusCode

from domain.summary import CaseSummary

RETURN_STATUS = SearchAttributeKey.for_keyword("ReturnStatus")
RETURN_KIND = SearchAttributeKey.for_keyword("ReturnKind")
RESOLUTION = SearchAttributeKey.for_keyword("Resolution")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
RETURN_TOTAL = SearchAttributeKey.for_float("ReturnTotal")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")

# Name -> type as `temporal server start-dev --search-attribute` and `temporal operator` spell it.
SEARCH_ATTRIBUTES = {
    RETURN_STATUS.name: "Keyword",
    RETURN_KIND.name: "Keyword",
    RESOLUTION.name: "Keyword",
    ORDER_ID.name: "Keyword",
    CUSTOMER_ID.name: "Keyword",
    RETURN_TOTAL.name: "Double",
    NEEDS_ATTENTION.name: "Bool",
}
_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


def search_attribute_updates(summary: CaseSummary, needs_attention: bool) -> list[SearchAttributeUpdate[Any]]:
    return [
        RETURN_STATUS.value_set(summary.status),
        RETURN_KIND.value_set(summary.kind),
        RESOLUTION.value_set(summary.resolution) if summary.resolution else RESOLUTION.value_unset(),
        ORDER_ID.value_set(summary.order_id),
        CUSTOMER_ID.value_set(summary.customer_id),
        RETURN_TOTAL.value_set(float(summary.total)),
        NEEDS_ATTENTION.value_set(needs_attention),
    ]


async def register_search_attributes(client: Client) -> None:
    """For servers that do not take them on the command line (the time-skipping test server)."""
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={name: _INDEXED[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
            )
        )
    except RPCError as e:
        if e.status != RPCStatusCode.ALREADY_EXISTS:
            raise
