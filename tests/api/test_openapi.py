"""The committed openapi.json is the API's document: any change to the API shows as a diff."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from api.__main__ import openapi_text

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"
REGENERATE = "the API changed: regenerate with `.venv/bin/python -m api openapi > openapi.json` and commit it"


def test_committed_openapi_json_is_the_generated_document() -> None:
    assert COMMITTED.read_text() == openapi_text(), REGENERATE


def test_the_document_is_openapi_3_1_with_problems_and_the_bearer_scheme() -> None:
    doc = json.loads(COMMITTED.read_text())
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "description": "Authorization: Bearer rk_...",
        "scheme": "bearer",
    }
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            responses = op["responses"]
            assert {"401", "403", "422"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)


async def test_the_live_document_is_the_committed_one(http: httpx.AsyncClient) -> None:
    live = await http.get("/openapi.json")
    assert live.status_code == 200
    assert live.json() == json.loads(COMMITTED.read_text()), REGENERATE
    docs = await http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
