"""`pixpress-server migrate [--store URL]`: apply the store's pending schema migrations; print it.

Servers apply them at start too; this runs them ahead of a rollout, under the same lock.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pixpress_server import settings as settings_module
from pixpress_server.settings import SettingsError
from pixpress_server.store.location import display
from pixpress_server.store.opening import migrate
from pixpress_server.store.sqlite import SqliteStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixpress-server migrate",
        description="Bring the store's schema up to date and print its version.",
    )
    settings_module.add_some_arguments(
        parser,
        {
            "store": "PostgreSQL URL of the shared store (default: the data dir's SQLite file)",
            "data_dir": "the server's data dir, for the SQLite store (default .pixpress)",
        },
    )
    return parser


def main(arguments: Sequence[str]) -> int:
    settings = settings_module.parse(_parser(), arguments)
    if settings.store is None:
        asyncio.run(SqliteStore(settings.database_path).close())  # opening it migrates
        print(f"sqlite store {settings.database_path.resolve()}: up to date")
        return 0
    try:
        version = asyncio.run(migrate(settings.store))
    except SettingsError as error:
        print(f"pixpress-server migrate: {error}", file=sys.stderr)
        return 2
    print(f"postgresql store {display(settings.store)}: schema version {version}")
    return 0
