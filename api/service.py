"""The API's dependencies from the environment (the worker's settings and names): used by
`python -m api serve` (the compose service); worker.py hands over its own instead."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator

from temporalio.client import Client

from api.app import Deps
from payload.converter import data_converter
from returns_client import ReturnsClient
from returns_client.client import DEFAULT_ADDRESS
from store.db import APP_LOGIN, create_pool, dsn_as
from worker import Settings, keyring_for, master_keys_for


@contextlib.contextmanager
def database_dsns(settings: Settings) -> Iterator[tuple[str, str]]:
    """(service DSN, owner DSN) of the service's database: DATABASE_URL / DATABASE_ADMIN_URL, or
    the embedded PostgreSQL under RETURNS_DATA_DIR/pg (adopting the one a running worker
    started; stopped again on leaving only when this process started it)."""
    if settings.database_url is not None:
        yield settings.database_url, settings.database_admin_url or settings.database_url
        return
    from stack.embedded import start_postgres

    pg = start_postgres(settings.data_dir / "pg")
    try:
        yield dsn_as(pg.dsn, APP_LOGIN), pg.dsn
    finally:
        pg.stop()


@contextlib.asynccontextmanager
async def deps_from_settings(settings: Settings) -> AsyncIterator[Deps]:
    keyring = keyring_for(settings)
    # The relay seals webhook payloads, and stored answers are sealed: the worker's master keys.
    master_keys_for(settings)
    with database_dsns(settings) as (dsn, _):
        pool = await create_pool(dsn, min_size=1, max_size=10)
        try:
            client = await Client.connect(
                settings.temporal_address or os.environ.get("TEMPORAL_ADDRESS", DEFAULT_ADDRESS),
                namespace=settings.namespace,
                data_converter=data_converter(keyring),
            )
            yield Deps(pool=pool, returns=ReturnsClient(client, settings.task_queue), keyring=keyring)
        finally:
            await pool.close()
