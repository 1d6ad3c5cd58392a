"""The service as a user runs it: the Temporal dev server, the worker, and starter.py commands."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from tests.conftest import run_script

ROOT = Path(__file__).resolve().parents[1]


async def starter(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await run_script(address, "starter.py", *args)


async def test_webshop_warehouse_and_ops_drive_a_case_with_starter(service: str, tmp_path: Path) -> None:
    request = json.loads((ROOT / "examples" / "toner.json").read_text())
    request["return_id"] = rid = f"R-{uuid.uuid4().hex[:8]}"
    request["order"]["lines"][0]["unit_price"] = "89.00"  # shipped and inspected
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))

    done = await starter(service, "submit", str(path))
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert (view["status"], view["pending"]) == ("awaiting_photos", ["photos", "parcel"])
    assert view["customer_messages"] == ["case_opened"]

    refused = await starter(service, "inspect", rid, "--passed")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "status awaiting_photos" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert (
        await starter(service, "override", rid, "waive_photos", "--reason", "r")
    ).returncode == 2  # no --actor

    steps = [
        ("photos", rid, "L1", "printer-error.jpg"),
        ("parcel", rid),
        ("inspect", rid, "--passed", "--note", "toner defect confirmed"),
    ]
    for step in steps:
        done = await starter(service, *step)
        assert done.returncode == 0, done.stderr
    view = json.loads((await starter(service, "status", rid)).stdout)
    assert (view["status"], view["refunded"]) == ("resolved", "89.00")
    assert view["customer_messages"] == ["case_opened", "case_resolved"]

    again = json.loads((await starter(service, "submit", str(path))).stdout)
    assert again == view  # the same return_id answers with the existing, closed case
    missing = await starter(service, "status", "R-NOPE")
    assert missing.returncode == 2 and "no return case R-NOPE" in missing.stderr


async def test_ops_override_from_the_cli_lands_in_the_case(service: str, tmp_path: Path) -> None:
    request = json.loads((ROOT / "examples" / "toner.json").read_text())
    request["return_id"] = rid = f"R-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    assert (await starter(service, "submit", str(path))).returncode == 0
    done = await starter(
        service, "override", rid, "waive_photos", "--actor", "ops:anna", "--reason", "photo by phone"
    )
    view = json.loads(done.stdout)
    assert view["status"] == "resolved"
    assert [(o["type"], o["actor"], o["reason"]) for o in view["overrides"]] == [
        ("waive_photos", "ops:anna", "photo by phone")
    ]


async def test_the_warehouse_reports_a_repair_with_starter(service: str, tmp_path: Path) -> None:
    """Contract 7.1: `starter.py repaired RETURN_ID [--note TEXT]`, refused unless awaiting repair."""
    request = json.loads((ROOT / "examples" / "toner.json").read_text())
    request["return_id"] = rid = f"R-{uuid.uuid4().hex[:8]}"
    request["order"]["lines"][0].update(category="printers", unit_price="229.00")
    request["items"][0]["photos"] = ["printer-error.jpg"]
    request["preferred_resolution"] = "repair"
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    assert (await starter(service, "submit", str(path))).returncode == 0

    early = await starter(service, "repaired", rid)
    assert early.returncode == 2 and "status awaiting_parcel" in early.stderr
    for step in (("parcel", rid), ("inspect", rid, "--passed")):
        assert (await starter(service, *step)).returncode == 0
    assert json.loads((await starter(service, "status", rid)).stdout)["status"] == "awaiting_repair"

    done = await starter(service, "repaired", rid, "--note", "fuser replaced")
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert (view["status"], view["resolution"], view["refunded"]) == ("resolved", "repair", "0.00")
    assert view["items"][0]["guarantee_until"] == "2029-09-08"  # delivered 2026-09-08, 24 + 12 months
