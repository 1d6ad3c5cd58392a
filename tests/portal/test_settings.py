"""The portal's settings: the link secret made once (owner-only) and read back, `starter.py link`,
and a portal without a secret answering a clear 503 page instead of failing."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

import starter
from api.app import create_app
from portal.links import read_claims
from portal.settings import PortalConfigError, ensure_secret_file, portal_secret
from tests.conftest import ROOT


def test_the_secret_file_is_made_once_and_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETURNS_PORTAL_SECRET", raising=False)
    with pytest.raises(PortalConfigError, match="RETURNS_PORTAL_SECRET"):
        portal_secret(tmp_path)
    path = ensure_secret_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = portal_secret(tmp_path)
    assert len(secret) >= 40
    ensure_secret_file(tmp_path)
    assert portal_secret(tmp_path) == secret  # made once
    monkeypatch.setenv("RETURNS_PORTAL_SECRET", "from-the-env")
    assert portal_secret(tmp_path) == b"from-the-env"


def test_starter_link_prints_a_link_the_portal_reads(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RETURNS_PORTAL_SECRET", "cli-secret")
    code = starter.main(
        ["link", str(ROOT / "examples" / "laptop.json"), "--days", "2", "--base-url", "https://r.example"]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    link = out.out.strip()
    assert link.startswith("https://r.example/r/") and "cli-secret" not in link
    claims = read_claims(link.rsplit("/", 1)[1], b"cli-secret", datetime.now(UTC))
    assert claims.order_json == json.loads((ROOT / "examples" / "laptop.json").read_text())["order"]
    assert starter.main(["link", str(ROOT / "examples" / "absent.json")]) == 2
    assert "absent.json" in capsys.readouterr().err


async def test_without_a_secret_the_portal_says_so_in_a_503_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETURNS_PORTAL_SECRET", raising=False)
    monkeypatch.setenv("RETURNS_DATA_DIR", str(tmp_path))
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as http:
        page = await http.get("/r/abc.def")
    assert page.status_code == 503 and "Dit lukt nu even niet" in page.text
