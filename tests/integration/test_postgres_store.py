"""Servers on one PostgreSQL store: `migrate` run twice at once, a key made once with
`keys create --store` working on two replicas, and actions one replica records seen by the other."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import psycopg
import pytest
from pixpress import ActionStatus, Client
from pixpress.v1 import actions_pb2
from pixpress_server.auth import keys
from pixpress_server.errors import StoreUnavailable
from pixpress_server.store import migrations
from pixpress_server.store.migrations import MIGRATIONS
from pixpress_server.store.postgres import POOL_WAIT, PostgresStore

from tests.integration.replicas import pixpress_server, start_replicas, stop_all
from tests.integration.server_process import ServerProcess, Stubs
from tests.postgres_service import PostgresServer, start_postgres

JPEG = Path(__file__).resolve().parents[1] / "fixtures" / "jpeg" / "Landscape_1.jpg"
LATEST = MIGRATIONS[-1].version


def test_two_migrates_at_once_apply_each_migration_once(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: pixpress_server("migrate", "--store", url), range(4)))
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip().endswith(f"schema version {LATEST}")
    with psycopg.connect(url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [migration.version for migration in MIGRATIONS]
    again = pixpress_server("migrate", "--store", url)
    assert again.returncode == 0 and f"schema version {LATEST}" in again.stdout


def test_an_unreachable_store_stops_every_command_with_its_address(
    tmp_path: Path,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"postgresql://postgres:secret@127.0.0.1:{sock.getsockname()[1]}/pixpress"
    for command in (
        ["migrate", "--store", url],
        ["keys", "list", "--store", url],
        ["gc", "--store", url],
        ["--store", url, "--port", "0", "--http-port", "off", "--data-dir", str(tmp_path)],
    ):
        run = pixpress_server(*command)
        assert run.returncode == 2, (command, run.stderr)
        assert "cannot reach the database" in run.stderr, (command, run.stderr)
        assert "secret" not in run.stderr  # the password is never printed


async def test_eight_migrations_at_once_in_one_process_take_turns(postgres: PostgresServer) -> None:
    """Tighter timing than processes starting: every migrate connects within milliseconds."""
    url = postgres.new_database()
    assert await asyncio.gather(*(migrations.migrate(url) for _ in range(8))) == [LATEST] * 8
    with psycopg.connect(url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [migration.version for migration in MIGRATIONS]


@pytest.fixture(scope="module")
def store_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture(scope="module")
def replicas(
    store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    """Two servers (each its own data dir) on the one store; started one after the other."""
    data_dirs = [tmp_path_factory.mktemp(name) for name in ("replica-a", "replica-b")]
    started = start_replicas(data_dirs, store_url)
    yield started
    assert stop_all(started) == [0, 0], [server.log for server in started]


@pytest.fixture(scope="module")
def key(store_url: str) -> str:
    created = pixpress_server("keys", "create", "--store", store_url, "--owner", "alice")
    assert created.returncode == 0, created.stderr
    assert "store postgresql://127.0.0.1" in created.stderr  # names the store, not a data dir
    return created.stdout.strip()


def test_a_key_made_once_compresses_on_every_replica_and_actions_are_shared(
    replicas: list[ServerProcess], key: str, store_url: str
) -> None:
    first, second = replicas
    with Client(first.address, api_key=key) as client:
        result = client.compress(JPEG, quality=70)
    assert result.output_size < result.input_size
    with Client(second.address, api_key=key) as client:
        again = client.compress(JPEG, quality=70)
        seen = client.actions.retrieve(result.action_id)  # recorded by the first replica
    assert seen.status is ActionStatus.SUCCEEDED
    assert seen.response is not None and seen.response.output_size == result.output_size
    with psycopg.connect(store_url) as conn:
        rows = conn.execute(
            "SELECT id, status FROM actions WHERE owner = 'alice' ORDER BY created"
        ).fetchall()
        last_used = conn.execute("SELECT last_used FROM api_keys").fetchone()
    assert rows == [(result.action_id, "succeeded"), (again.action_id, "succeeded")]
    assert last_used is not None and last_used[0] is not None


def test_a_page_token_from_one_replica_reads_the_next_page_on_another(
    replicas: list[ServerProcess], key: str
) -> None:
    first, second = replicas
    pages: list[tuple[list[str], str]] = []
    token = ""
    for server in (first, second):
        with grpc.insecure_channel(server.address) as channel:
            stubs = Stubs(channel, key)
            page = stubs.actions.ListActions(
                actions_pb2.ListActionsRequest(page_size=1, page_token=token),
                metadata=stubs.metadata,
                timeout=60,
            )
        token = page.next_page_token
        pages.append(([action.id for action in page.actions], token))
    (newest, token), (older, last_token) = pages  # two actions (the test above)
    assert len(newest) == len(older) == 1 and newest != older
    assert token and last_token == ""


def test_keys_list_and_revoke_through_store_reach_every_replica(
    replicas: list[ServerProcess], key: str, store_url: str
) -> None:
    listed = pixpress_server("keys", "list", "--store", store_url)
    assert listed.returncode == 0 and "alice" in listed.stdout
    other = pixpress_server("keys", "create", "--store", store_url, "--owner", "bob")
    parsed = keys.parse(other.stdout.strip())
    assert parsed is not None, other.stderr
    key_id = parsed.key_id
    assert pixpress_server("keys", "revoke", key_id, "--store", store_url).returncode == 0
    for server in replicas:
        with grpc.insecure_channel(server.address) as channel:
            stubs = Stubs(channel, other.stdout.strip())
            with pytest.raises(grpc.RpcError) as raised:
                stubs.actions.ListActions(
                    actions_pb2.ListActionsRequest(), metadata=stubs.metadata, timeout=60
                )
        assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_a_store_whose_database_went_away_answers_unavailable_soon() -> None:
    """Its own cluster, stopped mid-use: calls fail fast as UNAVAILABLE with a retry hint."""
    cluster = start_postgres()
    try:
        store = await PostgresStore.connect(cluster.new_database())
        assert await store.list_keys() == []
        assert await store.reachable()
    finally:
        cluster.stop()
    try:
        started = time.monotonic()
        for _ in range(2):  # the pooled connection is broken, then none can be made
            with pytest.raises(StoreUnavailable) as raised:
                await store.list_keys()
            assert raised.value.retry_after
        assert not await store.reachable()
        assert time.monotonic() - started < 4 * POOL_WAIT + 30
    finally:
        await store.close()
