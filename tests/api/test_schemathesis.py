"""Schemathesis against the running API's own OpenAPI document: every operation, with a valid
key of its role; no 5xx, and every answer conforms to the document (status, content type,
schema). Prints the operations and how many examples each got."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

# Imported here, on the main thread: schemathesis loads it lazily, inside the fuzzing thread, and
# pytest rewrites schemathesis (a pytest plugin) with `ast` as it loads. CPython 3.11.7 shares the
# ast module's recursion counter between threads, so that import raised "AST constructor recursion
# depth mismatch" while the server's thread used ast too (seen once in a fresh-clone run).
from schemathesis.specs.openapi import schemas as _loaded_before_the_thread  # noqa: F401
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 25  # per operation: the whole run stays well under a minute
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLE_OF = {
    "submit": "webshop",
    "photos": "webshop",
    "choice": "webshop",
    "cancel": "webshop",
    "parcel": "warehouse",
    "inspection": "warehouse",
    "repair": "warehouse",
    "overrides": "ops",
    "replacement_order": "webshop",
    "status": "ops",
    "list": "webshop",
    # /v1/webhooks (webshop and ops keys)
    "webhooks_create_endpoint": "webshop",
    "webhooks_list_endpoints": "ops",
    "webhooks_get_endpoint": "webshop",
    "webhooks_change_endpoint": "ops",
    "webhooks_delete_endpoint": "webshop",
    "webhooks_rotate_secret": "webshop",
    "webhooks_redeliver": "ops",
    "webhooks_deliveries": "webshop",
    # /v1/customers (ops): customers the session's cases do not have (no case, nothing deleted)
    "erase": "ops",
    "export": "ops",
    # store credit (webshop and ops): random customers, so only credit of none is redeemed
    "balance": "webshop",
    "redeem": "ops",
    # payments/api.py: a case's refunds (webshop and ops), ops' retry of a refused refund
    "refunds": "webshop",
    "retry_effects": "ops",
    # mail/api.py: a case's messages and their delivery state (webshop and ops)
    "messages": "webshop",
    # photos/api.py: a customer's photo of a case, by its reference's key (webshop and ops)
    "photo": "ops",
    # ops/api.py: the ops overview's figures (ops only)
    "ops_overview": "ops",
}


def fuzz(url: str, keys: dict[str, str]) -> tuple[Counter[str], Counter[tuple[str, int]]]:
    """Runs in a thread: the server shares the test's event loop, which must keep serving."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    examples: Counter[str] = Counter()
    statuses: Counter[tuple[str, int]] = Counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document has an invalid operation: {result}"
        operation = result.ok()
        name = operation.definition.raw["operationId"]
        fuzz_operation(operation, url, name, keys[ROLE_OF[name]], examples, statuses)
    return examples, statuses


def fuzz_operation(
    operation: Any,
    url: str,
    name: str,
    key: str,
    examples: Counter[str],
    statuses: Counter[tuple[str, int]],
) -> None:
    headers = {"Authorization": f"Bearer {key}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=60)
        examples[name] += 1
        statuses[(name, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    run()


async def test_every_operation_answers_per_its_document_and_never_5xx(
    api: str, keys: dict[str, str], http: httpx.AsyncClient
) -> None:
    examples, statuses = await asyncio.to_thread(fuzz, api, keys)
    doc = (await http.get("/openapi.json")).json()
    operations = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert set(examples) == operations == set(ROLE_OF)
    for name in sorted(examples):
        answers = ", ".join(f"{s}x{n}" for (op, s), n in sorted(statuses.items()) if op == name)
        print(f"schemathesis {name}: {examples[name]} examples ({answers})")
    assert all(code < 500 for (_, code) in statuses)
