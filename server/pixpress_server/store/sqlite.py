"""The embedded store: one SQLite file in WAL mode under the data dir.

Statements take tens of microseconds, so they run on the event loop thread. WAL with
synchronous=NORMAL survives a crash of the server process (the restart test kills it);
only an OS crash or power loss can drop the last few commits. Every statement is one
implicit transaction: conditions that must hold together are written as one statement.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pixpress_server.store.dialect import FINISHED_SQL, UNFINISHED_SQL, Dialect
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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created INTEGER NOT NULL,
    last_used INTEGER,
    revoked INTEGER
);
CREATE TABLE IF NOT EXISTS assets (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created INTEGER NOT NULL,
    origin TEXT NOT NULL DEFAULT 'upload'
);
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY,
    route_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT,
    error_code TEXT,
    error_message TEXT,
    created INTEGER NOT NULL,
    started INTEGER,
    finished INTEGER,
    input_sha256 TEXT
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS content_locks (
    sha256 TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires INTEGER NOT NULL
);
"""

# Columns added after the first release, with what fills them in an existing database.
_MIGRATIONS = (
    (
        "assets",
        "origin",
        "ALTER TABLE assets ADD COLUMN origin TEXT NOT NULL DEFAULT 'upload'",
        # Before the column, a stored output was only named by its action's response.
        "UPDATE assets SET origin = 'output' WHERE id IN (SELECT "
        "json_extract(response, '$.output_asset_id') FROM actions WHERE response IS NOT NULL)",
    ),
    ("actions", "input_sha256", "ALTER TABLE actions ADD COLUMN input_sha256 TEXT", ""),
    # The work queue: background rows any replica may claim, and who holds each until when.
    (
        "actions",
        "background",
        "ALTER TABLE actions ADD COLUMN background INTEGER NOT NULL DEFAULT 0",
        "",
    ),
    ("actions", "lease_owner", "ALTER TABLE actions ADD COLUMN lease_owner TEXT", ""),
    ("actions", "lease_expires", "ALTER TABLE actions ADD COLUMN lease_expires INTEGER", ""),
)

_INDEXES = """
CREATE INDEX IF NOT EXISTS assets_by_content ON assets (sha256);
CREATE INDEX IF NOT EXISTS assets_by_owner ON assets (owner);
CREATE INDEX IF NOT EXISTS assets_by_origin ON assets (origin, created);
CREATE INDEX IF NOT EXISTS actions_by_owner ON actions (owner, created DESC, id DESC);
CREATE INDEX IF NOT EXISTS actions_unfinished ON actions (status)
    WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS actions_finished ON actions (finished)
    WHERE status NOT IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS actions_pending_by_owner ON actions (owner)
    WHERE background = 1 AND status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS actions_waiting ON actions (route_id, owner, created, id)
    WHERE background = 1 AND status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS actions_leased ON actions (route_id, lease_expires)
    WHERE background = 1 AND status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS actions_served ON actions (route_id, owner, started)
    WHERE background = 1;
"""

_KEY_OR_STAND_IN = """
SELECT id, owner, secret_hash, created, last_used, revoked, 1 AS known FROM api_keys WHERE id = ?
UNION ALL SELECT ?, '', zeroblob(32), 0, NULL, NULL, 0
ORDER BY known DESC LIMIT 1
"""

