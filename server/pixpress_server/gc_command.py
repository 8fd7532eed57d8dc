"""`pixpress-server gc`: one retention sweep over a data dir, then unreferenced blobs; prints it.

Safe while a server uses the same data dir: it follows the same per-digest locks.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pixpress_server import settings as settings_module
from pixpress_server.blobs import BlobStore, open_blobs
from pixpress_server.content import Contents
from pixpress_server.retention import Retention, collect_unreferenced_blobs, sweep
from pixpress_server.settings import Settings, SettingsError
from pixpress_server.store.opening import open_store

# A blob dir's temporary file untouched this long was left by a crash, not a copy in progress.
LEFTOVER_SECONDS = 3600.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixpress-server gc",
        description="Delete finished actions and stored outputs past their retention, and "
        "blob files nothing references. Uploads are never deleted by age.",
    )
    settings_module.add_some_arguments(
        parser,
        {
            "data_dir": "the server's data dir (default .pixpress)",
            "store": "PostgreSQL URL of the shared store (default: the data dir's SQLite file)",
            "blob_dir": "the directory holding the asset bytes (default: DATA_DIR/blobs)",
            "blob_url": "s3://BUCKET/PREFIX holding the asset bytes, instead of --blob-dir",
            "action_retention": "delete finished actions older than this (e.g. 30d)",
            "output_retention": "delete stored outputs older than this (e.g. 7d)",
        },
    )
    return parser


def main(arguments: Sequence[str]) -> int:
    settings = settings_module.parse(_parser(), arguments)
    if settings.store is None and not settings.database_path.is_file():
        print(f"pixpress-server gc: no pixpress data in {settings.data_dir}", file=sys.stderr)
        return 2
    try:
        lines = asyncio.run(_collect(settings))
    except SettingsError as error:  # the store cannot be reached
        print(f"pixpress-server gc: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


async def _collect(settings: Settings) -> list[str]:
    store = await open_store(settings.store, settings.database_path)
    blobs = open_blobs(settings.blob_url, settings.blob_dir)
    contents = Contents(store, blobs)
    retention = Retention(settings.action_retention, settings.output_retention)
    try:
        report = await sweep(store, contents, retention)
        orphans = await collect_unreferenced_blobs(store, contents, blobs)
    finally:
        await store.close()
    lines = [
        "actions: retention off"
        if retention.actions is None
        else f"deleted {report.actions} finished actions older than {retention.actions:g}s",
        "stored outputs: retention off"
        if retention.outputs is None
        else f"deleted {len(report.outputs)} stored outputs older than {retention.outputs:g}s "
        f"({sum(asset.size for asset in report.outputs)} bytes, "
        f"{report.blobs_removed} blob files removed)",
    ]
    lines.extend(f"  output {asset.id} owner={asset.owner}" for asset in report.outputs)
    lines.append(f"removed {orphans} unreferenced blob files")
    if isinstance(blobs, BlobStore):
        leftovers = await asyncio.to_thread(blobs.remove_leftovers, LEFTOVER_SECONDS)
        lines.append(
            f"removed {leftovers} temporary blob files untouched for {LEFTOVER_SECONDS:g}s"
        )
    return lines
