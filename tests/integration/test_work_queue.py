"""Background work on one PostgreSQL store is a queue any replica takes from: actions
submitted through a replica without free slots are done by another, and a replica killed
mid-work has its leased action re-run by another once the lease expired, completed once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pixpress import Action, ActionStatus, Client

from tests.integration.replicas import rows, start_replicas, stop_all, store_key, wait_until
from tests.integration.server_process import ServerProcess, kill_server, metrics_address
from tests.integration.test_metrics import scrape, value
from tests.postgres_service import PostgresServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = FIXTURES / "jpeg" / "Landscape_1.jpg"
PNG = FIXTURES / "png" / "kodim23.png"
SLOW = {"quality": 100, "effort": 10}  # zopfli: tens of seconds on the twice-as-wide PNG
ROUTE = "pixpress/compress-an-image"
LEASE_SECONDS = 4
WAIT = 300.0


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
    return store_key(store_url, "alice")


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Replicas a test starts; each stopped (or already killed) after it."""
    started: list[ServerProcess] = []
    yield started
    stop_all(started)


def replica(
    servers: list[ServerProcess], tmp_path: Path, store_url: str, *arguments: str
) -> ServerProcess:
    shared = tmp_path / "blobs"  # the shared mount every replica reaches asset bytes on
    (server,) = start_replicas(
        [tmp_path / f"replica-{len(servers)}"],
        store_url,
        *("--lease-seconds", str(LEASE_SECONDS), *arguments),
        blob_dir=shared,
    )
    servers.append(server)
    return server


def running_slow_action(server: ServerProcess, key: str, slow_png: Path) -> Action:
    """The slow PNG uploaded and submitted through `server`, once its replica runs it."""
    with Client(server.address, api_key=key) as client:
        asset = client.assets.upload(slow_png)
        action = client.routes.retrieve(ROUTE).use(body=SLOW, input_asset=asset, wait=False)
        wait_until(
            lambda: client.actions.retrieve(action.id).status is ActionStatus.RUNNING,
            "the first replica started the slow action",
        )
    return action


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
    action = running_slow_action(doomed, key, slow_png)
    ((first_holder,),) = rows(store_url, "SELECT lease_owner FROM actions WHERE id = %s", action.id)
    survivor = replica(servers, tmp_path, store_url, "--metrics-port", "0")
    metrics = metrics_address(survivor)
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
    samples = scrape(metrics)
    assert value(samples, "pixpress_leases_taken_total") == 1
    assert value(samples, "pixpress_leases_expired_total") == 1
    print(f"killed mid-work: re-run by the survivor and SUCCEEDED {took:.1f} s after the kill")
    assert survivor.stop() == 0


def test_a_replica_stopping_mid_work_hands_its_action_back_to_another(
    servers: list[ServerProcess], tmp_path: Path, store_url: str, key: str, slow_png: Path
) -> None:
    leaving = replica(servers, tmp_path, store_url, "--shutdown-grace", "1")
    action = running_slow_action(leaving, key, slow_png)
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