# Fair claiming, as in postgres.py: an owner's claimable actions, oldest first, take turns
# counted after the ones it holds already, turn n of every owner before turn n + 1 of any; at
# equal turns the owner served longest ago (never first), then whose oldest waits longest.
# One process claims at a time: an owner's actions past its first `limit` never count.
_FAIR_CLAIM = f"""
WITH RECURSIVE waiting (owner) AS (
    -- the owners with unfinished work, one index probe each (a loose index scan)
    SELECT (SELECT owner FROM actions WHERE background = 1 AND {UNFINISHED_SQL}
        AND route_id = :route ORDER BY owner LIMIT 1)
    UNION ALL
    SELECT (SELECT a.owner FROM actions AS a WHERE a.background = 1 AND a.{UNFINISHED_SQL}
        AND a.route_id = :route AND a.owner > waiting.owner ORDER BY a.owner LIMIT 1)
    FROM waiting WHERE waiting.owner IS NOT NULL
), held AS MATERIALIZED (
    SELECT owner, COUNT(*) AS n FROM actions
    WHERE background = 1 AND {UNFINISHED_SQL} AND route_id = :route AND lease_expires >= :now
    GROUP BY owner
), owners AS MATERIALIZED (
    SELECT waiting.owner, COALESCE(held.n, 0) AS held,
        (SELECT MAX(s.started) FROM actions AS s WHERE s.background = 1
            AND s.route_id = :route AND s.owner = waiting.owner) AS last_started
    FROM waiting LEFT JOIN held ON held.owner = waiting.owner
    WHERE waiting.owner IS NOT NULL
), turns AS MATERIALIZED (
    SELECT a.id, a.owner, a.created, owners.held + ROW_NUMBER() OVER w AS turn,
        owners.last_started, FIRST_VALUE(a.created) OVER w AS oldest
    FROM owners JOIN actions AS a ON a.id IN (
        SELECT b.id FROM actions AS b WHERE b.background = 1 AND b.{UNFINISHED_SQL}
            AND b.route_id = :route AND b.owner = owners.owner
            AND (b.lease_expires IS NULL OR b.lease_expires < :now)
        ORDER BY b.created, b.id LIMIT :limit)
    WINDOW w AS (PARTITION BY a.owner ORDER BY a.created, a.id)
)
SELECT actions.* FROM turns JOIN actions ON actions.id = turns.id
ORDER BY turns.turn, turns.last_started NULLS FIRST, turns.oldest, turns.owner, turns.created,
    turns.id
LIMIT :limit
"""

