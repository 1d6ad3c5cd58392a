"""The portal served for real: uvicorn on a free port, the `returns` fixture's worker and test
server, the workflow tests' database, a photo folder of the test's own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import Deps, create_app
from api.server import serving
from mail.shop import ShopSettings
from photos.folder import FolderPhotoStore
from policies import load_policy
from portal.links import make_link
from portal.settings import Brand, PortalSettings
from returns_client import ReturnsClient
from tests.conftest import ROOT

SECRET = b"portal-routes-secret"


@dataclass
class Portal:
    url: str
    photos: Path
    http: httpx.AsyncClient
    returns: ReturnsClient

    def link(self, order: dict[str, Any], *, days: int = 30, locale: str | None = None) -> str:
        return make_link(order, SECRET, timedelta(days=days), "", locale=locale)


def recent_order(example: str, order_id: str, delivered_days_ago: int = 3) -> dict[str, Any]:
    """An example's order as if delivered a few days ago (inside every window), under its own id."""
    order: dict[str, Any] = json.loads((ROOT / "examples" / example).read_text())["order"]
    now = datetime.now(UTC)
    order["order_id"] = order_id
    order["placed_at"] = (now - timedelta(days=delivered_days_ago + 1)).isoformat()
    order["delivered_at"] = (now - timedelta(days=delivered_days_ago)).isoformat()
    return order


@pytest.fixture(scope="session")
async def portal(
    returns: ReturnsClient, session_pool: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Portal]:
    photos = tmp_path_factory.mktemp("photos")
    app = create_app(Deps(pool=session_pool, returns=returns))
    shop = ShopSettings()
    app.state.portal = PortalSettings(
        secret=SECRET,
        shop=shop,
        brand=Brand(name=shop.name, logo_url=None, color="#1d4ed8"),
        photos=FolderPhotoStore(photos),
        policy=load_policy(),
        max_photo_bytes=1024 * 1024,
    )
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=120) as http:
        yield Portal(url, photos, http, returns)
