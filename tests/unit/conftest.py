"""The store contract fixture: every test taking `store` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pixpress_server.store.base import Store
from pixpress_server.store.postgres import PostgresStore
from pixpress_server.store.sqlite import SqliteStore


@pytest_asyncio.fixture(loop_scope="function", params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, empty store of each kind (PostgreSQL: a new database on the session cluster)."""
    opened: Store
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "pixpress.db")
    else:
        opened = await PostgresStore.connect(request.getfixturevalue("postgres").new_database())
    yield opened
    await opened.close()
