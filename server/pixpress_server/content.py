"""Assets and their blob files as one protocol: no blob is removed while anything names it.

References to a blob are asset rows and unfinished actions reading it as their input.
Adding one (link the blob, insert the row) and dropping one (count, unlink) both run under
a per-digest lock: a lease row in the store, so other processes and replicas on the same
database respect it, behind an in-process lock so one process's callers wait without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from pixpress_server.errors import TooLarge
from pixpress_server.ids import new_id
from pixpress_server.store.records import AssetOrigin, AssetRecord, utc_now

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from pixpress_server.blobs import Blobs
    from pixpress_server.store.base import AssetStore

T = TypeVar("T")

# Longer than any fsync of a blob; a holder that crashed loses the lock after this.
LOCK_LEASE = timedelta(minutes=2)
_POLL_FIRST, _POLL_MOST = 0.002, 0.05  # seconds between tries while another process holds it


@dataclass(slots=True)
class _Waiting:
    lock: asyncio.Lock
    users: int = 0


class Contents:
    def __init__(self, store: AssetStore, blobs: Blobs, max_owner_bytes: int | None = None) -> None:
        self._store = store
        self._blobs = blobs
        self.max_owner_bytes = max_owner_bytes
        self._locks: dict[str, _Waiting] = {}

    async def add(
        self,
        owner: str,
        finished: Path,
        sha256: str,
        size: int,
        image_format: str,
        origin: AssetOrigin,
    ) -> AssetRecord:
        """Store the file's bytes (left in place for the caller) as a new asset of `owner`.

        Raises:
            TooLarge: the owner's assets would total more than the storage quota.
        """
        asset = AssetRecord(
            id=new_id(),
            owner=owner,
            size=size,
            format=image_format,
            sha256=sha256,
            created=utc_now(),
            origin=origin,
        )
        async with self._locked(sha256):
            await _uninterrupted(self._blobs.adopt, finished, sha256)
            if await self._store.add_asset(asset, self.max_owner_bytes):
                return asset
            await self._remove_unreferenced(sha256, "")
        raise self.quota_exceeded(await self._store.stored_bytes(owner), size)

    async def delete(self, owner: str, asset_id: str) -> AssetRecord | None:
        """Delete the owner's asset; its bytes go unless another asset or action names them."""
        deleted = await self._store.delete_asset(owner, asset_id)
        if deleted is not None:
            await self.release(deleted.sha256)
        return deleted

    async def release(self, sha256: str, ignoring_action: str = "") -> bool:
        """Remove the blob if nothing (but `ignoring_action`) references it; True if removed."""
        async with self._locked(sha256):
            return await self._remove_unreferenced(sha256, ignoring_action)

    async def allowance(self, owner: str) -> int | None:
        """Bytes the owner may still store (None: no quota)."""
        if self.max_owner_bytes is None:
            return None
        return self.max_owner_bytes - await self._store.stored_bytes(owner)

    def quota_exceeded(self, stored: int, adding: int) -> TooLarge:
        return TooLarge(
            f"storage quota exceeded: the owner stores {stored} bytes of assets and {adding} "
            f"more would pass {self.max_owner_bytes} (--max-storage-per-owner)"
        )

    async def _remove_unreferenced(self, sha256: str, ignoring_action: str) -> bool:
        if await self._store.content_references(sha256, ignoring_action) > 0:
            return False
        await _uninterrupted(self._blobs.remove, sha256)
        return True

    @contextlib.asynccontextmanager
    async def _locked(self, sha256: str) -> AsyncIterator[None]:
        waiting = self._locks.get(sha256)
        if waiting is None:
            waiting = self._locks[sha256] = _Waiting(asyncio.Lock())
        waiting.users += 1
        try:
            async with waiting.lock:
                holder = new_id()
                await self._lease(sha256, holder)
                try:
                    yield
                finally:
                    await self._store.unlock_content(sha256, holder)
        finally:
            waiting.users -= 1
            if waiting.users == 0:
                del self._locks[sha256]

    async def _lease(self, sha256: str, holder: str) -> None:
        pause = _POLL_FIRST
        while True:
            now = utc_now()
            if await self._store.lock_content(sha256, holder, now, now + LOCK_LEASE):
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, _POLL_MOST)


async def _uninterrupted(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` in a thread. A cancel is delivered only once it has returned, so
    the lock around it is never released while it still touches the blob."""
    future = asyncio.ensure_future(asyncio.to_thread(function, *args))
    cancelled = False
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        future.exception()  # retrieved: the cancel is what the caller sees
        raise asyncio.CancelledError
    return future.result()
