"""The store interfaces: one per kind of record, async so a networked database fits later."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from pixpress_server.store.records import (
        ActionCursor,
        ActionErrorData,
        ActionRecord,
        ActionResponseData,
        ActionStatus,
        ApiKeyRecord,
        AssetRecord,
    )


class KeyStore(Protocol):
    async def add_key(self, key: ApiKeyRecord, secret_hash: bytes) -> None: ...

    async def key_with_hash(self, key_id: str) -> tuple[ApiKeyRecord, bytes] | None:
        """The key and its secret's hash, for checking a presented secret."""
        ...

    async def list_keys(self) -> list[ApiKeyRecord]: ...

    async def revoke_key(self, key_id: str, when: datetime) -> bool:
        """False when there is no such unrevoked key."""
        ...

    async def touch_key(self, key_id: str, when: datetime) -> None: ...


class AssetStore(Protocol):
    async def add_asset(self, asset: AssetRecord) -> None: ...

    async def get_asset(self, owner: str, asset_id: str) -> AssetRecord | None: ...

    async def delete_asset(self, owner: str, asset_id: str) -> AssetRecord | None:
        """The deleted row, or None when the owner has no such asset."""
        ...

    async def count_assets_with_content(self, sha256: str) -> int: ...


class ActionStore(Protocol):
    async def add_action(self, action: ActionRecord) -> None: ...

    async def get_action(self, owner: str, action_id: str) -> ActionRecord | None: ...

    async def update_action(
        self,
        action_id: str,
        status: ActionStatus,
        when: datetime,
        *,
        request_size: tuple[int, str] | None = None,
        response: ActionResponseData | None = None,
        error: ActionErrorData | None = None,
    ) -> bool:
        """Move an unfinished action to `status`; False when it had already finished.

        RUNNING sets `started`; a terminal status sets `finished`. `request_size` records
        the input's size and format once known.
        """
        ...

    async def list_actions(
        self,
        owner: str,
        limit: int,
        after: ActionCursor | None = None,
        status: ActionStatus | None = None,
        route_id: str | None = None,
    ) -> list[ActionRecord]:
        """Newest first, strictly after `after` in that order."""
        ...

    async def fail_unfinished_actions(self, message: str, when: datetime) -> int:
        """Mark every QUEUED or RUNNING action FAILED (the server restarted); how many."""
        ...


class Store(KeyStore, AssetStore, ActionStore, Protocol):
    def close(self) -> None: ...
