"""Retention logic on a real store (SQLite and PostgreSQL): the sweep interval, one sweep,
unreferenced blobs."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from pixpress_server.blobs import BlobStore
from pixpress_server.content import Contents
from pixpress_server.retention import (
    MAX_SWEEP_INTERVAL,
    Retention,
    collect_unreferenced_blobs,
    sweep,
)
from pixpress_server.store.base import Store
from pixpress_server.store.records import AssetOrigin, utc_now

from tests.unit.test_content_store import action, finish


@pytest.fixture
def parts(store: Store, tmp_path: Path) -> tuple[Store, BlobStore, Contents]:
    blobs = BlobStore(tmp_path / "blobs")
    blobs.prepare()
    return store, blobs, Contents(store, blobs)


@pytest.mark.parametrize(
    ("actions", "outputs", "interval", "enabled"),
    [
        (None, None, MAX_SWEEP_INTERVAL, False),
        (4.0, None, 2.0, True),
        (None, 30 * 86400.0, MAX_SWEEP_INTERVAL, True),
        (60.0, 10.0, 5.0, True),
    ],
)
def test_sweep_interval_is_half_the_shortest_retention_at_most_ten_minutes(
    actions: float | None, outputs: float | None, interval: float, enabled: bool
) -> None:
    retention = Retention(actions, outputs)
    assert retention.interval == interval
    assert retention.enabled is enabled


async def stored(contents: Contents, tmp_path: Path, data: bytes, origin: AssetOrigin) -> str:
    path = tmp_path / f"{origin}-{len(data)}.part"
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    return (await contents.add("alice", path, sha, len(data), "png", origin)).id


async def test_one_sweep_deletes_what_is_past_retention_and_nothing_else(
    parts: tuple[Store, BlobStore, Contents], tmp_path: Path
) -> None:
    store, blobs, contents = parts
    upload = await stored(contents, tmp_path, b"u" * 10, AssetOrigin.UPLOAD)
    output = await stored(contents, tmp_path, b"o" * 10, AssetOrigin.OUTPUT)
    shared = await stored(contents, tmp_path, b"u" * 10, AssetOrigin.OUTPUT)  # an upload's bytes
    done, running = action(), action()
    for row in (done, running):
        await store.add_action(row)
    await finish(store, done.id)

    later = utc_now() + timedelta(hours=2)
    assert (await sweep(store, contents, Retention(None, None), later)).empty
    report = await sweep(store, contents, Retention(3600, 3600), later)
    assert report.actions == 1
    assert {asset.id for asset in report.outputs} == {output, shared}
    assert report.blobs_removed == 1  # the shared bytes stay with the upload
    assert await store.get_asset("alice", upload) is not None
    assert await store.get_action("alice", running.id) is not None
    assert blobs.exists(hashlib.sha256(b"u" * 10).hexdigest())
    assert not blobs.exists(hashlib.sha256(b"o" * 10).hexdigest())


async def test_unreferenced_blobs_are_collected(
    parts: tuple[Store, BlobStore, Contents], tmp_path: Path
) -> None:
    store, blobs, contents = parts
    kept = await stored(contents, tmp_path, b"k" * 10, AssetOrigin.UPLOAD)
    stray = tmp_path / "stray"
    stray.write_bytes(b"s")
    blobs.adopt(stray, hashlib.sha256(b"s").hexdigest())  # a blob no row names
    assert await collect_unreferenced_blobs(store, contents, blobs) == 1
    assert set(blobs.stored()) == {(await store.get_asset("alice", kept)).sha256}  # type: ignore[union-attr]
