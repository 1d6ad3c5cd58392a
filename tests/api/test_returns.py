"""The routes of /v1/returns against the real workflow: submit 201 then 200, every action, the
errors as problems (422 with the CLI's text, 409 with the status, 404, 413), the list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from api.problems import MEDIA_TYPE
from domain.request import parse_request
from payload.codec import Keyring
from payload.converter import data_converter
from returns_client import ReturnsClient
from tests.api.conftest import auth
from tests.conftest import run_script
from tests.workflow.test_repair import printer
from tests.workflow.test_return_case import shipped_toner, toner
from workflows import interface as wf


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_submit_answers_201_for_a_new_case_then_200_with_the_same_view(
    http: httpx.AsyncClient, keys: dict[str, str], returns: ReturnsClient
) -> None:
    req = toner()
    first = await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "awaiting_photos"
    again = await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert (await returns.status(req["return_id"])).model_dump(mode="json") == first.json()
    got = await http.get(f"/v1/returns/{req['return_id']}", headers=auth(keys["warehouse"]))
    assert got.status_code == 200 and got.json() == first.json()


async def test_every_action_drives_a_printer_to_a_repair(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    req = printer()
    req["items"][0]["photos"] = []
    rid = req["return_id"]
    shop, warehouse = auth(keys["webshop"]), auth(keys["warehouse"])
    r = await http.post("/v1/returns", json=req, headers=shop)
    assert r.json()["status"] == "awaiting_photos"
    steps: list[tuple[str, dict[str, str], dict[str, Any] | None, str]] = [
        ("photos", shop, {"line_id": "L1", "photos": ["jam.jpg"]}, "awaiting_parcel"),
        ("choice", shop, {"resolution": "repair"}, "awaiting_parcel"),  # repair was preferred
        ("parcel", warehouse, None, "awaiting_inspection"),
        ("inspection", warehouse, {"passed": True, "note": "feed worn"}, "awaiting_repair"),
        ("repair", warehouse, {"note": "rollers replaced"}, "resolved"),
    ]
    for action, headers, body, status in steps:
        r = await http.post(f"/v1/returns/{rid}/{action}", json=body, headers=headers)
        assert r.status_code == 200, (action, r.text)
        assert r.json()["status"] == status, action


async def test_cancel_and_an_ops_override_record_the_keys_actor(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    waived, cancelled = toner(), toner()
    for req in (waived, cancelled):
        await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))
    r = await http.post(
        f"/v1/returns/{waived['return_id']}/overrides",
        json={"type": "waive_photos", "reason": "photo by phone"},
        headers=auth(keys["ops"]),
    )
    assert r.status_code == 200, r.text
    assert [(o["actor"], o["reason"]) for o in r.json()["overrides"]] == [("ops:anna", "photo by phone")]
    r = await http.post(f"/v1/returns/{cancelled['return_id']}/cancel", headers=auth(keys["webshop"]))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


async def test_an_actor_in_the_override_body_is_refused(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    req = toner()
    await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))
    r = await http.post(
        f"/v1/returns/{req['return_id']}/overrides",
        json={"type": "waive_photos", "reason": "r", "actor": "ops:mallory"},
        headers=auth(keys["ops"]),
    )
    body = problem(r, 422)
    assert body["detail"] == "invalid ApplyOverride: actor: unknown field"
    assert body["errors"] == [{"field": "actor", "message": "unknown field"}]


async def test_a_refused_action_is_409_with_the_refusal_and_the_current_status(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    req = shipped_toner()
    rid = req["return_id"]
    await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))
    r = await http.post(
        f"/v1/returns/{rid}/inspection", json={"passed": True}, headers=auth(keys["warehouse"])
    )
    body = problem(r, 409)
    assert body["detail"] == (
        f"inspection_result refused for {rid} (status awaiting_photos): the case is not awaiting inspection"
    )
    assert body["current_status"] == "awaiting_photos"


async def test_an_unknown_case_is_404(http: httpx.AsyncClient, keys: dict[str, str]) -> None:
    r = await http.get("/v1/returns/R-NOPE-404", headers=auth(keys["ops"]))
    assert problem(r, 404)["detail"] == "no return case R-NOPE-404"
    r = await http.post("/v1/returns/R-NOPE-404/parcel", headers=auth(keys["warehouse"]))
    problem(r, 404)
    problem(await http.get("/v2/nothing"), 404)


async def test_invalid_bodies_are_422_with_the_cli_text(
    http: httpx.AsyncClient, keys: dict[str, str], tmp_path: Path
) -> None:
    req = toner()
    del req["order"]["customer"]["email"]
    req["items"][0]["reason"] = "bored"
    req["surprise"] = 1
    req["locale"] = "fr"
    r = await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))
    body = problem(r, 422)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(req))
    cli = await run_script(None, "starter.py", "submit", str(bad))
    assert cli.returncode == 2
    assert body["detail"] == cli.stderr.strip()
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["order.customer.email", "items[0].reason", "locale", "surprise"]
    assert {"field": "locale", "message": "Input should be 'nl' or 'en'"} in body["errors"]
    assert {"field": "surprise", "message": "unknown field"} in body["errors"]
    r = await http.post(
        "/v1/returns",
        content=b"{not json",
        headers={**auth(keys["webshop"]), "content-type": "application/json"},
    )
    assert problem(r, 422)["detail"].startswith("invalid request: Invalid JSON")
    r = await http.post(
        f"/v1/returns/{req['return_id']}/choice", json={"resolution": "cash"}, headers=auth(keys["webshop"])
    )
    body = problem(r, 422)
    assert body["detail"].startswith("invalid ChooseResolution: resolution: Input should be 'refund'")


async def test_a_body_over_the_limit_is_413_before_it_is_read(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    big = json.dumps({**toner(), "padding": "x" * 300_000}).encode()
    r = await http.post(
        "/v1/returns", content=big, headers={**auth(keys["webshop"]), "content-type": "application/json"}
    )
    assert "larger than" in problem(r, 413)["detail"]

    async def chunks() -> Any:  # no Content-Length: counted as it streams
        for _ in range(40):
            yield b"x" * 10_000

    r = await http.post(
        "/v1/returns", content=chunks(), headers={**auth(keys["webshop"]), "content-type": "application/json"}
    )
    problem(r, 413)


async def test_a_case_the_apis_keys_cannot_read_is_503_not_an_input_error(
    http: httpx.AsyncClient, keys: dict[str, str], returns: ReturnsClient
) -> None:
    """A case written under payload keys the API lacks (RETURNS_CODEC_KEYS not given to it): a
    setting to fix, so 503 naming the keys; the action is not sent."""
    req = toner()
    rid = req["return_id"]
    config = returns.client.config()
    config["data_converter"] = data_converter(Keyring.parse(Keyring.generate("k-other")))
    keyed = Client(**config)
    handle = await keyed.start_workflow(
        wf.WORKFLOW,
        wf.StartCase(request=parse_request(req)),
        id=returns.case_id(rid),
        task_queue=f"nobody-polls-{rid}",  # no worker: only its start is in the history
    )
    try:
        r = await http.post(f"/v1/returns/{rid}/parcel", headers=auth(keys["warehouse"]))
        body = problem(r, 503)
        assert body["detail"].startswith(f"cannot read return case {rid}")
        assert "RETURNS_CODEC_KEYS" in body["detail"]
    finally:
        await handle.terminate("test done")
