"""The store interfaces: one per kind of record, async so a networked database fits later."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from pixpress_server.store.records import (
        ActionCursor,
        ActionErrorData,
        ActionRecord,
        ActionResponseData,
        ActionStatus,
        ApiKeyRecord,
        AssetRecord,
        Claim,
        Lease,
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
    async def add_asset(self, asset: AssetRecord, max_owner_bytes: int | None = None) -> bool:
        """Insert the row; False (nothing inserted) when the owner's assets would then
        total more than `max_owner_bytes`."""
        ...

    async def get_asset(self, owner: str, asset_id: str) -> AssetRecord | None: ...

    async def delete_asset(self, owner: str, asset_id: str) -> AssetRecord | None:
        """The deleted row, or None when the owner has no such asset."""
        ...

    async def stored_bytes(self, owner: str) -> int:
        """The total size of the owner's assets."""
        ...

    async def content_references(self, sha256: str, ignoring_action: str = "") -> int:
        """Asset rows naming `sha256`, plus unfinished actions reading it as their input
        (other than `ignoring_action`)."""
        ...

    async def all_content(self) -> set[str]:
        """Every sha256 that an asset row or an unfinished action references."""
        ...

    async def lock_content(self, sha256: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take the lease on `sha256` until `until`, unless another holder has it unexpired."""
        ...

    async def unlock_content(self, sha256: str, holder: str) -> None: ...

    async def delete_expired_outputs(self, before: datetime, limit: int) -> list[AssetRecord]:
        """Delete up to `limit` stored outputs created before `before` that no unfinished
        action names as its input; the deleted rows."""
        ...


class ActionStore(Protocol):
    async def add_action(
        self,
        action: ActionRecord,
        lease: Lease | None = None,
        background: bool = False,
        max_owner_pending: int | None = None,
    ) -> bool:
        """Insert the row, held under `lease` (work done by the caller's replica), or, for
        `background` work, queued for whichever replica claims it. False (nothing inserted)
        when the owner already has `max_owner_pending` unfinished background actions: checked
        and inserted atomically, so concurrent inserts on any replica never overshoot it."""
        ...

    async def claim_actions(
        self, route_id: str, lease: Lease, now: datetime, limit: int
    ) -> list[Claim]:
        """Lease up to `limit` of the route's background actions: queued ones nobody holds,
        and unfinished ones whose lease expired before `now`. Owners take turns, each oldest
        first: turn n of an owner is its n-th claimable action after those it holds already
        under unexpired leases; lower turns first, then the owner whose oldest waits longest.
        Returned in that order. Two replicas claiming at once never get the same action."""
        ...

    async def release_action(self, action_id: str, holder: str) -> bool:
        """Give a background action `holder` holds back to the queue, unfinished, for any
        replica to claim now (a replica shutting down); False when not held by `holder`."""
        ...

    async def renew_leases(self, lease: Lease) -> int:
        """Extend every unfinished action `lease.holder` holds to `lease.expires`; how many."""
        ...

    async def count_background(self, route_id: str) -> tuple[int, int]:
        """The route's unfinished background actions, every replica's: (queued, running).
        Queued counts those claimed but not yet started too."""
        ...

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
        holder: str = "",
    ) -> bool:
        """Move an unfinished action to `status`; False when it had already finished, or
        when `holder` is given and no longer holds its lease.

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

    async def fail_expired_actions(self, message: str, now: datetime) -> int:
        """Mark FAILED the unfinished actions that no replica can re-run (not background)
        whose lease expired before `now` or that have none (older rows); how many."""
        ...

    async def delete_finished_actions(self, before: datetime) -> int:
        """Delete the actions that finished before `before`; how many."""
        ...

    def on_action_changed(self, listener: Callable[[str | None], None]) -> None:
        """Call `listener(action_id)` soon after any process changes that action's status,
        and `listener(None)` when changes may have gone unheard (a lost connection): every
        watcher re-reads. Called from a running event loop."""
        ...


class SecretStore(Protocol):
    async def shared_secret(self, name: str, candidate: bytes) -> bytes:
        """The secret stored under `name`, storing `candidate` first when there is none: every
        process on one store signs with the same secret."""
        ...


class Store(KeyStore, AssetStore, ActionStore, SecretStore, Protocol):
    async def close(self) -> None: ...

    async def reachable(self) -> bool:
        """Whether the store answers now, within a few seconds; never raises (health)."""
        ...
