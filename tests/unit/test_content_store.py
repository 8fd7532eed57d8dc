"""The store's asset and retention statements, and the blob protocol in content.py: each test
runs on SQLite and on PostgreSQL (the `store` fixture in conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from pixpress_server.blobs import BlobStore
from pixpress_server.content import Contents
from pixpress_server.errors import TooLarge
from pixpress_server.ids import new_id
from pixpress_server.store.base import Store
from pixpress_server.store.records import (
    ActionErrorData,
    ActionRecord,
    ActionRequestData,
    ActionStatus,
    AssetOrigin,
    AssetRecord,
    utc_now,
)
from pixpress_server.store.sqlite import SqliteStore

ROUTE = "6e8bf803-009e-4ccc-b968-09366eba9fcc"


@pytest.fixture
def contents(store: Store, tmp_path: Path) -> Contents:
    blobs = BlobStore(tmp_path / "blobs")
    blobs.prepare()
    return Contents(store, blobs, max_owner_bytes=100)


def asset(
    owner: str = "alice", size: int = 10, sha: str = "a" * 64, **changes: object
) -> AssetRecord:
    return AssetRecord(
        id=str(changes.pop("id", new_id())),
        owner=owner,
        size=size,
        format="png",
        sha256=sha,
        created=changes.pop("created", utc_now()),  # type: ignore[arg-type]
        origin=changes.pop("origin", AssetOrigin.UPLOAD),  # type: ignore[arg-type]
    )


def action(owner: str = "alice", input_asset_id: str = "", **changes: object) -> ActionRecord:
    return ActionRecord(
        id=new_id(),
        route_id=ROUTE,
        owner=owner,
        status=ActionStatus.QUEUED,
        request=ActionRequestData(quality=80, keep_metadata=False, input_asset_id=input_asset_id),
        created=utc_now(),
    ).replace(**changes)


async def finish(store: Store, action_id: str, when: object = None) -> None:
    moment = utc_now() if when is None else when
    error = ActionErrorData("CANCELLED", "cancelled by the owner")
    assert await store.update_action(action_id, ActionStatus.CANCELLED, moment, error=error)  # type: ignore[arg-type]


def put_file(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    path = tmp_path / f"{new_id()}.part"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


async def test_add_asset_refuses_what_would_pass_the_owners_quota(store: Store) -> None:
    assert await store.add_asset(asset(size=60), max_owner_bytes=100)
    assert not await store.add_asset(asset(size=41), max_owner_bytes=100)
    assert await store.add_asset(asset(size=40), max_owner_bytes=100)
    assert await store.add_asset(asset(owner="bob", size=100), max_owner_bytes=100)
    assert await store.add_asset(asset(size=1000))  # no quota
    assert await store.stored_bytes("alice") == 1100


async def test_references_are_asset_rows_and_unfinished_actions_reading_them(
    store: Store,
) -> None:
    first, second = asset(), asset()
    for row in (first, second):
        await store.add_asset(row)
    reader = action(input_asset_id=first.id)
    await store.add_action(reader)
    await store.add_action(action(owner="bob", input_asset_id=first.id))  # not bob's asset
    assert await store.content_references("a" * 64) == 3
    await store.delete_asset("alice", first.id)
    await store.delete_asset("alice", second.id)
    assert await store.content_references("a" * 64) == 1  # the action pins the bytes
    assert await store.content_references("a" * 64, ignoring_action=reader.id) == 0
    assert await store.all_content() == {"a" * 64}
    await finish(store, reader.id)
    assert await store.content_references("a" * 64) == 0
    assert await store.all_content() == set()


async def test_content_lock_is_a_lease(store: Store) -> None:
    now = utc_now()
    later = now + timedelta(minutes=2)
    assert await store.lock_content("a" * 64, "one", now, later)
    assert not await store.lock_content("a" * 64, "two", now, later)
    assert await store.lock_content("b" * 64, "two", now, later)
    await store.unlock_content("a" * 64, "two")  # not the holder: no effect
    assert not await store.lock_content("a" * 64, "two", now, later)
    assert await store.lock_content("a" * 64, "two", later + timedelta(seconds=1), later)  # expired
    await store.unlock_content("a" * 64, "two")
    assert await store.lock_content("a" * 64, "three", now, later)


async def test_expired_outputs_spare_uploads_young_ones_and_inputs_of_unfinished_actions(
    store: Store,
) -> None:
    old = utc_now() - timedelta(days=2)
    expired = asset(created=old, origin=AssetOrigin.OUTPUT)
    needed = asset(created=old, origin=AssetOrigin.OUTPUT)
    for row in (
        expired,
        needed,
        asset(created=old),  # an upload
        asset(origin=AssetOrigin.OUTPUT),  # young
    ):
        await store.add_asset(row)
    await store.add_action(action(input_asset_id=needed.id))
    cutoff = utc_now() - timedelta(days=1)
    assert [row.id for row in await store.delete_expired_outputs(cutoff, 10)] == [expired.id]
    assert await store.delete_expired_outputs(cutoff, 10) == []
    assert (await store.get_asset("alice", needed.id)) is not None


async def test_finished_actions_are_deleted_by_age_unfinished_never(store: Store) -> None:
    old, young, running = action(), action(), action()
    for row in (old, young, running):
        await store.add_action(row)
    await finish(store, old.id, utc_now() - timedelta(days=2))
    await finish(store, young.id)
    assert await store.delete_finished_actions(utc_now() - timedelta(days=1)) == 1
    assert await store.get_action("alice", old.id) is None
    assert await store.get_action("alice", young.id) is not None
    assert await store.delete_finished_actions(utc_now() + timedelta(days=1)) == 1
    assert await store.get_action("alice", running.id) is not None


_OLD_SCHEMA = """
CREATE TABLE assets (id TEXT PRIMARY KEY, owner TEXT NOT NULL, size INTEGER NOT NULL,
    format TEXT NOT NULL, sha256 TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE actions (id TEXT PRIMARY KEY, route_id TEXT NOT NULL, owner TEXT NOT NULL,
    status TEXT NOT NULL, request TEXT NOT NULL, response TEXT, error_code TEXT,
    error_message TEXT, created INTEGER NOT NULL, started INTEGER, finished INTEGER);
"""


async def test_an_older_database_gains_origins_once(tmp_path: Path) -> None:
    path = tmp_path / "pixpress.db"
    with sqlite3.connect(path) as db:
        db.executescript(_OLD_SCHEMA)
        for asset_id in ("upload-1", "output-1"):
            db.execute(
                "INSERT INTO assets VALUES (?, 'alice', 1, 'png', ?, 0)", (asset_id, "c" * 64)
            )
        response = json.dumps({"output_asset_id": "output-1"})
        db.execute(
            "INSERT INTO actions (id, route_id, owner, status, request, response, created) "
            "VALUES ('a1', ?, 'alice', 'succeeded', '{}', ?, 0)",
            (ROUTE, response),
        )
    for _ in range(2):  # the migration runs once; opening again changes nothing
        await SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        origins = dict(db.execute("SELECT id, origin FROM assets").fetchall())
        columns = [row[1] for row in db.execute("PRAGMA table_info(actions)")]
    assert origins == {"upload-1": "upload", "output-1": "output"}
    assert columns.count("input_sha256") == 1


async def test_a_blob_goes_with_its_last_reference(
    store: Store, contents: Contents, tmp_path: Path
) -> None:
    path, sha = put_file(tmp_path, b"x" * 30)
    blobs = BlobStore(tmp_path / "blobs")
    first = await contents.add("alice", path, sha, 30, "png", AssetOrigin.UPLOAD)
    second = await contents.add("bob", path, sha, 30, "png", AssetOrigin.OUTPUT)
    assert path.exists()  # linked, not moved: the caller still has its file
    assert blobs.path_for(sha).read_bytes() == b"x" * 30
    reader = action(owner="bob", input_asset_id=second.id)
    await store.add_action(reader)
    assert await contents.delete("alice", first.id) == first
    assert await contents.delete("bob", second.id) == second
    assert blobs.exists(sha)  # bob's action still reads it
    assert not await contents.release(sha)
    assert await contents.release(sha, ignoring_action=reader.id)
    assert not blobs.exists(sha)
    assert await contents.delete("bob", second.id) is None


async def test_add_past_the_quota_keeps_nothing(
    store: Store, contents: Contents, tmp_path: Path
) -> None:
    path, sha = put_file(tmp_path, b"y" * 101)
    with pytest.raises(TooLarge, match="--max-storage-per-owner"):
        await contents.add("alice", path, sha, 101, "png", AssetOrigin.UPLOAD)
    assert not BlobStore(tmp_path / "blobs").exists(sha)
    assert await contents.allowance("alice") == 100


async def test_adds_and_deletes_of_the_same_bytes_interleaved_lose_nothing(
    store: Store, contents: Contents, tmp_path: Path
) -> None:
    """Many coroutines add and delete assets of one digest; every surviving row has its blob."""
    contents.max_owner_bytes = None
    path, sha = put_file(tmp_path, b"z" * 10)
    blobs = BlobStore(tmp_path / "blobs")

    async def churn(owner: str) -> None:
        for _ in range(30):
            added = await contents.add(owner, path, sha, 10, "png", AssetOrigin.UPLOAD)
            assert blobs.exists(sha), "a fresh asset row without its blob"
            await asyncio.sleep(0)
            await contents.delete(owner, added.id)

    await asyncio.gather(*(churn(f"owner{i}") for i in range(4)))
    assert not blobs.exists(sha)
    assert await store.content_references(sha) == 0
