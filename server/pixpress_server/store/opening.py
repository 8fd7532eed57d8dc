"""Which store a process uses: PostgreSQL when given a postgresql:// URL, else the SQLite file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from psycopg_pool import PoolTimeout

from pixpress_server.settings import SettingsError
from pixpress_server.store import migrations
from pixpress_server.store.location import display
from pixpress_server.store.postgres import PostgresStore
from pixpress_server.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from pathlib import Path

    from pixpress_server.store.base import Store


def unreachable(url: str, error: Exception) -> SettingsError:
    return SettingsError(f"--store {display(url)}: cannot reach the database: {error}")


async def open_store(url: str | None, sqlite_path: Path) -> Store:
    """The store at `url` (migrated), or the SQLite file at `sqlite_path` when `url` is None.

    Raises:
        SettingsError: the database cannot be reached.
    """
    if url is None:
        return SqliteStore(sqlite_path)
    try:
        return await PostgresStore.connect(url)
    except (psycopg.OperationalError, PoolTimeout) as error:
        raise unreachable(url, error) from None


async def migrate(url: str) -> int:
    """Apply the pending migrations of the database at `url`; its schema version.

    Raises:
        SettingsError: the database cannot be reached.
    """
    try:
        return await migrations.migrate(url)
    except psycopg.OperationalError as error:
        raise unreachable(url, error) from None
