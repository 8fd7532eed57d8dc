"""The PostgreSQL schema as numbered migrations, applied once each under an advisory lock.

Every replica applies them at start; the lock makes two replicas starting at once take turns,
and `schema_migrations` records what is applied, so applying again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


# Ids compare byte by byte (COLLATE "C"), as SQLite compares them: page cursors order the same.
MIGRATIONS = (
    Migration(
        1,
        "keys, assets, actions, content leases",
        """
CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    last_used TIMESTAMPTZ,
    revoked TIMESTAMPTZ
);
CREATE TABLE assets (
    id TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT NOT NULL,
    size BIGINT NOT NULL,
    format TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    origin TEXT NOT NULL DEFAULT 'upload'
);
CREATE TABLE actions (
    id TEXT COLLATE "C" PRIMARY KEY,
    route_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    request JSONB NOT NULL,
    response JSONB,
    error_code TEXT,
    error_message TEXT,
    created TIMESTAMPTZ NOT NULL,
    started TIMESTAMPTZ,
    finished TIMESTAMPTZ,
    input_sha256 TEXT
);
CREATE TABLE content_locks (
    sha256 TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires TIMESTAMPTZ NOT NULL
);
CREATE INDEX assets_by_content ON assets (sha256);
CREATE INDEX assets_by_owner ON assets (owner);
CREATE INDEX assets_by_origin ON assets (origin, created);
CREATE INDEX actions_by_owner ON actions (owner, created DESC, id DESC);
CREATE INDEX actions_unfinished ON actions (status) WHERE status IN ('queued', 'running');
CREATE INDEX actions_finished ON actions (finished) WHERE status NOT IN ('queued', 'running');
""",
    ),
    Migration(
        2,
        "secrets shared by the replicas (page tokens)",
        "CREATE TABLE secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL);",
    ),
    Migration(
        3,
        "the work queue: background actions any replica claims under a lease",
        """
ALTER TABLE actions
    ADD COLUMN background BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN lease_owner TEXT,
    ADD COLUMN lease_expires TIMESTAMPTZ;
CREATE INDEX actions_claimable ON actions (route_id, created)
    WHERE background AND status IN ('queued', 'running');
""",
    ),
    Migration(
        4,
        "the pending bound and fair claims: each owner's queue, held leases and last start",
        """
CREATE INDEX actions_pending_by_owner ON actions (owner)
    WHERE background AND status IN ('queued', 'running');
CREATE INDEX actions_waiting ON actions (route_id, owner, created, id)
    WHERE background AND status IN ('queued', 'running');
CREATE INDEX actions_leased ON actions (route_id, lease_expires)
    WHERE background AND status IN ('queued', 'running');
CREATE INDEX actions_served ON actions (route_id, owner, started) WHERE background;
""",
    ),
)

# pg_advisory_lock's key: any constant of our own ("pixpress" in ASCII, as a bigint).
_LOCK_KEY = 0x7069787072657373

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


async def migrate(url: str) -> int:
    """Apply the migrations `url`'s database lacks, each in its own transaction; the version."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            await conn.execute(_CREATE_LEDGER)
            cursor = await conn.execute("SELECT version FROM schema_migrations")
            applied = {row[0] for row in await cursor.fetchall()}
            for migration in MIGRATIONS:
                if migration.version in applied:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql.encode())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
            cursor = await conn.execute("SELECT max(version) FROM schema_migrations")
            row = await cursor.fetchone()
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return int(row[0]) if row is not None and row[0] is not None else 0
