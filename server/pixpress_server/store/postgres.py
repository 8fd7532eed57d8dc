"""The shared store: PostgreSQL through psycopg 3 and a connection pool, for several replicas.

Same records and semantics as `sqlite.py`. Each method is one statement in autocommit, except
a quota-checked insert, which serialises one owner's inserts on an advisory transaction lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pixpress_server.errors import StoreUnavailable
from pixpress_server.store import migrations
from pixpress_server.store.dialect import FINISHED_SQL, UNFINISHED_SQL, Dialect, stored_as_is
from pixpress_server.store.notifications import ActionChanges, ChangeListener, notifying
from pixpress_server.store.records import (
    ActionCursor,
    ActionErrorData,
    ActionRecord,
    ActionResponseData,
    ActionStatus,
    ApiKeyRecord,
    AssetOrigin,
    AssetRecord,
    Claim,
    Lease,
)

_SQL = Dialect(
    placeholder="%s",
    write_time=stored_as_is,
    read_time=stored_as_is,
    write_json=Jsonb,
    read_json=stored_as_is,  # psycopg reads jsonb as a dict
    set_request_size="request = request || jsonb_build_object("
    "'input_size', %s::bigint, 'input_format', %s::text)",
)

# An unknown id reads and builds a stand-in row, so it costs what a known one does.
_KEY_OR_STAND_IN = """
SELECT id, owner, secret_hash, created, last_used, revoked, 1 AS known FROM api_keys WHERE id = %s
UNION ALL SELECT %s, '', decode(repeat('00', 32), 'hex'), 'epoch'::timestamptz, NULL, NULL, 0
ORDER BY known DESC LIMIT 1
"""

# Fair claiming: an owner's claimable actions, oldest first, take turns 1, 2, 3... counted
# after the ones it holds already (any replica's unexpired leases), and turn n of every owner
# goes before turn n + 1 of any. At equal turns the owner served longest ago (its last start;
# never first) goes first, then the one whose oldest waits longest. One owner's backlog then
# delays another owner's next action by about one action per slot, not by the backlog.
# Each owner's candidates come from an index, at most `cap` of them (None: all).
_FAIR_CLAIM = f"""
WITH RECURSIVE waiting (owner) AS (
    -- the owners with unfinished work, one index probe each (a loose index scan)
    SELECT (SELECT owner FROM actions WHERE background AND {UNFINISHED_SQL}
        AND route_id = %(route)s ORDER BY owner LIMIT 1)
    UNION ALL
    SELECT (SELECT a.owner FROM actions AS a WHERE a.background AND a.{UNFINISHED_SQL}
        AND a.route_id = %(route)s AND a.owner > waiting.owner ORDER BY a.owner LIMIT 1)
    FROM waiting WHERE waiting.owner IS NOT NULL
), held AS MATERIALIZED (
    SELECT owner, COUNT(*) AS n FROM actions
    WHERE background AND {UNFINISHED_SQL} AND route_id = %(route)s AND lease_expires >= %(now)s
    GROUP BY owner
), owners AS MATERIALIZED (
    SELECT waiting.owner, COALESCE(held.n, 0) AS held,
        (SELECT MAX(s.started) FROM actions AS s WHERE s.background
            AND s.route_id = %(route)s AND s.owner = waiting.owner) AS last_started
    FROM waiting LEFT JOIN held ON held.owner = waiting.owner
    WHERE waiting.owner IS NOT NULL
), turns AS MATERIALIZED (
    SELECT c.id, owners.owner, c.created, owners.held + c.n AS turn, owners.last_started,
        c.oldest
    FROM owners CROSS JOIN LATERAL (
        SELECT a.id, a.created, ROW_NUMBER() OVER w AS n, FIRST_VALUE(a.created) OVER w AS oldest
        FROM actions AS a
        WHERE a.background AND a.{UNFINISHED_SQL} AND a.route_id = %(route)s
            AND a.owner = owners.owner AND (a.lease_expires IS NULL OR a.lease_expires < %(now)s)
        WINDOW w AS (ORDER BY a.created, a.id)
        ORDER BY a.created, a.id LIMIT %(cap)s
    ) AS c
), places AS (
    SELECT id, ROW_NUMBER() OVER (
        ORDER BY turn, last_started NULLS FIRST, oldest, owner, created, id) AS place
    FROM turns
), picked AS (
    SELECT actions.id, actions.lease_owner AS previous, places.place
    FROM actions JOIN places ON places.id = actions.id
    WHERE actions.background AND actions.{UNFINISHED_SQL}
        AND (actions.lease_expires IS NULL OR actions.lease_expires < %(now)s)
    ORDER BY places.place LIMIT %(limit)s FOR UPDATE OF actions SKIP LOCKED
)
UPDATE actions SET lease_owner = %(holder)s, lease_expires = %(expires)s FROM picked
WHERE actions.id = picked.id RETURNING actions.*, picked.previous, picked.place
"""

POOL_SIZE = 10  # connections per replica: statements are short, the event loop is one thread
# A call waits this long for a connection before UNAVAILABLE: the database is down or saturated.
POOL_WAIT = 10.0
RETRY_AFTER = 2.0
# A health probe gives up after this: far less than POOL_WAIT, so health follows an outage soon.
PROBE_TIMEOUT = 3.0
# The probe's connection: a connect and unacknowledged bytes give up after 10 s on their own.
_PROBE_CONNECTION: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 10,
    "tcp_user_timeout": 10_000,
}


class PostgresStore:
    """Implements KeyStore, AssetStore and ActionStore on a pool of connections."""

    def __init__(
        self, pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]], url: str
    ) -> None:
        self._pool = pool
        self._url = url
        # The probe's own connection: a pool busy with requests must not read as a lost database.
        self._probe: psycopg.AsyncConnection[Any] | None = None
        self._probing: asyncio.Task[bool] | None = None
        self.changes = ActionChanges(url)

    @classmethod
    async def connect(cls, url: str, timeout: float = 30.0) -> PostgresStore:
        """Apply pending migrations, then open the pool (raises when the database is down)."""
        await migrations.migrate(url)
        pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
            connection_class=psycopg.AsyncConnection[DictRow],
            timeout=POOL_WAIT,
        )
        await pool.open(wait=True, timeout=timeout)
        return cls(pool, url)

    async def close(self) -> None:
        await self.changes.close()
        await self._drop_probe()  # first: a probe still waiting then ends without a cancel
        if self._probing is not None:
            self._probing.cancel()
            await asyncio.wait([self._probing])
        await self._pool.close()

    async def reachable(self, timeout: float = PROBE_TIMEOUT) -> bool:
        """Whether the database answers a trivial query within `timeout` seconds, on a
        connection of its own (reopened after a failure); never raises."""
        # A query still unanswered is left in flight, never cancelled (psycopg would spend up
        # to 10 s more cancelling it): the next call waits on it rather than sending another.
        if self._probing is None or self._probing.done():
            self._probing = asyncio.get_running_loop().create_task(self._probe_once())
        probing = self._probing
        done, _ = await asyncio.wait([probing], timeout=timeout)
        return bool(done) and probing.result()

    def on_action_changed(self, listener: ChangeListener) -> None:
        """Every replica's status changes, heard on a LISTEN connection of this store's own."""
        self.changes.subscribe(listener)

    async def _probe_once(self) -> bool:
        try:
            if self._probe is None:
                self._probe = await psycopg.AsyncConnection.connect(self._url, **_PROBE_CONNECTION)
            await self._probe.execute(b"SELECT 1")
        except (psycopg.Error, OSError):
            await self._drop_probe()
            return False
        return True

    async def _drop_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            await probe.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
        """A pooled connection; a lost or unreachable database raises StoreUnavailable."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise StoreUnavailable(
                "the store did not answer; try again", repr(error), retry_after=RETRY_AFTER
            ) from None

    async def _one(self, query: str, values: tuple[Any, ...] = ()) -> DictRow | None:
        async with self._connection() as conn:
            cursor = await conn.execute(query.encode(), values)
            return await cursor.fetchone()

    async def _all(
        self, query: str, values: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[DictRow]:
        async with self._connection() as conn:
            cursor = await conn.execute(query.encode(), values)
            return await cursor.fetchall()

    async def _count(self, query: str, values: tuple[Any, ...] = ()) -> int:
        """The rows the statement changed."""
        async with self._connection() as conn:
            cursor = await conn.execute(query.encode(), values)
            return cursor.rowcount

    async def shared_secret(self, name: str, candidate: bytes) -> bytes:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO secrets (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (name, candidate),
            )
            cursor = await conn.execute("SELECT value FROM secrets WHERE name = %s", (name,))
            row = await cursor.fetchone()
        assert row is not None  # inserted above, and never deleted
        return bytes(row["value"])

    # keys

    async def add_key(self, key: ApiKeyRecord, secret_hash: bytes) -> None:
        await self._count(
            "INSERT INTO api_keys (id, owner, secret_hash, created) VALUES (%s, %s, %s, %s)",
            (key.id, key.owner, secret_hash, key.created),
        )

    async def key_with_hash(self, key_id: str) -> tuple[ApiKeyRecord, bytes] | None:
        row = await self._one(_KEY_OR_STAND_IN, (key_id, key_id))
        assert row is not None  # the stand-in row is always there
        record, secret_hash = _SQL.key(row), bytes(row["secret_hash"])
        return (record, secret_hash) if row["known"] else None

    async def list_keys(self) -> list[ApiKeyRecord]:
        return [
            _SQL.key(row) for row in await self._all("SELECT * FROM api_keys ORDER BY created, id")
        ]

    async def revoke_key(self, key_id: str, when: datetime) -> bool:
        return (
            await self._count(
                "UPDATE api_keys SET revoked = %s WHERE id = %s AND revoked IS NULL",
                (when, key_id),
            )
            == 1
        )

    async def touch_key(self, key_id: str, when: datetime) -> None:
        await self._count("UPDATE api_keys SET last_used = %s WHERE id = %s", (when, key_id))

    # assets

    async def add_asset(self, asset: AssetRecord, max_owner_bytes: int | None = None) -> bool:
        values = (
            asset.id,
            asset.owner,
            asset.size,
            asset.format,
            asset.sha256,
            asset.created,
            asset.origin.value,
        )
        insert = (
            "INSERT INTO assets (id, owner, size, format, sha256, created, origin) "
            "SELECT %s, %s, %s, %s, %s, %s, %s"
        )
        if max_owner_bytes is None:
            return await self._count(insert, values) == 1
        async with self._connection() as conn, conn.transaction():
            # Read committed sees only committed sums: without the lock, two uploads of one
            # owner (on any replica) could both slip under the quota.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("quota:" + asset.owner,)
            )
            cursor = await conn.execute(
                insert + " WHERE (SELECT COALESCE(SUM(size), 0) FROM assets WHERE owner = %s) "
                "+ %s <= %s",
                (*values, asset.owner, asset.size, max_owner_bytes),
            )
            return cursor.rowcount == 1

    async def stored_bytes(self, owner: str) -> int:
        row = await self._one(
            "SELECT COALESCE(SUM(size), 0) AS total FROM assets WHERE owner = %s", (owner,)
        )
        return 0 if row is None else int(row["total"])

    async def get_asset(self, owner: str, asset_id: str) -> AssetRecord | None:
        row = await self._one(
            "SELECT * FROM assets WHERE id = %s AND owner = %s", (asset_id, owner)
        )
        return None if row is None else _SQL.asset(row)

    async def delete_asset(self, owner: str, asset_id: str) -> AssetRecord | None:
        row = await self._one(
            "DELETE FROM assets WHERE id = %s AND owner = %s RETURNING *", (asset_id, owner)
        )
        return None if row is None else _SQL.asset(row)

    async def content_references(self, sha256: str, ignoring_action: str = "") -> int:
        row = await self._one(
            "SELECT (SELECT COUNT(*) FROM assets WHERE sha256 = %s) + (SELECT COUNT(*) "
            f"FROM actions WHERE {UNFINISHED_SQL} AND input_sha256 = %s AND id != %s) AS total",
            (sha256, sha256, ignoring_action),
        )
        return 0 if row is None else int(row["total"])

    async def lock_content(self, sha256: str, holder: str, now: datetime, until: datetime) -> bool:
        return (
            await self._count(
                "INSERT INTO content_locks (sha256, holder, expires) VALUES (%s, %s, %s) "
                "ON CONFLICT (sha256) DO UPDATE SET holder = excluded.holder, "
                "expires = excluded.expires WHERE content_locks.expires < %s",
                (sha256, holder, until, now),
            )
            == 1
        )

    async def unlock_content(self, sha256: str, holder: str) -> None:
        await self._count(
            "DELETE FROM content_locks WHERE sha256 = %s AND holder = %s", (sha256, holder)
        )

    async def delete_expired_outputs(self, before: datetime, limit: int) -> list[AssetRecord]:
        rows = await self._all(
            "DELETE FROM assets WHERE id IN (SELECT a.id FROM assets AS a "
            "WHERE a.origin = %s AND a.created < %s AND NOT EXISTS (SELECT 1 FROM actions "
            f"WHERE {UNFINISHED_SQL} AND request->>'input_asset_id' = a.id) "
            "LIMIT %s) RETURNING *",
            (AssetOrigin.OUTPUT.value, before, limit),
        )
        return [_SQL.asset(row) for row in rows]

    async def all_content(self) -> set[str]:
        rows = await self._all(
            "SELECT sha256 FROM assets UNION SELECT input_sha256 FROM actions "
            f"WHERE {UNFINISHED_SQL} AND input_sha256 IS NOT NULL"
        )
        return {row["sha256"] for row in rows}

    # actions

    async def add_action(
        self,
        action: ActionRecord,
        lease: Lease | None = None,
        background: bool = False,
        max_owner_pending: int | None = None,
    ) -> bool:
        # input_sha256 is read in the same statement: deleting the asset then leaves the
        # bytes until the action ends.
        insert = (
            "INSERT INTO actions (id, route_id, owner, status, request, created, input_sha256, "
            "background, lease_owner, lease_expires) SELECT %s, %s, %s, %s, %s, %s, "
            "(SELECT sha256 FROM assets WHERE id = %s AND owner = %s), %s, %s, %s"
        )
        values = (
            action.id,
            action.route_id,
            action.owner,
            action.status.value,
            Jsonb(action.request.to_dict()),
            action.created,
            action.request.input_asset_id,
            action.owner,
            background,
            None if lease is None else lease.holder,
            None if lease is None else lease.expires,
        )
        if max_owner_pending is None:
            return await self._count(insert, values) == 1
        async with self._connection() as conn, conn.transaction():
            # As for the storage quota: read committed counts only committed rows, so without
            # the lock two submits of one owner (on any replica) could both pass the count.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                ("pending:" + action.owner,),
            )
            cursor = await conn.execute(
                insert + " WHERE (SELECT COUNT(*) FROM actions WHERE owner = %s "
                f"AND background AND {UNFINISHED_SQL}) < %s",
                (*values, action.owner, max_owner_pending),
            )
            return cursor.rowcount == 1

    async def claim_actions(
        self, route_id: str, lease: Lease, now: datetime, limit: int
    ) -> list[Claim]:
        # A window can't share a SELECT with FOR UPDATE: the turns are numbered in CTEs, then
        # rows are locked in turn order. SKIP LOCKED: replicas claiming at once lock different
        # rows, none waits; a row another replica claimed meanwhile fails the re-checked lease
        # condition and is skipped. The first try reads `limit` candidates per owner, which
        # fill the claim unless rows were skipped (or there are fewer): then all are read.
        values = {"route": route_id, "now": now, "limit": limit, "cap": limit}
        values |= {"holder": lease.holder, "expires": lease.expires}
        rows = sorted(await self._all(_FAIR_CLAIM, values), key=lambda row: row["place"])
        if len(rows) < limit:
            values |= {"cap": None, "limit": limit - len(rows)}
            rows += sorted(await self._all(_FAIR_CLAIM, values), key=lambda row: row["place"])
        return [
            Claim(_SQL.action(row), row["previous"] is not None, row["input_sha256"] or "")
            for row in rows
        ]

    async def release_action(self, action_id: str, holder: str) -> bool:
        changed = await self._count(
            "UPDATE actions SET lease_owner = NULL, lease_expires = NULL WHERE id = %s "
            f"AND lease_owner = %s AND background AND {UNFINISHED_SQL}",
            (action_id, holder),
        )
        return changed == 1

    async def renew_leases(self, lease: Lease) -> int:
        return await self._count(
            f"UPDATE actions SET lease_expires = %s WHERE lease_owner = %s AND {UNFINISHED_SQL}",
            (lease.expires, lease.holder),
        )

    async def count_background(self, route_id: str) -> tuple[int, int]:
        # Only unfinished rows are read: the partial index actions_claimable holds just them.
        rows = await self._all(
            "SELECT status, COUNT(*) AS n FROM actions "
            f"WHERE background AND {UNFINISHED_SQL} AND route_id = %s GROUP BY status",
            (route_id,),
        )
        counts = {row["status"]: int(row["n"]) for row in rows}
        return counts.get("queued", 0), counts.get("running", 0)

    async def get_action(self, owner: str, action_id: str) -> ActionRecord | None:
        row = await self._one(
            "SELECT * FROM actions WHERE id = %s AND owner = %s", (action_id, owner)
        )
        return None if row is None else _SQL.action(row)

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
        update, values = _SQL.update_action(
            action_id, status, when, request_size, response, error, holder
        )
        # Read committed re-checks the status of a row another replica just changed: of two
        # concurrent finishes, one matches.
        return await self._count(notifying(update), values) == 1

    async def list_actions(
        self,
        owner: str,
        limit: int,
        after: ActionCursor | None = None,
        status: ActionStatus | None = None,
        route_id: str | None = None,
    ) -> list[ActionRecord]:
        rows = await self._all(*_SQL.list_actions(owner, limit, after, status, route_id))
        return [_SQL.action(row) for row in rows]

    async def fail_expired_actions(self, message: str, now: datetime) -> int:
        return await self._count(
            notifying(
                "UPDATE actions SET status = %s, error_code = 'UNAVAILABLE', error_message = %s, "
                f"finished = %s WHERE {UNFINISHED_SQL} AND NOT background "
                "AND (lease_expires IS NULL OR lease_expires < %s)"
            ),
            (ActionStatus.FAILED.value, message, now, now),
        )

    async def delete_finished_actions(self, before: datetime) -> int:
        return await self._count(
            f"DELETE FROM actions WHERE {FINISHED_SQL} AND finished < %s", (before,)
        )
