"""One broken-on-purpose stack for the quick fault tests: its own PostgreSQL, dev server and
worker process (which SIGKILLs itself after every 4th effect it carries out)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests.faults.harness import Stack, stack


@pytest.fixture(scope="session")
async def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    # The harness's own pool reconnects noisily after a PostgreSQL crash; that is the point.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
    async with stack(tmp_path_factory.mktemp("faults")) as s:
        yield s
