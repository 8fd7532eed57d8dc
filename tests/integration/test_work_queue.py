"""Background work on one PostgreSQL store is a queue any replica takes from: actions
submitted through a replica without free slots are done by another, and a replica killed
mid-work has its leased action re-run by another once the lease expired, completed once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pixpress import ActionStatus, Client

from tests.integration.server_process import ServerProcess, kill_server, start_server
from tests.integration.test_metrics import METRICS_LISTENING, scrape, value
from tests.postgres_service import PostgresServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = FIXTURES / "jpeg" / "Landscape_1.jpg"
PNG = FIXTURES / "png" / "kodim23.png"
SLOW = {"quality": 100, "effort": 10}  # zopfli: tens of seconds on the twice-as-wide PNG
ROUTE = "pixpress/compress-an-image"
LEASE_SECONDS = 4
WAIT = 300.0


def pixpress_server(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixpress_server.main", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def store_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture(scope="module")
def slow_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kodim23 scaled twice (1.6 MP): long enough at SLOW to be killed mid-work."""
    import pyvips

    image = pyvips.Image.new_from_file(str(PNG)).resize(2)
    path = tmp_path_factory.mktemp("slow") / "slow.png"
    path.write_bytes(bytes(image.pngsave_buffer(compression=1)))
    return path


@pytest.fixture(scope="module")
def key(store_url: str) -> str:
    created = pixpress_server("keys", "create", "--store", store_url, "--owner", "alice")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Replicas a test starts; each stopped (or already killed) after it."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def replica(
    servers: list[ServerProcess], tmp_path: Path, store_url: str, *arguments: str
) -> ServerProcess:
    data_dir = tmp_path / f"replica-{len(servers)}"
    data_dir.mkdir()
    shared = tmp_path / "blobs"  # the shared mount every replica reaches asset bytes on
    server = start_server(
        data_dir,
        [
            *("--workers", "1", "--store", store_url, "--blob-dir", str(shared)),
            *("--lease-seconds", str(LEASE_SECONDS), *arguments),
        ],
    )
    servers.append(server)
    return server


def rows(store_url: str, query: str, *values: object) -> list[tuple[object, ...]]:
    with psycopg.connect(store_url) as conn:
        return conn.execute(query.encode(), values).fetchall()


def wait_until(condition: object, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_work_submitted_through_a_replica_without_free_slots_is_done_by_another(
    servers: list[ServerProcess], tmp_path: Path, store_url: str, key: str
) -> None:
    front = replica(servers, tmp_path, store_url, "--background-slots", "0")
    with Client(front.address, api_key=key) as client:
        route = client.routes.retrieve(ROUTE)
        asset = client.assets.upload(JPEG)
        queued = [
            route.use(body={"quality": 40 + n}, input_asset=asset, wait=False) for n in range(6)
        ]
        time.sleep(3)  # the front's claim loop polled a few times: it took nothing
        assert {client.actions.retrieve(a.id).status for a in queued} == {ActionStatus.QUEUED}
        worker = replica(servers, tmp_path, store_url)
        done = [client.actions.wait(action.id, timeout=WAIT) for action in queued]
    assert [action.status for action in done] == [ActionStatus.SUCCEEDED] * 6, done
    assert [action.request.quality for action in done] == [40 + n for n in range(6)]
    holders = rows(
        store_url,
        "SELECT DISTINCT lease_owner FROM actions WHERE id = ANY(%s)",
        [action.id for action in queued],
    )
    assert len(holders) == 1  # the worker replica, the only one with slots
    outputs = rows(store_url, "SELECT id FROM assets WHERE origin = 'output'")
    named = {action.response.output_asset_id for action in done if action.response}
    assert {row[0] for row in outputs} == named and len(named) == 6
    assert worker.stop() == 0 and front.stop() == 0


def test_a_replica_killed_mid_work_has_its_action_finished_once_by_another(
    servers: list[ServerProcess], tmp_path: Path, store_url: str, key: str, slow_png: Path
) -> None:
    doomed = replica(servers, tmp_path, store_url)
    with Client(doomed.address, api_key=key) as client:
        asset = client.assets.upload(slow_png)
        action = client.routes.retrieve(ROUTE).use(body=SLOW, input_asset=asset, wait=False)
        wait_until(
            lambda: client.actions.retrieve(action.id).status is ActionStatus.RUNNING,
            "the first replica started the slow action",
        )
    ((first_holder,),) = rows(store_url, "SELECT lease_owner FROM actions WHERE id = %s", action.id)
    survivor = replica(servers, tmp_path, store_url, "--metrics-port", "0")
    assert survivor.process.stdout is not None
    metrics = survivor.process.stdout.readline()
    assert metrics.startswith(METRICS_LISTENING), metrics
    time.sleep(LEASE_SECONDS)  # heartbeats keep the lease: the survivor waits
    ((holder, status),) = rows(
        store_url, "SELECT lease_owner, status FROM actions WHERE id = %s", action.id
    )
    assert (holder, status) == (first_holder, "running")  # still mid-work when killed
    killed = time.monotonic()
    kill_server(doomed)
    with Client(survivor.address, api_key=key) as client:
        done = client.actions.wait(action.id, timeout=WAIT)
    took = time.monotonic() - killed
    assert done.status is ActionStatus.SUCCEEDED, done
    ((holder,),) = rows(store_url, "SELECT lease_owner FROM actions WHERE id = %s", action.id)
    assert holder != first_holder
    assert done.response is not None
    outputs = rows(
        store_url,
        "SELECT id FROM assets WHERE origin = 'output' AND created >= %s",
        done.created,
    )
    assert [row[0] for row in outputs] == [done.response.output_asset_id]  # completed once
    samples = scrape(metrics[len(METRICS_LISTENING) :].strip())
    assert value(samples, "pixpress_leases_taken_total") == 1
    assert value(samples, "pixpress_leases_expired_total") == 1
    print(f"killed mid-work: re-run by the survivor and SUCCEEDED {took:.1f} s after the kill")
    assert survivor.stop() == 0


def test_a_replica_stopping_mid_work_hands_its_action_back_to_another(
    servers: list[ServerProcess], tmp_path: Path, store_url: str, key: str, slow_png: Path
) -> None:
    leaving = replica(servers, tmp_path, store_url, "--shutdown-grace", "1")
    with Client(leaving.address, api_key=key) as client:
        asset = client.assets.upload(slow_png)
        action = client.routes.retrieve(ROUTE).use(body=SLOW, input_asset=asset, wait=False)
        wait_until(
            lambda: client.actions.retrieve(action.id).status is ActionStatus.RUNNING,
            "the first replica started the slow action",
        )
    assert leaving.stop() == 0, leaving.log  # SIGTERM: one second of grace, then hand back
    assert "handed back to the queue" in leaving.log
    ((holder, status),) = rows(
        store_url, "SELECT lease_owner, status FROM actions WHERE id = %s", action.id
    )
    assert (holder, status) == (None, "running")  # unfinished, claimable by anyone now
    taker = replica(servers, tmp_path, store_url)
    with Client(taker.address, api_key=key) as client:
        done = client.actions.wait(action.id, timeout=WAIT)
    assert done.status is ActionStatus.SUCCEEDED, done
    assert taker.stop() == 0
