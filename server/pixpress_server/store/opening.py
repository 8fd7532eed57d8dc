"""Which store a process uses: PostgreSQL when given a postgresql:// URL, else the SQLite file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixpress_server.store.postgres import PostgresStore
from pixpress_server.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from pathlib import Path

    from pixpress_server.store.base import Store


async def open_store(url: str | None, sqlite_path: Path) -> Store:
    """The store at `url` (migrated), or the SQLite file at `sqlite_path` when `url` is None."""
    if url is None:
        return SqliteStore(sqlite_path)
    return await PostgresStore.connect(url)
