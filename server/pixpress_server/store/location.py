"""The `--store` option of the subcommands, and how they name the store they opened."""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlsplit

from pixpress_server.settings import env_name, store_url


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        type=store_url,
        default=None,
        metavar="URL",
        help=f"PostgreSQL URL of the shared store [env {env_name('store')}; "
        "default: the SQLite file in the data dir]",
    )


def chosen_store(arguments: argparse.Namespace) -> str | None:
    """--store, else $PIXPRESS_STORE, else None (the data dir's SQLite file)."""
    given: str | None = arguments.store
    if given is None and (from_env := os.environ.get(env_name("store"))):
        try:
            given = store_url(from_env)
        except ValueError as error:  # a usage error, as a bad --store is, not a traceback
            print(
                f"pixpress-server: {env_name('store')}: invalid value {from_env!r}: {error}",
                file=sys.stderr,
            )
            raise SystemExit(2) from None
    return given


def display(url: str) -> str:
    """The URL without its user and password, to print."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