# Only unfinished rows are read: actions_unfinished or actions_waiting finds them.
_COUNT_BACKGROUND = (
    "SELECT status, COUNT(*) FROM actions "
    f"WHERE background = 1 AND {UNFINISHED_SQL} AND route_id = ? GROUP BY status"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(when: datetime) -> int:
    """Exact integer microseconds since the epoch (times are stored as integers)."""
    return (when - _EPOCH) // _MICROSECOND


def _time(value: int) -> datetime:
    return _EPOCH + value * _MICROSECOND


_SQL = Dialect(
    placeholder="?",
    write_time=_micros,
    read_time=_time,
    write_json=json.dumps,
    read_json=json.loads,
    set_request_size="request = json_set(request, '$.input_size', ?, '$.input_format', ?)",
)


class SqliteStore:
    """Implements KeyStore, AssetStore and ActionStore on one connection."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._db.executescript(_INDEXES)

    def _migrate(self) -> None:
        """Add the columns an older database lacks; running it again changes nothing."""
        for table, column, add, fill in _MIGRATIONS:
            columns = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column in columns:
                continue
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(add)
                if fill:
                    self._db.execute(fill)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    async def close(self) -> None:
        self._db.close()

    async def reachable(self) -> bool:
        """A file this process has open: always."""
        return True

    def on_action_changed(self, listener: Callable[[str | None], None]) -> None:
        """Nothing to hear: only this process changes actions, and its tracker wakes its own
        watchers."""

    async def shared_secret(self, name: str, candidate: bytes) -> bytes:
        self._db.execute(
            "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (name, candidate),
        )
        row = self._db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return bytes(row["value"])

    # keys

    async def add_key(self, key: ApiKeyRecord, secret_hash: bytes) -> None:
        self._db.execute(
            "INSERT INTO api_keys (id, owner, secret_hash, created) VALUES (?, ?, ?, ?)",
            (key.id, key.owner, secret_hash, _micros(key.created)),
        )

    async def key_with_hash(self, key_id: str) -> tuple[ApiKeyRecord, bytes] | None:
        # An unknown id reads and builds a stand-in row, so it costs what a known one does:
        # the time to answer tells nothing about which ids exist.
        row = self._db.execute(_KEY_OR_STAND_IN, (key_id, key_id)).fetchone()
        record, secret_hash = _SQL.key(row), bytes(row["secret_hash"])
        return (record, secret_hash) if row["known"] else None

    async def list_keys(self) -> list[ApiKeyRecord]:
        rows = self._db.execute("SELECT * FROM api_keys ORDER BY created, id").fetchall()
        return [_SQL.key(row) for row in rows]

    async def revoke_key(self, key_id: str, when: datetime) -> bool:
        cursor = self._db.execute(
            "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
            (_micros(when), key_id),
        )
        return cursor.rowcount == 1

    async def touch_key(self, key_id: str, when: datetime) -> None:
        self._db.execute("UPDATE api_keys SET last_used = ? WHERE id = ?", (_micros(when), key_id))

    # assets

    async def add_asset(self, asset: AssetRecord, max_owner_bytes: int | None = None) -> bool:
        # The quota check and the insert are one statement, so concurrent uploads of one
        # owner (on any replica) cannot both slip under it.
        cursor = self._db.execute(
            "INSERT INTO assets (id, owner, size, format, sha256, created, origin) "
            "SELECT ?, ?, ?, ?, ?, ?, ? WHERE ? IS NULL OR "
            "(SELECT COALESCE(SUM(size), 0) FROM assets WHERE owner = ?) + ? <= ?",
            (
                asset.id,
                asset.owner,
                asset.size,
                asset.format,
                asset.sha256,
                _micros(asset.created),
                asset.origin.value,
                max_owner_bytes,
                asset.owner,
                asset.size,
                max_owner_bytes,
            ),
        )
        return cursor.rowcount == 1

    async def stored_bytes(self, owner: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(SUM(size), 0) FROM assets WHERE owner = ?", (owner,)
        ).fetchone()
        return int(row[0])

    async def get_asset(self, owner: str, asset_id: str) -> AssetRecord | None:
        row = self._db.execute(
            "SELECT * FROM assets WHERE id = ? AND owner = ?", (asset_id, owner)
        ).fetchone()
        return None if row is None else _SQL.asset(row)

    async def delete_asset(self, owner: str, asset_id: str) -> AssetRecord | None:
        row = self._db.execute(
            "DELETE FROM assets WHERE id = ? AND owner = ? RETURNING *", (asset_id, owner)
        ).fetchone()
        return None if row is None else _SQL.asset(row)

    async def content_references(self, sha256: str, ignoring_action: str = "") -> int:
        row = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM assets WHERE sha256 = ?) + (SELECT COUNT(*) "
            f"FROM actions WHERE {UNFINISHED_SQL} AND input_sha256 = ? AND id != ?)",
            (sha256, sha256, ignoring_action),
        ).fetchone()
        return int(row[0])

    async def lock_content(self, sha256: str, holder: str, now: datetime, until: datetime) -> bool:
        cursor = self._db.execute(
            "INSERT INTO content_locks (sha256, holder, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (sha256) DO UPDATE SET holder = excluded.holder, "
            "expires = excluded.expires WHERE content_locks.expires < ?",
            (sha256, holder, _micros(until), _micros(now)),
        )
        return cursor.rowcount == 1

    async def unlock_content(self, sha256: str, holder: str) -> None:
        self._db.execute(
            "DELETE FROM content_locks WHERE sha256 = ? AND holder = ?", (sha256, holder)
        )

    async def delete_expired_outputs(self, before: datetime, limit: int) -> list[AssetRecord]:
        rows = self._db.execute(
            "DELETE FROM assets WHERE id IN (SELECT a.id FROM assets AS a "
            "WHERE a.origin = ? AND a.created < ? AND NOT EXISTS (SELECT 1 FROM actions "
            f"WHERE {UNFINISHED_SQL} AND json_extract(request, '$.input_asset_id') = a.id) "
            "LIMIT ?) RETURNING *",
            (AssetOrigin.OUTPUT.value, _micros(before), limit),
        ).fetchall()
        return [_SQL.asset(row) for row in rows]

    async def all_content(self) -> set[str]:
        rows = self._db.execute(
            "SELECT sha256 FROM assets UNION "
            f"SELECT input_sha256 FROM actions WHERE {UNFINISHED_SQL} AND input_sha256 IS NOT NULL"
        ).fetchall()
        return {row[0] for row in rows}

    # actions

    async def add_action(
        self,
        action: ActionRecord,
        lease: Lease | None = None,
        background: bool = False,
        max_owner_pending: int | None = None,
    ) -> bool:
        # An unfinished action references its input asset's content (input_sha256), read
        # in the same statement: deleting the asset then leaves the bytes until it ends. The
        # pending bound is checked in the same statement too, so it holds exactly.
        cursor = self._db.execute(
            "INSERT INTO actions (id, route_id, owner, status, request, created, input_sha256, "
            "background, lease_owner, lease_expires) "
            "SELECT ?, ?, ?, ?, ?, ?, (SELECT sha256 FROM assets WHERE id = ? AND owner = ?), "
            "?, ?, ? WHERE ? IS NULL OR (SELECT COUNT(*) FROM actions WHERE owner = ? "
            f"AND background = 1 AND {UNFINISHED_SQL}) < ?",
            (
                action.id,
                action.route_id,
                action.owner,
                action.status.value,
                json.dumps(action.request.to_dict()),
                _micros(action.created),
                action.request.input_asset_id,
                action.owner,
                int(background),
                None if lease is None else lease.holder,
                None if lease is None else _micros(lease.expires),
                max_owner_pending,
                action.owner,
                max_owner_pending,
            ),
        )
        return cursor.rowcount == 1

    async def claim_actions(
        self, route_id: str, lease: Lease, now: datetime, limit: int
    ) -> list[Claim]:
        # One writer at a time (BEGIN IMMEDIATE): the rows read are the rows leased, in turns.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(
                _FAIR_CLAIM, {"route": route_id, "now": _micros(now), "limit": limit}
            ).fetchall()
            self._db.executemany(
                "UPDATE actions SET lease_owner = ?, lease_expires = ? WHERE id = ?",
                [(lease.holder, _micros(lease.expires), row["id"]) for row in rows],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return [
            Claim(_SQL.action(row), row["lease_owner"] is not None, row["input_sha256"] or "")
            for row in rows
        ]

    async def release_action(self, action_id: str, holder: str) -> bool:
        cursor = self._db.execute(
            "UPDATE actions SET lease_owner = NULL, lease_expires = NULL WHERE id = ? "
            f"AND lease_owner = ? AND background = 1 AND {UNFINISHED_SQL}",
            (action_id, holder),
        )
        return cursor.rowcount == 1

    async def renew_leases(self, lease: Lease) -> int:
        cursor = self._db.execute(
            f"UPDATE actions SET lease_expires = ? WHERE lease_owner = ? AND {UNFINISHED_SQL}",
            (_micros(lease.expires), lease.holder),
        )
        return cursor.rowcount

    async def count_background(self, route_id: str) -> tuple[int, int]:
        rows = self._db.execute(_COUNT_BACKGROUND, (route_id,)).fetchall()
        counts = {str(row[0]): int(row[1]) for row in rows}
        return counts.get("queued", 0), counts.get("running", 0)

    async def get_action(self, owner: str, action_id: str) -> ActionRecord | None:
        row = self._db.execute(
            "SELECT * FROM actions WHERE id = ? AND owner = ?", (action_id, owner)
        ).fetchone()
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
        update = _SQL.update_action(action_id, status, when, request_size, response, error, holder)
        return self._db.execute(*update).rowcount == 1

    async def list_actions(
        self,
        owner: str,
        limit: int,
        after: ActionCursor | None = None,
        status: ActionStatus | None = None,
        route_id: str | None = None,
    ) -> list[ActionRecord]:
        rows = self._db.execute(
            *_SQL.list_actions(owner, limit, after, status, route_id)
        ).fetchall()
        return [_SQL.action(row) for row in rows]

    async def fail_expired_actions(self, message: str, now: datetime) -> int:
        cursor = self._db.execute(
            "UPDATE actions SET status = ?, error_code = 'UNAVAILABLE', error_message = ?, "
            f"finished = ? WHERE {UNFINISHED_SQL} AND background = 0 "
            "AND (lease_expires IS NULL OR lease_expires < ?)",
            (ActionStatus.FAILED.value, message, _micros(now), _micros(now)),
        )
        return cursor.rowcount

    async def delete_finished_actions(self, before: datetime) -> int:
        cursor = self._db.execute(
            f"DELETE FROM actions WHERE {FINISHED_SQL} AND finished < ?",
            (_micros(before),),
        )
        return cursor.rowcount
